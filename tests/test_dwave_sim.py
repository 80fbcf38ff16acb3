"""The D-wave recorded, averaged and measured on the simulated unit, against
the truth: the model's noise-free average of the very pulses each run
delivered, through the band the run declared, measured by the same code
(stimbox.truth), and the model's own latency of each pair. The example
protocol (protocols/dwave.toml: 10 pulses) as it is, on seeds of this
file's own, in stable_baseline and in cord_ischaemia, on both runtimes.

Goals (docs/PERFORMANCE.md): amplitude within 10% of the truth's, latency
within one sample (0.1 ms at 10 kHz) of the truth's and of the model's.
In cord_ischaemia the caudal D-wave falls below half its baseline while
the rostral one (the control) stays: the unit's alarm fires on the caudal
pair alone. There the caudal D-wave is a third of its size or less
(11-13 uV), and two errors that do not scale with it dominate: the
residual noise of 10 sweeps (about 0.5 uV r.m.s., which peak-to-peak
picking turns into an upward lean) and the stimulus artifact's residue
through the 100 Hz high-pass (up to 0.9 uV on the caudal pair, the same
on every sweep, so averaging keeps it). That one amplitude is held to 10%
of the truth plus CUT_UV: the residue plus three times the noise.
bench/bench_truth.py publishes the figures (worst of 60 runs: 2.0 uV)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from simunit.supervisor import SimUnit
from stimbox import protocols, truth
from stimbox.build import board_module, install_offline
from stimbox.client import StimBox
from stimbox.session import RunResult, run_protocol

BOARD = board_module("sim")
LAT_MS = 0.1
AMP = 0.10
CUT_UV = 2.5
ROSTRAL, CAUDAL = 16, 17
STIMBOX = str(Path(sys.executable).with_name("stimbox"))


def _failures(c: truth.Compared, allow_uv: float = 0.0) -> list[str]:
    got = c.unit
    if got["lat_ms"] is None:
        return [f"absent: {got.get('absent')}"]
    out = []
    d = c.lat_error_ms()
    assert d is not None
    if abs(d) > LAT_MS:
        out.append(f"lat_ms {got['lat_ms']:.3f} vs truth {c.truth['lat_ms']:.3f}")
    d = c.model_lat_error_ms()
    assert d is not None, c.model
    if abs(d) > LAT_MS:
        out.append(f"lat_ms {got['lat_ms']:.3f} vs the model's {c.model[c.model_name()]['latency_ms']:.3f}")
    e = c.amp_error()
    assert e is not None
    if abs(got["amp_uv"] - c.truth["amp_uv"]) > AMP * c.truth["amp_uv"] + allow_uv:
        out.append(f"amp {got['amp_uv']:.3f} vs truth {c.truth['amp_uv']:.3f} ({e:+.1%})")
    return out


def _check(compared: list[truth.Compared], where: str, caudal_uv: float = 0.0) -> dict[int, truth.Compared]:
    by_ch = {int(c.spec["ch"]): c for c in compared}
    assert sorted(by_ch) == [ROSTRAL, CAUDAL], where
    for ch, c in by_ch.items():
        assert c.site == "dwave" and c.trials == 10 and c.unit["sweeps"] == 10, where
        assert _failures(c, caudal_uv if ch == CAUDAL else 0.0) == [], f"{where} ch {ch}"
        assert not c.at_edge(), f"{where} ch {ch}"
        assert c.unit["reliable"] is True, f"{where} ch {ch}"
    # the pairs' latencies are the cord's: caudal later than rostral
    assert by_ch[CAUDAL].model[by_ch[CAUDAL].model_name()]["latency_ms"] > \
        by_ch[ROSTRAL].model[by_ch[ROSTRAL].model_name()]["latency_ms"] + 1.0, where
    return by_ch


def _alarms(r: RunResult) -> list[dict[str, Any]]:
    return [ev for st in (r.recording or {}).get("streams", []) for ev in st["events"]]


@pytest.mark.parametrize("seed", [41, 42])
def test_dwave_matches_the_truth_in_a_stable_patient(firmware_image, new_unit, seed: int) -> None:
    unit: SimUnit = new_unit(scenario="stable_baseline", seed=seed)
    install_offline(firmware_image, unit.flash)
    with unit, StimBox.connect(unit.port) as box:
        p = protocols.load("dwave", BOARD)
        r, cs = truth.compare_run(box, p, unit.model.truth_average)
        assert r.outcome == "complete"
        r2, cs2 = truth.compare_run(box, p, truth.sim_truth(box))  # the unit's sim request: the same answer
    for run, compared in ((r, cs), (r2, cs2)):
        by_ch = _check(compared, f"seed {seed} run {run.run}")
        d = run.dwave
        assert d is not None and d["rostral"]["ch"] == ROSTRAL and d["caudal"]["ch"] == CAUDAL
        assert d["ratio"] == pytest.approx(by_ch[CAUDAL].truth["amp_uv"] / by_ch[ROSTRAL].truth["amp_uv"], rel=0.15)
    assert _alarms(r) == [] and _alarms(r2) == []  # the first run set the baseline, nothing changed since


@pytest.mark.parametrize("seed", [43, 44])
def test_cord_ischaemia_cuts_the_caudal_dwave_and_alarms_there(firmware_image, new_unit, seed: int) -> None:
    unit: SimUnit = new_unit(scenario="cord_ischaemia", seed=seed)
    install_offline(firmware_image, unit.flash)
    with unit, StimBox.connect(unit.port) as box:
        p = protocols.load("dwave", BOARD)
        # The baseline: two reproducible averages before the insult.
        base, cs0 = truth.compare_run(box, p, unit.model.truth_average)
        base2 = run_protocol(box, p)
        assert base2.recording["streams"][0]["baseline_state"] == "set"  # type: ignore[index]
        # a third into the insult's ramp (from 120 s over 180 s): the
        # caudal D-wave well below half its baseline, still measurable. An
        # alarm needs its criterion in two averages in a row.
        box.sim(advance_s=180.0 - unit.model.scenario_time_s())
        first = run_protocol(box, p)
        assert _alarms(first) == []
        r, cs = truth.compare_run(box, p, unit.model.truth_average)
    assert base.outcome == base2.outcome == first.outcome == r.outcome == "complete"
    before = _check(cs0, f"seed {seed} before the insult")
    by_ch = _check(cs, f"seed {seed} in the insult", CUT_UV)
    # the model: caudal cut, rostral kept
    was = {ch: before[ch].truth["amp_uv"] for ch in (ROSTRAL, CAUDAL)}
    assert by_ch[CAUDAL].truth["amp_uv"] < 0.45 * was[CAUDAL]
    assert by_ch[ROSTRAL].truth["amp_uv"] == pytest.approx(was[ROSTRAL], rel=0.15)
    # the unit: its alarm on the caudal pair alone, with the values that raised it
    events = _alarms(r)
    assert [(e["alarm"], e["ch"]) for e in events] == [("dwave_amplitude", CAUDAL)], events
    ev = events[0]
    assert ev["modality"] == "DWAVE" and ev["limit_pct"] == -50.0 and ev["change_pct"] < -50.0
    assert ev["value_uv"] == by_ch[CAUDAL].unit["amp_uv"]
    # the baseline kept as float32 between runs
    mean = (base.dwave["caudal"]["amp_uv"] + base2.dwave["caudal"]["amp_uv"]) / 2  # type: ignore[index]
    assert ev["baseline_uv"] == pytest.approx(mean, rel=1e-4)
    assert r.dwave is not None and r.dwave["ratio"] < 0.5 * base.dwave["ratio"]  # type: ignore[index]


def test_stimbox_run_shows_the_dwave(sim_unit: SimUnit) -> None:
    out = subprocess.run([STIMBOX, "run", "dwave", "--port", sim_unit.port, "-q"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stdout.splitlines() if "N/P" in ln]
    assert [ln.split(" ch ")[1].split()[0] for ln in lines] == ["16", "17"], out.stdout
    for ln in lines:
        lat = float(ln.split("latency ")[1].split(" ms")[0])
        amp = float(ln.split("amplitude ")[1].split(" uV")[0])
        assert 3.0 < lat < 8.0 and 10.0 < amp < 100.0, ln
    assert "caudal/rostral amplitude ratio" in out.stdout
