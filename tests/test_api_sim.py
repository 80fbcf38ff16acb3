"""The scripting API (stimbox.api, StimBox.pulses/ssep/mep/threshold) on a
simulated unit: typed results, in their units and dtypes, against the
model's ground truth, and a refusal that names the limit.

What is tested is the host's building of protocols and reading of results;
the firmware's measurements have their own tests on both runtimes
(test_pulses_protocol, test_truth_sim, test_mep_sim, test_temg_sim). So
these run on the PyPI port only, on one unit for the whole module (a
unit's start and the firmware image cost more than the runs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mpy import executable
from scipy import signal
from simunit.groundtruth import wave
from simunit.supervisor import SimUnit
from stimbox import meptruth, truth
from stimbox.api import (
    Alarm,
    MepResult,
    ProtocolChoiceError,
    PulseRun,
    SsepResult,
    ThresholdResult,
    builders,
)
from stimbox.build import Image, board_module, install_offline
from stimbox.client import StimBox
from stimbox.errors import LimitError
from stimbox.store import SessionFolder, load_session
from stimbox.temg_truth import thresholds_ua
from stimbox.validation import tolerances

BOARD = board_module("sim")
TOL = tolerances.load("sim")

# The breached-screw scenario's screws with cortical SSEPs five times their
# usual size: noise then moves a latency by hundredths of a millisecond, so
# the latency is held to the measurement's own goal (0.3 ms,
# docs/PERFORMANCE.md) after a short run, as tests/test_truth_sim.py does.
SCENARIO = (Path(__file__).parents[1] / "boards/sim/simunit/scenarios/screw_breach.toml").read_text() \
    .replace('name = "screw_breach"', 'name = "api_screw_breach_strong_ssep"') + """
