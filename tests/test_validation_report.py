"""The validation report: a summary built from the simulator's output-stage
model (report_summary.py: pulses into the 1 kohm phantom, one output 6 %
low, a mains check skipped) rendered to HTML and opened in headless
Chromium, as a reader would open it: nothing fails to load, nothing is
fetched, every check and the outcome are on the page, the plots are drawn.
And the same for the record `stimbox validate --out` leaves for a
simulated unit."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser import PageVisit, unavailable, visit
from PIL import Image
from report_summary import GAIN_ERROR, model_summary
from simunit.supervisor import SimUnit
from stimbox.cli import main
from stimbox.validation import plots, report

MAX_HTML_BYTES = 3_000_000


@pytest.fixture(scope="module")
def summary() -> dict[str, Any]:
    s = model_summary()
    # Text that must come out as text, not markup.
    s["checks"].append({"name": "faults.P2.open", "group": "faults", "subject": "P2",
                        "requested": "open <flag> & end", "measured": None, "unit": "", "lo": None,
                        "hi": None, "tolerance": "", "source": "", "outcome": "SKIP",
                        "reason": "<script>alert(1)</script> cannot open a resistor's leads"})
    s["counts"]["SKIP"] += 1
    return s


@pytest.fixture(scope="module")
def html(summary: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    report.write_html(summary, path)
    return path


def test_summary_has_what_the_report_must_show(summary: dict[str, Any]) -> None:
    # The model's own miscalibration, not a hand-set outcome, fails the 6 % low output.
    fails = {c["name"].split("@")[0] for c in summary["checks"] if c["outcome"] == "FAIL"}
    assert fails == {f"output.{o}.{q}" for o in GAIN_ERROR for q in ("amplitude", "charge")}
    assert summary["outcome"] == "FAIL"
    assert summary["counts"]["SKIP"] >= 1
    assert len(summary["traces"]) >= 60


def test_html_is_one_small_self_contained_file(html: Path, summary: dict[str, Any]) -> None:
    text = html.read_text(encoding="utf-8")
    assert len(text.encode()) < MAX_HTML_BYTES
    assert "<script" not in text
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:)""", text)
    assert "@import" not in text and "url(" not in text
    srcs = re.findall(r'<img src="([^"]+)"', text)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)


def figures(summary: dict[str, Any]) -> int:
    """A figure per group with numbers to place, per output with traces, and the averages."""
    groups = {c["group"] for c in summary["checks"] if plots.tolerance_fraction(c) is not None}
    return len(groups) + len({t["subject"] for t in summary["traces"]}) + (1 if summary["averages"] else 0)


def open_and_check(html: Path, summary: dict[str, Any], shot: Path) -> PageVisit:
    """Open a rendered report in Chromium and check what any report must
    show: nothing failed or fetched, every figure loaded and drawn, the
    outcome, the unit and every check on the page, FAIL and SKIP rows marked."""
    why = unavailable()
    if why:
        pytest.skip(why)
    v = visit(html, shot, queries={
        "fail_rows": "document.querySelectorAll('table.checks tr.FAIL').length",
        "skip_rows": "document.querySelectorAll('table.checks tr.SKIP').length",
        "scripts": "document.scripts.length",
        "outcome": "document.querySelector('.outcome').innerText",
    })
    assert v.console_errors == [] and v.page_errors == []
    assert v.requests == [html.resolve().as_uri()]  # the page itself, nothing more
    assert v.images and all(i["complete"] and i["naturalWidth"] > 0 for i in v.images)
    assert {i["scheme"] for i in v.images} == {"data"}

    assert v.results["outcome"] == summary["outcome"]
    assert v.results["fail_rows"] == summary["counts"]["FAIL"]
    assert v.results["skip_rows"] == summary["counts"]["SKIP"]
    assert v.results["scripts"] == 0
    for c in summary["checks"]:
        assert c["name"] in v.text
    for k in ("board", "serial", "firmware", "build"):
        assert summary["unit"][k] in v.text
    assert summary["phantom"]["name"] in v.text and summary["date"] in v.text

    # Every plot drawn: its region of the page is not one flat colour.
    page = np.asarray(Image.open(shot).convert("L"), dtype=float)
    for i in v.images:
        x, y, w, h = (round(i[k]) for k in ("x", "y", "width", "height"))
        region = page[y:y + h, x:x + w]
        assert region.shape[0] > 100 and region.shape[1] > 300, i["alt"]
        assert region.std() > 10, i["alt"]
        assert (region < 128).mean() > 0.005, i["alt"]  # lines and text, not a blank canvas
    return v


