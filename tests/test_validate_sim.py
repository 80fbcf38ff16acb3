"""`stimbox validate` on simulated units: a default unit PASSes through the
real CLI entry point and leaves its record (summary.json) in --out; a unit
with one deliberate error fails exactly the checks that error touches, and
nothing else.

The default unit runs on both runtimes. The three faulty units run on the
64-bit port only: what they prove is the suite's judgement of the model's
known errors (the same host code on either runtime), while the firmware's
read-back on the 32-bit runtime is proven by the default unit's PASS there;
each whole suite costs test time (docs/PERFORMANCE.md, Validation)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from simunit.supervisor import SimUnit
from stimbox.build import board_module
from stimbox.cli import main
from stimbox.client import StimBox
from stimbox.errors import StimBoxError
from stimbox.validation import phantom

BOARD = board_module("sim")
OUTPUTS = [o["name"] for o in BOARD.OUTPUTS]
ONE_RUNTIME = pytest.mark.parametrize("runtime", ["unix"], indirect=True)


def validate(unit: SimUnit, out: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    status = main(["validate", "--port", unit.port, "--out", str(out), "-q", *extra])
    return status, json.loads((out / "summary.json").read_text())


def failing(s: dict[str, Any]) -> set[str]:
    return {c["name"] for c in s["checks"] if c["outcome"] == "FAIL"}


def test_a_default_unit_passes_and_leaves_its_record(sim_unit: SimUnit, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    status, s = validate(sim_unit, tmp_path)
    assert status == 0 and s["outcome"] == "PASS" and failing(s) == set(), failing(s)
    assert capsys.readouterr().out.startswith("PASS: unit ") and (tmp_path / "report.html").stat().st_size
    assert s["unit"]["board"] == "sim" and s["unit"]["build"] and s["phantom"]["name"] == "sim bench phantom"
    assert s["counts"]["SKIP"] == 0 and s["counts"]["PASS"] == len(s["checks"])
    names = {c["name"] for c in s["checks"]}
    for o in OUTPUTS:
        assert {f"timing.{o}.onset", f"biphasic.{o}.balance", f"faults.{o}.compliance"} <= names
        assert sum(n.startswith(f"output.{o}.amplitude@") for n in names) >= 3
    assert {"timing.TC.isi", "timing.TC.train"} <= names
    assert {f"recording.ch{c}.{k}" for c in range(BOARD.AMP_CHANNELS)
            for k in ("gain", "latency", "amplitude", "noise", "mains")} <= names
    # Every cell's monitor trace and every channel's average, for the report.
    cells = [n.split("@")[1] for n in names if n.startswith("output.P1.amplitude@")]
    assert sorted(t["cell"] for t in s["traces"] if t["subject"] == "P1") == sorted(cells)
    assert len(s["averages"]) == BOARD.AMP_CHANNELS
    # A cell the unit refuses comes down to the largest amplitude the
    # refusal's range admits: P1's full-scale cells at 1000 us land on the
    # peripheral outputs' 50 uC per phase.
    charges = {c["name"]: c["requested"] for c in s["checks"] if c["name"].startswith("output.P1.charge@")}
    assert max(charges.values()) == 50.0 and charges["output.P1.charge@50mA/1000us"] == 50.0
    # The phantom's loads came off again: the scenario's own are back.
    assert sim_unit.model.load_override == {}


@ONE_RUNTIME
def test_a_low_gain_output_fails_exactly_its_amplitude_and_charge(sim_unit: SimUnit, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    sim_unit.model.sim({"stage": {"output": "P1", "gain_error": -0.05}})
    status, s = validate(sim_unit, tmp_path)
    cells = {c["name"].split("@")[1] for c in s["checks"] if c["name"].startswith("output.P1.amplitude@")}
    assert status == 1 and s["outcome"] == "FAIL"
    assert failing(s) == {f"output.P1.{k}@{c}" for c in cells for k in ("amplitude", "charge")}
    # Quiet, each failure still says what was asked, what came and the band.
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("FAIL  ")]
    assert len(lines) == len(failing(s))
    assert all(" requested " in ln and " measured " in ln and " tolerance " in ln for ln in lines), lines


@ONE_RUNTIME
def test_late_pulses_fail_exactly_the_onset_checks(sim_unit: SimUnit, tmp_path: Path) -> None:
    """Every output 20 us late: each output's mean onset fails; a constant
    delay leaves jitter, periods, the train's interval and its length."""
    for o in OUTPUTS:
        sim_unit.model.sim({"stage": {"output": o, "timing_offset_us": 20}})
    status, s = validate(sim_unit, tmp_path)
    assert status == 1 and failing(s) == {f"timing.{o}.onset" for o in OUTPUTS}