[[effect]]
name = "large cortical SSEPs"
targets = ["ssep.*.cortical.*"]
start_s = 0
ramp_s = 0
amplitude = 5.0
"""


@pytest.fixture(scope="module")
def unit(image_for: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimUnit]:
    image: Image = image_for("unix")
    scenario = tmp_path_factory.mktemp("scenario") / "api.toml"
    scenario.write_text(SCENARIO)
    u = SimUnit(micropython=executable("unix"), scenario=str(scenario), seed=5,
                flash=tmp_path_factory.mktemp("unit") / "flash")
    install_offline(image, u.flash)
    with u:
        yield u


@pytest.fixture
def api_box(unit: SimUnit) -> Iterator[StimBox]:
    with StimBox.connect(unit.port) as b:
        yield b


def delivered(unit: SimUnit) -> int:
    return int(unit.model.ground_truth()["pulses"]["count"])


def test_pulses_deliver_amplitude_times_width(unit: SimUnit, api_box: StimBox) -> None:
    before = delivered(unit)
    run = api_box.pulses(out="P2", amp_ua=6000, width_us=150, count=6, rate_hz=20)
    assert isinstance(run, PulseRun) and run.outcome == "complete"
    truth = unit.model.ground_truth()["pulses"]["recent"][-6:]
    assert run.count == delivered(unit) - before == 6
    assert run.charge_nc.dtype == np.int64 and run.amp_ua.dtype == np.float64
    assert run.width_us.dtype == run.onset_us.dtype == np.float64 and run.output.dtype.kind == "U"
    assert list(run.output) == ["P2"] * 6 and list(run.index) == list(range(6))
    assert np.isnan(run.amp_mv).all()
    lo, hi = TOL["charge"].bounds(6000 * 150 / 1000)
    assert ((run.charge_nc >= lo) & (run.charge_nc <= hi)).all(), run.charge_nc
    for q_nc, real in zip(run.charge_nc, truth, strict=True):
        assert real["output"] == "P2" and real["commanded"] == 6000 and real["w1_us"] == 150
        assert abs(q_nc / 1000 - real["charge1_uC"]) <= 0.05
    w_lo, w_hi = TOL["width"].bounds(150)
    assert ((run.width_us >= w_lo) & (run.width_us <= w_hi)).all()
    assert run.total_charge_nc == int(run.charge_nc.sum())


def test_transcranial_pulses_read_back_in_mv(unit: SimUnit, api_box: StimBox) -> None:
    run = api_box.pulses(out="TC", amp_mv=100000, width_us=75, count=2, rate_hz=1)
    truth = unit.model.ground_truth()["pulses"]["recent"][-2:]
    assert run.outcome == "complete" and np.isnan(run.amp_ua).all()
    lo, hi = TOL["amplitude"].bounds(100000)
    for mv, real in zip(run.amp_mv, truth, strict=True):
        assert real["output"] == "TC" and lo <= mv <= hi and abs(mv - real["amp1"]) <= 0.01 * real["amp1"]


def test_a_refusal_names_the_limit_and_delivers_nothing(unit: SimUnit, api_box: StimBox) -> None:
    before = delivered(unit)
    with pytest.raises(LimitError) as e:
        api_box.pulses(out="P1", amp_ua=150000)
    d = e.value.detail
    assert (d["limit"], d["value"], d["min"], d["max"]) == ("amplitude", 150000, 0, 100000)
    assert "amplitude 150000 uA outside 0..100000 uA" in str(e.value)
    assert delivered(unit) == before


def test_ssep_averages_and_latency_against_the_truth(unit: SimUnit, api_box: StimBox) -> None:
    before = delivered(unit)
    since = int(api_box.sim()["now_us"])
    s = api_box.ssep(nerve="median", sides=("L", "R"), sweeps=100, splits=("a", "b", "ab"))
    until = int(api_box.sim()["now_us"])
    assert isinstance(s, SsepResult) and s.outcome == "complete"
    assert s.pulses.count == delivered(unit) - before == 200
    # three channels per site, three splits each, 10 ms before and 60 after at 5 kHz
    assert len(s.averages) == 2 * 3 * 3
    for a in s.averages:
        assert a.uv.dtype == np.float32 and a.t_ms.dtype == np.float64 and a.rate_hz == 5000
        assert len(a.uv) == len(a.t_ms) == 350 and a.t_ms[0] == -10.0 and a.t_ms[50] == 0.0
    # A and B each hold half the sweeps: their mean is the whole average
    for stream in ("l_median", "r_median"):
        for ch in {a.channel for a in s.averages if a.stream == stream}:
            a, b, ab = (s.average(stream, ch, split) for split in ("a", "b", "ab"))
            assert np.allclose((a.uv + b.uv) / 2, ab.uv, atol=1e-3)
    assert s.average("l_median").label == "CP4-Fz" and s.average("r_median").label == "CP3-Fz"
    gt = unit.model.ground_truth()["ssep"]
    for stream, site in (("l_median", "median_L"), ("r_median", "median_R")):
        c = s.component(stream)
        assert c.name == "N20/P25" and c.sweeps == 100 and c.reliable is True
        assert c.latency_ms is not None and abs(c.latency_ms - gt[site]["N20"]["latency_ms"]) <= 0.3
        assert c.latency2_ms is not None and abs(c.latency2_ms - gt[site]["P25"]["latency_ms"]) <= 1.0
        assert c.snr is not None and c.snr > 3
        # The average as pulled is filtered causally (every sweep is, before
        # it is summed): its N20 trough is where the truth average's is
        # through the same causal band, on the same time axis.
        avg = s.average(stream, c.channel)
        site = next(x for x in truth.ssep_sites(s.pulses.protocol) if x.label == stream)
        want = signal.sosfilt(np.asarray(truth.band(site)),
                              wave(unit.model.truth_average(truth.request(site, c.channel, since, until))))
        win = (avg.t_ms > 15) & (avg.t_ms < 25)
        assert len(want) == len(avg.uv)
        assert abs(avg.t_ms[win][np.argmin(avg.uv[win])] - avg.t_ms[win][np.argmin(want[win])]) <= 0.2
        # and the shape after the stimulus's tail (the far field before 12 ms)
        cortical = avg.t_ms > 12
        assert np.corrcoef(avg.uv[cortical], want[cortical])[0, 1] > 0.99
    assert s.alarms == []


def test_mep_per_muscle_per_trial_against_the_truth(unit: SimUnit, api_box: StimBox) -> None:
    since = int(api_box.sim()["now_us"])
    m = api_box.mep(trains=3)
    until = int(api_box.sim()["now_us"])
    assert isinstance(m, MepResult) and m.outcome == "complete"
    # anode C3 (the example's): the right side's muscles
    assert m.muscles == ["APB_R", "QUAD_R", "TA_R", "AH_R"] and list(m.channels) == [9, 11, 13, 15]
    for arr in (m.amplitude_uv, m.latency_ms, m.area_uvms, m.threshold_uv):
        assert arr.shape == (4, 3) and arr.dtype == np.float64
    assert m.present.dtype == bool and m.pulses.count == 3 * 5
    assert np.isnan(m.latency_ms[~m.present]).all() and not np.isnan(m.latency_ms[m.present]).any()
    cs = meptruth.compare(unit.model, m.pulses.protocol, m.trials, since, until)
    clear = [c for c in cs if c.truth.pp_uv >= 4 * c.unit.threshold_uv]
    assert len(clear) >= 6
    for c in clear:
        i = m.row(c.muscle)
        assert m.present[i, c.trial]
        assert abs(m.amplitude_uv[i, c.trial] / c.truth.pp_uv - 1) <= 0.2, c
        assert c.truth.onset_ms is not None and abs(m.latency_ms[i, c.trial] - c.truth.onset_ms) <= 1.0, c


def test_threshold_search_against_the_screws_truth(unit: SimUnit, api_box: StimBox) -> None:
    before = delivered(unit)
    th = api_box.threshold(screw="L5_L")
    assert isinstance(th, ThresholdResult) and th.outcome == "complete"
    assert th.muscles == ["L_QUAD", "L_TA", "L_AH"] and th.roots == ["L2-L4", "L4-L5", "S1-S2"]
    assert th.threshold_ma.dtype == np.float64 and th.steps_ua.dtype == np.int64
    p = th.pulses.protocol
    truth = thresholds_ua(unit.model.physiology, "L5_L", p, p["search"]["level_uv"], p["search"]["stop_ua"])
    for k, ch in enumerate(th.channels):
        want = truth[{10: "QUAD_L", 12: "TA_L", 14: "AH_L"}[int(ch)]]
        if want is None:
            assert np.isnan(th.threshold_ma[k])
        else:
            assert abs(th.threshold_ma[k] - want / 1000) <= 0.5, (th.muscles[k], th.threshold_ma[k], want)
    # the breached screw: its muscles answer above the scenario's screw threshold, and alarm
    assert unit.model.ground_truth()["screws"]["L5_L"]["threshold_mA"] <= th.lowest_ma < th.alarm_ma == 8.0
    # every step is a pulse the model delivered, the first at the search's start
    assert len(th.steps_ua) == th.pulses.count == delivered(unit) - before
    assert th.steps_ua[0] == p["search"]["start_ua"] and th.responded.shape == (len(th.steps_ua), 3)
    assert list(th.steps_ua) == [int(a) for a in th.pulses.amp_ua]
    assert {a.name: a.figures["value_ma"] for a in th.alarms} == \
        {m: th.for_muscle(m) for m in th.muscles if th.for_muscle(m) < 8.0}


def test_a_run_goes_into_the_session_folder(unit: SimUnit, api_box: StimBox, tmp_path: Path) -> None:
    with SessionFolder.create(tmp_path / "case", api_box.info(), api_box.port) as folder:
        run = api_box.pulses(out="P3", amp_ua=3000, count=4, rate_hz=10, folder=folder)
        s = api_box.ssep(nerve="tibial", sides="R", sweeps=20, folder=folder)
        with pytest.raises(ProtocolChoiceError, match="out=: a session folder goes in folder="):
            api_box.ssep(out=folder)
    case = load_session(tmp_path / "case")
    stored = [p for p in case.pulses if p["run"] == run.run]
    assert [p["charge_nc"] for p in stored] == list(run.charge_nc)
    assert len([p for p in case.pulses if p["run"] == s.run]) == s.pulses.count == 20
    got = {(a.channel, a.split): a.load() for a in case.averages if a.run == s.run}
    assert len(got) == 3 * 3
    for a in s.averages:
        assert np.array_equal(got[(a.channel, a.split)], a.uv)


def test_builders_keep_to_the_examples() -> None:
    # host only: what each helper asks of the unit, from the example protocols
    p = builders.ssep_protocol(BOARD, "tibial", "L", sweeps=50, amp_ua=30000)
    assert [s["site"] for s in p["sites"]] == ["l_tibial"] and p["count"] == 50
    assert p["sites"][0]["amp_ua"] == 30000 and p["sites"][0]["out"] == "P3"
    t = builders.temg_protocol(BOARD, screw="S1_R")
    assert t["record"]["channels"] == [11, 13, 15] and t["muscles"] == ["R_QUAD", "R_TA", "R_AH"]
    assert t["name"] == "Pedicle screw S1_R"
    q = builders.pulses_protocol(BOARD, out="P3", amp_ua=2000, count=3)
    assert "anode" not in q and (q["out"], q["amp_ua"], q["count"]) == ("P3", 2000, 3)
    with pytest.raises(ProtocolChoiceError, match="l_median, r_median"):
        builders.ssep_protocol(BOARD, "ulnar")
    with pytest.raises(ProtocolChoiceError, match="'BICEPS_L' is not in the montage"):
        builders.mep_protocol(BOARD, muscles=["BICEPS_L"])


def test_an_alarm_keeps_the_units_figures_and_reads_as_one_line() -> None:
    # host only: the SSEP amplitude alarm event as docs/ALARMS.md gives it
    event = {"alarm": "ssep_amplitude", "modality": "SSEP", "name": "P37/N45", "ch": 2,
             "stream": "l_tibial", "run": 7, "baseline_uv": 2.82, "value_uv": 0.94,
             "change_pct": -66.6, "limit_pct": -50.0, "averages": 2,
             "label": "focal", "spread": [2, 4], "t_ms": 14685211}
    a = Alarm.from_unit(event)
    assert (a.kind, a.name, a.channel, a.modality, a.run, a.cleared, a.t_ms) == \
        ("ssep_amplitude", "P37/N45", 2, "SSEP", 7, False, 14685211)
    assert a.figures["value_uv"] == 0.94 and a.figures["spread"] == [2, 4] and "alarm" not in a.figures
    assert str(a) == "ALARM ssep_amplitude P37/N45 ch 2: 2.82 -> 0.94 uV (-66.6 %, limit -50.0 %)"
    assert str(Alarm.from_unit(dict(event, cleared=True))).startswith("cleared ssep_amplitude P37/N45 ch 2:")
