"""The recording chain against the built-in calibrator, on both runtimes:
channels on the calibrator record a known signal (simunit.calibrator.
waveform), and the average the unit measured of an SSEP-type run whose
trigger output fires the calibrator is compared with that signal passed
through the run's band here on the host (scipy, as the device filters:
docs/DSP.md), never with the unit's own idea. A channel's gain error
scales the average, its delay shifts it; shorted inputs leave the model's
amplifier noise in band. Scenario files and SimUnit options (what `stimbox
sim --stage/--amp` pass) miscalibrate the unit, as its ground truth says.

Measured (seed 5, 60 sweeps, 200 uV one-cycle 100 Hz sine, 30-1000 Hz):
the unit's causal average within 0.13 uV of the expected (peak 137 uV:
0.1%) on both runtimes; gain ratios 1.0000 and 1.0500 for a nominal and a
+5% channel; shorted inputs 0.025-0.029 uV r.m.s. over 100 sweeps."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import signal
from simunit import calibrator
from simunit.signals import AMP_NOISE_UV
from simunit.supervisor import SimUnit
from stimbox import protocols
from stimbox.build import board_module, install_offline
from stimbox.client import StimBox
from stimbox.session import run_protocol
from stimfw.dsp import filters as device_filters

BOARD = board_module("sim")
BASE_N = 16  # samples whose mean the device removes from a sweep before filtering (stimfw/dsp/fixed.py)
# The unit's average against the expected, anywhere in the sweep: 1% of the
# filtered peak (137 uV here). What is left is noise averaged down (0.03 uV
# r.m.s. after 60 sweeps), the converter's 0.125 uV step and the fixed-point
# filter; a wrong gain of 5% or a wrong delay of 1 ms misses by 5-25x this.
TOL = 0.01
RATIO_TOL = 0.003  # gain ratio, measured against known: 1.0000 and 1.0500 seen
SIGNAL = {"mode": "signal", "channels": [1, 3, 4], "trigger": "P1", "waveform": "sine1",
          "freq_hz": 100.0, "amp_uv": 200.0, "delay_ms": 10.0}


def protocol(count: int) -> dict[str, Any]:
    """Left median SSEP alone, recorded on channels 1, 3 and 4, no components."""
    p = protocols.load("ssep", BOARD)
    site = dict(p["sites"][0])
    assert site["out"] == "P1"
    rec = {k: v for k, v in site["record"].items() if k != "components"}
    site["record"] = dict(rec, channels=[1, 3, 4])
    return dict(p, sites=[site], count=count)


def expected(spec: dict[str, Any], record: dict[str, Any], gain: float = 1.0, delay_us: float = 0.0) -> np.ndarray:
    """What the unit's average of a calibrator channel should be: the known
    signal on the sweep's sample grid (pre samples before the trigger), the
    mean of its first BASE_N samples removed, through the band from zero
    state (the device's causal sweep chain, docs/DSP.md)."""
    rate = record["rate_hz"]
    pre = int(record["pre_ms"] * rate / 1000)
    n = pre + int(record["post_ms"] * rate / 1000)
    t_us = (np.arange(n) - pre) * 1e6 / rate
    x = gain * calibrator.waveform(spec, t_us - delay_us)
    sos = np.asarray(device_filters.from_config(record), dtype=float)
    return signal.sosfilt(sos, x - x[:BASE_N].mean())


def worst(avg: np.ndarray, want: np.ndarray) -> float:
    """Largest miss, as a fraction of the expected peak."""
    return float(np.max(np.abs(avg - want)) / np.max(np.abs(want)))


def test_calibrator_signal_through_the_chain_with_gain_and_delay(firmware_image, new_unit) -> None:
    unit: SimUnit = new_unit(seed=5)
    install_offline(firmware_image, unit.flash)
    p = protocol(60)
    rec = p["sites"][0]["record"]
    with unit, StimBox.connect(unit.port) as box:
        assert box.info()["calibrator"] == {"modes": ["signal", "short", "mains"], "waveforms": ["sine1"],
                                            "max_uv": 2000}
        spec = box.sim(calibrator=SIGNAL)["calibrator"]
        assert spec == dict(SIGNAL)
        assert box.sim(amp={"channel": 3, "gain_error": 0.05})["amp"] == {
            "channel": 3, "gain_error": 0.05, "delay_us": 0.0}
        box.sim(amp={"channel": 4, "delay_us": 1000})
        truth = box.sim(groundtruth=True)["groundtruth"]
        assert truth["calibrator"] == spec
        assert truth["amp"] == {"3": {"gain_error": 0.05, "delay_us": 0.0},
                                "4": {"gain_error": 0.0, "delay_us": 1000.0}}  # the rest nominal
        r = run_protocol(box, p)
        assert r.outcome == "complete"
        (stream,) = r.recording["streams"]
        assert stream["accepted"] == [60, 60, 60]
        avg = {ch: np.array(box.average("l_median", "ab", ch)) for ch in (1, 3, 4)}
    nominal = expected(spec, rec)
    # a nominal channel: the known signal, through the band
    assert worst(avg[1], nominal) <= TOL
    # +5% gain: the same shape 1.05 times as large, and nothing else
    ratio = float(avg[3] @ nominal / (nominal @ nominal))
    assert abs(ratio - 1.05) <= RATIO_TOL, ratio
    assert abs(float(avg[1] @ nominal / (nominal @ nominal)) - 1.0) <= RATIO_TOL
    assert worst(avg[3], expected(spec, rec, gain=1.05)) <= TOL
    assert worst(avg[3], nominal) > 3 * TOL
    # 1 ms late: the peak 5 samples later at 5 kHz, the whole wave as expected
    late = expected(spec, rec, delay_us=1000)
    assert worst(avg[4], late) <= TOL
    assert worst(avg[4], nominal) > 10 * TOL
    assert int(np.argmax(avg[4])) - int(np.argmax(avg[1])) == 5
    assert int(np.argmax(avg[1])) == int(np.argmax(nominal))


def test_shorted_inputs_leave_the_amplifier_noise_in_band(firmware_image, new_unit) -> None:
    count = 100
    unit: SimUnit = new_unit(seed=6)
    install_offline(firmware_image, unit.flash)
    p = protocol(count)
    rec = p["sites"][0]["record"]
    with unit, StimBox.connect(unit.port) as box:
        assert box.sim(calibrator={"mode": "short", "channels": [1, 3]})["calibrator"] == {
            "mode": "short", "channels": [1, 3]}
        r = run_protocol(box, p)
        assert r.outcome == "complete"
        avg = {ch: np.array(box.average("l_median", "ab", ch)) for ch in (1, 3, 4)}
    # The model's white amplifier noise through the band: r.m.s. times the
    # band's noise gain (root sum of its impulse response squared), over
    # sqrt(sweeps) for the average.
    sos = np.asarray(device_filters.from_config(rec), dtype=float)
    impulse = np.zeros(4000)
    impulse[0] = 1.0
    floor = AMP_NOISE_UV * float(np.sqrt(np.sum(signal.sosfilt(sos, impulse) ** 2))) / np.sqrt(count)
    pre = int(rec["pre_ms"] * rec["rate_hz"] / 1000)
    for ch in (1, 3):
        rms = float(np.sqrt(np.mean(avg[ch][pre:] ** 2)))  # after the trigger: no artifact either
        assert 0.7 * floor <= rms <= 1.4 * floor, (ch, rms, floor)
    # channel 4 (EPL-Fz) is still on the patient: the P1 artifact and the N9
    assert np.max(np.abs(avg[4])) > 100 * floor


def test_scenario_and_options_miscalibrate_the_unit(firmware_image, new_unit) -> None:
    unit: SimUnit = new_unit(scenario="miscalibrated_unit", stage={"P2": {"gain_error": 0.03}},
                             amp={5: {"delay_us": 100}})
    install_offline(firmware_image, unit.flash)
    with unit, StimBox.connect(unit.port) as box:
        truth = box.sim(groundtruth=True)["groundtruth"]
        assert truth["scenario"]["name"] == "miscalibrated_unit"
        assert truth["output_stage"]["P1"]["gain_error"] == -0.05  # the scenario's
        assert truth["output_stage"]["P2"]["gain_error"] == 0.03  # the option's
        assert truth["output_stage"]["P3"]["gain_error"] == 0.0
        assert truth["amp"] == {"3": {"gain_error": 0.05, "delay_us": 0.0}, "5": {"gain_error": 0.0, "delay_us": 100.0}}
        assert truth["calibrator"] == {"mode": "off"}
        # A scenario describes the unit: loading another makes it nominal.
        box.sim(scenario="stable_baseline")
        truth = box.sim(groundtruth=True)["groundtruth"]
        assert truth["output_stage"]["P1"]["gain_error"] == 0.0
        assert truth["amp"] == {}


@pytest.mark.parametrize("request_,message", [
    ({"calibrator": {"mode": "pulse", "channels": [1]}}, "no mode 'pulse'"),
    ({"calibrator": {"mode": "signal", "channels": [1], "amp_uv": 2500}}, "amp_uv must be 0..2000"),
    ({"calibrator": {"mode": "signal", "channels": [18]}}, "no channel 18"),
    ({"calibrator": {"mode": "short", "channels": [1], "amp_uv": 10}}, "unknown key"),
    ({"amp": {"channel": 3, "gain": 0.05}}, "known: \\['gain_error', 'delay_us'\\]"),
])
def test_bad_requests_are_refused_in_one_line(box: StimBox, request_: dict, message: str) -> None:
    from stimbox.errors import DeviceError

    with pytest.raises(DeviceError, match=message) as e:
        box.sim(**request_)
    assert "\n" not in str(e.value)
    assert box.sim(groundtruth=True)["groundtruth"]["calibrator"] == {"mode": "off"}