def test_report_in_chromium(html: Path, summary: dict[str, Any], tmp_path: Path) -> None:
    v = open_and_check(html, summary, tmp_path / "report.png")
    assert v.results["outcome"] == "FAIL"
    assert "<script>alert(1)</script> cannot open a resistor's leads" in v.text
    assert "open <flag> & end" in v.text
    assert len(v.images) == figures(summary)


@pytest.mark.parametrize("runtime", ["unix"], indirect=True)
def test_a_validated_units_report_in_chromium(sim_unit: SimUnit, tmp_path: Path) -> None:
    """The record `stimbox validate --out` leaves for a unit with a low
    output (its amplitude and charge checks FAIL): report.html beside
    summary.json opens as any report must. One runtime: the report is host
    code, and a whole suite costs test time."""
    sim_unit.model.sim({"stage": {"output": "P1", "gain_error": -0.05}})
    out = tmp_path / "record"
    assert main(["validate", "--port", sim_unit.port, "--out", str(out), "-q"]) == 1
    s = json.loads((out / "summary.json").read_text())
    v = open_and_check(out / "report.html", s, tmp_path / "report.png")
    assert v.results["outcome"] == "FAIL" and v.results["fail_rows"] > 0
    assert len(v.images) == figures(s) == 4 + 7 + 1  # output, biphasic, timing, recording; outputs; averages


def test_fraction_of_tolerance() -> None:
    f = plots.tolerance_fraction
    # ±3 % of 10: 9.4 is 0.6 low, twice the 0.3 allowed.
    assert f({"requested": 10, "measured": 9.4, "lo": 9.7, "hi": 10.3}) == pytest.approx(-2)
    assert f({"requested": 10, "measured": 10.15, "lo": 9.7, "hi": 10.3}) == pytest.approx(0.5)
    # At most 2 us of jitter: 1 us is half of it, 3 us half as much again over.
    assert f({"requested": 0, "measured": 1.0, "lo": None, "hi": 2.0}) == pytest.approx(0.5)
    assert f({"requested": 0, "measured": 3.0, "lo": None, "hi": 2.0}) == pytest.approx(1.5)
    # At least 20 dB asked for 30: 25 is half-way down to the bound.
    assert f({"requested": 30, "measured": 25, "lo": 20, "hi": None}) == pytest.approx(-0.5)
    assert f({"requested": "flag", "measured": "flag", "lo": None, "hi": None}) is None
    assert f({"requested": 1, "measured": None, "lo": 0, "hi": 2}) is None


def test_requested_pulse_is_the_set_rectangle() -> None:
    t, y = plots.requested_pulse({"amp": 10, "width_us": 200, "shape": "bi", "gap_us": 20}, 1.0)
    assert t == [0, 0, 200, 200, 220, 220, 420, 420]
    assert y == [0, 10, 10, 0, 0, -10, -10, 0]
    t, y = plots.requested_pulse({"amp": 5, "width_us": 50, "shape": "mono"}, -1.0)
    assert (t, y) == ([0, 0, 50, 50], [0, -5, -5, 0])


def small(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary with a few traces: enough for the tests that do not look at figures."""
    s = copy.deepcopy(summary)
    s["traces"] = s["traces"][:2]
    return s


def test_pass_report_and_empty_sections(summary: dict[str, Any]) -> None:
    s = small(summary)
    s["checks"] = [c for c in s["checks"] if c["outcome"] == "PASS"]
    s.update(outcome="PASS", counts={"PASS": len(s["checks"]), "FAIL": 0, "SKIP": 0}, averages=[])
    text = report.render(s)
    assert '<span class="outcome PASS">PASS</span>' in text
    assert "class=\"fails\"" not in text and "Recording chain</h2>" not in text


def test_command_line(tmp_path: Path, summary: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "summary.json").write_text(json.dumps(small(summary)))
    assert report.main([str(tmp_path)]) == 0
    assert (tmp_path / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    (tmp_path / "bad.json").write_text("{not json")
    assert report.main([str(tmp_path / "bad.json")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not JSON" in err
