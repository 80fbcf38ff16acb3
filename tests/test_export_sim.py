"""EDF+ and CSV export of a session folder a short simulated case wrote
(case_folder.py: the cord_ischaemia scenario, median SSEP and TcMEP
baselines, the leg MEPs lost, three MEP alarms, free-run EMG): read back as
a user would (MNE for the EDF+, the csv module for the tables) and checked
against what the unit reported during the case and the scenario's truth."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import mne
import numpy as np
import pytest
from case_folder import LEG_MUSCLES, MUSCLES, SCENARIO, Case, temg
from simunit import scenarios
from stimbox.export.csv import FILES, write_csv
from stimbox.export.edf import write_edf
from stimbox.store import Session, load_session

STIM = re.compile(r"^Stimulus run (\d+) ")
ALARM = re.compile(r"^ALARM (\S+) (\S+) (\S+) .* run (\d+) at case (-?[\d.]+) s$")


@pytest.fixture(scope="module")
def session(case: Case) -> Session:
    return load_session(case.path)


@pytest.fixture(scope="module")
def edf(session: Session, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_edf(session, tmp_path_factory.mktemp("edf") / "case.edf")


def read(edf: Path, rate_hz: int, session: Session) -> mne.io.BaseRaw:
    """The signals at one rate: MNE would resample the others to the highest."""
    labels = sorted({f"{a.stream} ch{a.channel}" for a in session.averages if a.rate_hz == rate_hz})
    return mne.io.read_raw_edf(edf, include=labels, preload=True, verbose="error")


def test_edf_annotations_mark_each_runs_stimulus_and_the_alarms(edf: Path, session: Session,
                                                                 case: Case) -> None:
    raw = mne.io.read_raw_edf(edf, verbose="error")
    ann = [(float(a["onset"]), str(a["description"])) for a in raw.annotations]
    stims = {int(m[1]): t for t, d in ann if (m := STIM.match(d))}
    # Every run of the case recorded averages, and has its stimulus once.
    assert sorted(stims) == [r.run for r in case.runs]
    assert len([d for _, d in ann if STIM.match(d)]) == len(case.runs)
    epochs = sorted(stims.values())
    record = epochs[1] - epochs[0]
    assert all(b - a == pytest.approx(record) for a, b in zip(epochs, epochs[1:], strict=False))
    # Every other event of the folder (the unit's log and host notes) is
    # there too, but "started", which is the run's own annotation.
    others = [d for _, d in ann if not (d.startswith(("Run ", "Stimulus run ", "ALARM ")))]
    assert len(others) == sum(1 for e in session.events if e.get("kind") not in ("started", "alarm"))
    alarms = [(m, t) for t, d in ann if (m := ALARM.match(d))]
    # The alarms the unit pushed during the case, each in its run's epoch at
    # or after the stimulus, its case time within its run on the host's clock.
    assert sorted((m[1], m[3], int(m[4])) for m, _ in alarms) == sorted(
        (a["alarm"], a["name"], a["run"]) for a in case.alarms)
    for m, t in alarms:
        run = int(m[4])
        assert stims[run] <= t < stims[run] + record
        k = [r.run for r in case.runs].index(run)
        start, end = case.host_s[k]
        assert start - 0.5 <= float(m[5]) <= end + 0.5, (m[0], case.host_s[k])


def test_the_alarms_are_the_scenarios_lost_leg_muscles(case: Case) -> None:
    sc = scenarios.load(SCENARIO)
    assert case.alarms
    for a in case.alarms:
        k = [r.run for r in case.runs].index(a["run"])
        assert a["name"] in LEG_MUSCLES and a["alarm"] in ("mep_loss", "mep_amplitude")
        assert sc.modifiers(f"mep.{a['name']}", case.scenario_s[k])[0] == 0.0
    assert {a["name"] for a in case.alarms} == LEG_MUSCLES
    assert sc.modifiers("mep.APB_R", case.scenario_s[-1])[0] == 1.0  # the arm: no alarm


@pytest.mark.parametrize("rate_hz", [5000, 10000])
def test_edf_signals_are_the_stored_averages(edf: Path, session: Session, rate_hz: int) -> None:
    raw = read(edf, rate_hz, session)
    assert raw.info["sfreq"] == rate_hz
    stims = {int(m[1]): float(a["onset"]) for a in raw.annotations if (m := STIM.match(a["description"]))}
    data = raw.get_data() * 1e6  # MNE gives volts; the file says uV
    avs = [a for a in session.averages if a.rate_hz == rate_hz and a.split == "ab"]
    assert avs
    for a in avs:
        row = raw.ch_names.index(f"{a.stream} ch{a.channel}")
        assert raw.info["chs"][row]["unit_mul"] == 0
        wave = a.load()
        first = round(stims[a.run] * rate_hz) - a.pre  # the average's first sample, by its stimulus
        got = data[row, first:first + len(wave)]
        step = 2 * float(np.max(np.abs(data[row]))) / 65535 * 1.01  # one 16-bit step of its range
        assert np.max(np.abs(got - wave)) <= step + 1e-9, (a.file.name, np.max(np.abs(got - wave)), step)


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def num(s: str) -> float | None:
    return None if s == "" else float(s)


@pytest.fixture(scope="module")
def tables(session: Session, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, str]]]:
    paths = write_csv(session, tmp_path_factory.mktemp("csv") / "tables")
    assert [p.name for p in paths] == list(FILES)
    return {p.stem: rows(p) for p in paths}


def test_csv_measurements_are_the_units_results(tables: dict[str, list[dict[str, str]]], case: Case) -> None:
    meas = tables["measurements"]
    want: list[tuple[Any, ...]] = []
    for r in case.runs:
        for s in r.recording["streams"]:
            for c in s["components"]:
                want.append((r.run, s["stream"], "component", c["name"], c["lat_ms"], c["amp_uv"]))
            for m in s.get("mep") or []:
                want.append((r.run, s["stream"], "mep", m["name"], None, m["pp_uv"]))
        search = r.summary.get("search")
        if search:  # the tEMG search: a threshold per muscle of its protocol, in mA
            for name, t in zip(temg()["muscles"], search["thresholds"], strict=True):
                want.append((r.run, "", "threshold", name, None, None if t is None else t / 1000))
    got = [(int(x["run"]), x["stream"], x["kind"], x["name"], num(x["lat_ms"]) if x["kind"] == "component"
            else None, num(x["threshold_ma"] if x["kind"] == "threshold" else x["amp_uv"])) for x in meas]
    assert len(got) == len(want) and any(w[2] == "threshold" for w in want)
    for g, w in zip(got, want, strict=True):
        assert g[:4] == w[:4]
        for a, b in zip(g[4:], w[4:], strict=True):
            assert (a is None and b is None) or a == pytest.approx(b, abs=1e-4)


def test_csv_mep_trials_are_the_pushed_trials(tables: dict[str, list[dict[str, str]]], case: Case) -> None:
    want = {(t["run"], t["trial"], m["name"]): m for r in case.runs for t in r.meps for m in t["muscles"]}
    got = tables["mep_trials"]
    assert len(got) == len(want) == sum(len(r.meps) for r in case.runs) * len(MUSCLES)
    for x in got:
        m = want[(int(x["run"]), int(x["trial"]), x["muscle"])]
        assert num(x["pp_uv"]) == pytest.approx(m["pp_uv"]) and x["present"] == str(m["present"])
        assert num(x["onset_ms"]) == (None if m["onset_ms"] is None else pytest.approx(m["onset_ms"]))


def test_csv_alarms_and_baselines_agree_with_the_units_alarms(
        tables: dict[str, list[dict[str, str]]], case: Case) -> None:
    got = sorted((int(a["run"]), a["alarm"], a["name"], num(a["value_uv"]), num(a["baseline_uv"]))
                 for a in tables["alarms"])
    assert got == sorted((a["run"], a["alarm"], a["name"], a["value_uv"], a["baseline_uv"]) for a in case.alarms)
    # The baseline table's mean of the baseline averages is the unit's own
    # baseline, the one each alarm was judged against.
    base = {b["name"]: b for b in tables["baselines"] if b["stream"] == "tcmep"}
    for a in case.alarms:
        assert num(base[a["name"]]["amp_uv"]) == pytest.approx(a["baseline_uv"], abs=0.01)
    ev = tables["events"]
    assert [e["kind"] for e in ev].count("alarm") == len(case.alarms)
    assert all(json.loads(e["detail"]) if e["detail"] else True for e in ev)


def test_csv_to_a_file_writes_the_measurements(session: Session, tmp_path: Path,
                                               tables: dict[str, list[dict[str, str]]]) -> None:
    (path,) = write_csv(session, tmp_path / "m.csv")
    assert rows(path) == tables["measurements"]


def test_a_stream_recorded_at_two_rates_gets_a_signal_per_rate(case: Case, tmp_path: Path) -> None:
    # Another TcMEP protocol's run at 5 kHz in the same case: its averages
    # stored as the recorder stores them, beside the 10 kHz ones.
    import shutil

    from stimbox.store import SessionFolder

    path = tmp_path / "s"
    shutil.copytree(case.path, path)
    ref = next(a for a in load_session(path).averages if a.stream == "tcmep" and a.split == "ab")
    half = ref.load()[::2]
    with SessionFolder.open(path) as folder:
        folder.add_average(99, "tcmep", "ab", 99, half, 5000, ref.pre // 2, False)
        folder.add_average(99, "tcmep", "ab", ref.channel, half, 5000, ref.pre // 2, False)
    s = load_session(path)
    edf = write_edf(s, tmp_path / "x.edf")
    raw = mne.io.read_raw_edf(edf, include=[f"tcmep ch{ref.channel} 5k", "tcmep ch99"], preload=True,
                              verbose="error")
    assert raw.info["sfreq"] == 5000
    labels = mne.io.read_raw_edf(edf, verbose="error").ch_names
    assert f"tcmep ch{ref.channel} 10k" in labels and f"tcmep ch{ref.channel}" not in labels
