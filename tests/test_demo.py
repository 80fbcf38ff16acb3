"""The whole-case demo (`stimbox demo`, `make demo`) run once into a
folder, its outcome checked against the demo scenario and the model's own
rules, from the files it wrote: the breached screw found lowest and
flagged, the SCS lead's side, MEP and SSEP alarms from the cord's ischaemia
and none before it, and every file a user is told about.

One runtime, the PyPI Unix port: the firmware's paths (deploy, recording,
searches, alarms, free-run) are tested on both runtimes by their own tests;
this one is about the demo's case and what it leaves behind, and runs the
whole case once (about a minute) for all of its checks."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mne
import pytest
from mpy import executable
from simunit import scenarios
from simunit.physiology import Physiology
from stimbox.cli import app
from stimbox.cli.exitcodes import HOST_ERROR
from stimbox.store import Session, load_session

# The case runs in the module's fixture, within the first test's time.
pytestmark = pytest.mark.timeout(400)

SCENARIO = scenarios.load("demo_case")
INSULT_S = min(e.start_s for e in SCENARIO.effects)
SCREWS = Physiology(SCENARIO.screws, SCENARIO.scs, SCENARIO.dwave).screw_truth()
BREACHED = sorted(name for name, s in SCREWS.items() if s["breached"])


@pytest.fixture(scope="module")
def cli() -> Callable[[list[str]], int]:
    """stimbox's main(), as the command line runs it."""
    return app.main


@pytest.fixture(scope="module")
def demo(cli: Callable[[list[str]], int], tmp_path_factory: pytest.TempPathFactory
         ) -> tuple[Path, dict[str, Any]]:
    """`stimbox demo --out DIR --json`: the folder and the JSON summary."""
    d = tmp_path_factory.mktemp("demo") / "out"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        # The PyPI port only: the firmware's paths have tests of their own
        # on both runtimes; this is the demo's case, once.
        code = cli(["demo", "--out", str(d), "--micropython", executable("unix"), "--json"])
    assert code == 0, printed.getvalue()
    return d, json.loads(printed.getvalue())


@pytest.fixture(scope="module")
def out(demo: tuple[Path, dict[str, Any]]) -> Path:
    return demo[0]


@pytest.fixture(scope="module")
def session(out: Path) -> Session:
    return load_session(out / "session")


def notes(session: Session, kind: str) -> list[dict[str, Any]]:
    return [e for e in session.events if e.get("source") == "host" and e.get("kind") == kind]


def unit_alarms(session: Session) -> list[dict[str, Any]]:
    return [e for e in session.events if e.get("kind") == "alarm" and e.get("source") != "host"]


def test_the_breached_screw_has_the_lowest_threshold_and_alone_is_flagged(session: Session) -> None:
    truth, breached = SCREWS, BREACHED
    assert len(breached) == 1
    found: dict[str, tuple[int, float | None]] = {}
    for r in session.results:
        if r.get("type") == "temg":
            screw = str(r["protocol_name"]).removeprefix("Pedicle screw ")
            th = [t for t in r["search"]["thresholds"] if t is not None]
            found[screw] = (int(r["run"]), min(th) / 1000 if th else None)
    assert sorted(found) == sorted(SCENARIO.screws)  # every screw searched, once
    lowest = min((t, s) for s, (_, t) in found.items() if t is not None)
    assert lowest[1] == breached[0]
    # At or a little above the root's 10 % recruitment current, as the
    # search tests hold it (tests/test_search_sim.py).
    want = float(truth[breached[0]]["threshold_mA"])
    assert want <= lowest[0] <= want * 1.15
    for screw, (_, t) in found.items():
        if screw != breached[0]:
            assert t is None or t >= 8.0, (screw, t)
    flagged = {a["run"] for a in unit_alarms(session) if a["alarm"] == "temg_threshold"}
    assert flagged == {found[breached[0]][0]}


def test_the_scs_walk_puts_the_lead_on_the_scenarios_side(session: Session) -> None:
    (walk,) = [r["search"] for r in session.results if r.get("type") == "scs"]
    offset = SCENARIO.scs["offset_mm"]
    assert offset < 0  # the demo's lead lies left of the midline
    assert walk["laterality"] == "left"