@ONE_RUNTIME
def test_a_high_gain_channel_fails_exactly_its_gain_and_amplitude(sim_unit: SimUnit, tmp_path: Path) -> None:
    sim_unit.model.sim({"amp": {"channel": 3, "gain_error": 0.05}})
    status, s = validate(sim_unit, tmp_path)
    assert status == 1 and failing(s) == {"recording.ch3.gain", "recording.ch3.amplitude"}


def test_a_lab_phantom_without_a_calibrator_skips_the_recording_chain(box: StimBox, tmp_path: Path) -> None:
    f = tmp_path / "lab.toml"
    f.write_text('name = "lab bench"\n[loads]\n' + "".join(f'{o} = {{ kind = "resistor", ohms = 1000 }}\n'
                                                          for o in OUTPUTS))
    s = box.validate(phantom=f, groups=("recording",))
    rec = [c for c in s["checks"] if c["group"] == "recording"]
    assert s["outcome"] == "PASS" and s["phantom"]["name"] == "lab bench" and s["phantom"]["calibrator"] is None
    assert len(rec) == 5 * BOARD.AMP_CHANNELS
    assert all(c["outcome"] == "SKIP" and "declares no calibrator" in c["reason"] for c in rec)


def test_a_phantom_box_wired_to_two_channels(sim_unit: SimUnit, box: StimBox, tmp_path: Path) -> None:
    """A lab's phantom box on channels 3 and 4 (here the simulated unit's
    calibrator, switched on by hand as a box is wired by hand): those two
    channels' gain, latency and amplitude are judged against the waveform
    the phantom file declares; shorted inputs and mains need the unit's own
    calibrator, so they SKIP."""
    box.sim(calibrator={"mode": "signal", "channels": [3, 4], "trigger": "P2", "freq_hz": 200.0,
                        "amp_uv": 100.0, "delay_ms": 5.0})
    f = tmp_path / "box.toml"
    f.write_text('name = "phantom box"\n[loads]\nP2 = { kind = "resistor", ohms = 1000 }\n'
                 '[calibrator]\nsource = "box"\nchannels = [3, 4]\ntrigger = "P2"\nfreq_hz = 200.0\n'
                 'amp_uv = 100.0\ndelay_ms = 5.0\n')
    s = box.validate(phantom=f, groups=("recording",))
    got = {c["name"]: c["outcome"] for c in s["checks"]}
    assert got == {f"recording.ch{c}.{k}": "PASS" if k in ("gain", "latency", "amplitude") else "SKIP"
                   for c in (3, 4) for k in ("gain", "latency", "amplitude", "noise", "mains")}
    # The wrong waveform declared: the same recording no longer matches it.
    f.write_text(f.read_text().replace("amp_uv = 100.0", "amp_uv = 110.0"))
    s = box.validate(phantom=f, groups=("recording",))
    assert {c["name"] for c in s["checks"] if c["outcome"] == "FAIL"} == {
        f"recording.ch{c}.{k}" for c in (3, 4) for k in ("gain", "amplitude")}


@pytest.mark.parametrize("text, problem", [
    ("[loads]\nP1 = { kind = \"randles\", ohms = 1 }\n", "loads.P1 must be"),
    ("[calibrator]\nsource = \"box\"\n", "names the channels"),
    ("colour = 1\n", "unknown key"),
    ("[loads\n", "not valid TOML"),
])
def test_a_bad_phantom_file_is_one_line_naming_it(tmp_path: Path, text: str, problem: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(StimBoxError, match=problem) as e:
        phantom.load(f)
    assert str(e.value).startswith(str(f)) and "\n" not in str(e.value)


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--port", "/dev/ttyACM99"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("stimbox: ") and err.count("\n") == 1