def test_mep_and_ssep_alarms_come_after_the_ischaemia_starts_and_none_before(session: Session) -> None:
    runs = {int(n["run"]): n for n in notes(session, "demo_run")}
    alarms = [a for a in unit_alarms(session) if a.get("modality") in ("MEP", "SSEP")]
    assert {a["modality"] for a in alarms} == {"MEP", "SSEP"}
    for a in alarms:
        assert not a.get("cleared")
        assert runs[int(a["run"])]["scenario_s"] >= INSULT_S, a
    before = [r for r in runs.values() if r["end_scenario_s"] < INSULT_S]
    assert {r["what"] for r in before} >= {"median SSEP", "tibial SSEP", "TcMEP"}
    assert not {int(a["run"]) for a in alarms} & {int(r["run"]) for r in before}
    # Where the model's insult is: the legs' MEPs and the tibial SSEPs; the
    # hand's MEP and the median SSEPs, unchanged, raise nothing.
    for a in alarms:
        if a["modality"] == "MEP":
            assert a["name"] in ("QUAD_R", "TA_R", "AH_R") and a["alarm"] in ("mep_loss", "mep_amplitude")
            assert SCENARIO.modifiers(f"mep.{a['name']}", runs[int(a["run"])]["scenario_s"])[0] < 0.5
        else:
            assert a["stream"] in ("l_tibial", "r_tibial"), a
    assert SCENARIO.modifiers("mep.APB_R", 1e6) == (1.0, 1.0, 1.0)
    assert SCENARIO.modifiers("ssep.median_L.cortical.N20", 1e6) == (1.0, 1.0, 1.0)


def test_every_run_is_stored_whole_and_free_run_covers_the_case(session: Session) -> None:
    runs = notes(session, "demo_run")
    results = {int(r["run"]): r for r in session.results}
    # (a run the host was held up in ends heartbeat_lost, and the demo
    # runs it again: stored as it ended)
    assert runs and all(results[int(n["run"])]["outcome"] == n["outcome"] for n in runs)
    assert [n["outcome"] for n in runs].count("complete") >= len(runs) - 2
    counted: dict[int, int] = {}
    for p in session.pulses:
        counted[int(p["run"])] = counted.get(int(p["run"]), 0) + 1
    for n in runs:
        assert counted.get(int(n["run"]), 0) == results[int(n["run"])]["done"], n
    seqs = session.journal_seqs()
    assert seqs == list(range(seqs[0], seqs[-1] + 1))  # nothing missing between
    averaged = {a.run for a in session.averages}
    assert {int(n["run"]) for n in runs if "SSEP" in n["what"]} <= averaged
    (stop,) = notes(session, "freerun_stop")
    assert stop["since_start_s"] - 2 <= stop["covered_s"] <= stop["since_start_s"]
    assert session.emg and all(isinstance(x.get("t_s"), float) for x in session.emg)


def test_the_folder_holds_every_file_the_summary_names(out: Path) -> None:
    sess = out / "session"
    info = json.loads((sess / "session.json").read_text())
    assert info["format"] == "stimbox-session/1" and info["unit"]["board"] == "sim"
    for name in ("events.jsonl", "pulses.jsonl", "results.jsonl", "meps.jsonl", "emg.jsonl",
                 "averages/index.jsonl"):
        assert (sess / name).stat().st_size > 0, name
    for line in (sess / "averages" / "index.jsonl").read_text().splitlines():
        assert (sess / "averages" / json.loads(line)["file"]).exists()
    raw = mne.io.read_raw_edf(out / "case.edf", preload=False, verbose="error")
    texts = list(raw.annotations.description)
    assert any("alarm" in t.lower() for t in texts) and raw.ch_names
    assert sorted(p.suffix for p in (out / "csv").iterdir()) and all(
        p.suffix == ".csv" and p.stat().st_size > 0 for p in (out / "csv").iterdir())
    html = (out / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "data:image/png;base64," in html and "<script" not in html
    pngs = list((out / "plots").glob("*.png"))
    assert pngs and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_the_json_summary_says_what_the_files_hold(demo: tuple[Path, dict[str, Any]], session: Session) -> None:
    out, summary = demo
    assert summary["ok"] is True and summary["failed"] is None
    assert summary["screws_flagged"] == BREACHED and summary["scs_laterality"] == "left"
    assert [r["run"] for r in summary["runs"]] == [int(n["run"]) for n in notes(session, "demo_run")]
    assert all(Path(f).exists() for f in summary["files"])
    assert {Path(f).name for f in summary["files"]} >= {"report.html", "case.edf", "session.json"}


def test_an_unusable_out_folder_is_one_line(cli: Callable[[list[str]], int], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    afile = tmp_path / "afile"
    afile.write_text("")
    assert cli(["demo", "--out", str(afile)]) == HOST_ERROR
    err = capsys.readouterr().err
    assert err == f"stimbox: {afile} is a file, not a folder\n"
