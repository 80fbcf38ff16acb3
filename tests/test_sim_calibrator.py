"""The model's recording chain errors and its calibrator, driven directly
under CPython (no firmware): a channel's gain scales all it records, its
delay shifts every time-locked signal on it and nothing else, channels on
the calibrator see no patient, and the calibrator's signal is the known
waveform. Scenario [stage.<OUT>] / [[amp]] tables and the model's options
are checked and applied. The same chain through the firmware:
test_calibrator_sim.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from simunit import calibrator, scenarios
from simunit.boardfiles import OUTPUT_INDEX, board
from simunit.model import HardwareModel, ModelError
from simunit.signals import AMP_NOISE_UV, FULL_SCALE_UV

UV = board.AMP_UV_PER_LSB
RATE = 5000
COLS = ("t_us", "output", "amp", "w1_us", "gap_us", "w2_us", "amp2", "anodes", "cathodes")


def one_pulse(output: str, amp_ua: int, t_us: int = 0) -> dict[str, list[int]]:
    row = (t_us, OUTPUT_INDEX[output], amp_ua, 200, 0, 0, 0, 1, 2)
    return {k: [row[i]] for i, k in enumerate(COLS)}


def record(m: HardwareModel, chans: list[int], output: str | None = "P1", amp_ua: int = 5000,
           pre_ms: float = 10, post_ms: float = 90) -> np.ndarray:
    """Fire one pulse 20 ms from now (none if output is None) and record
    around it, uV, (samples, channels); the same window on every model."""
    start = m.now_us() + 20_000
    if output is not None:
        m.fire(start, one_pulse(output, amp_ua))
    n = int((pre_ms + post_ms) * RATE / 1000)
    return m.acquire(start - int(pre_ms * 1000), RATE, n, chans).astype(float) * UV


def test_gain_error_scales_everything_the_channel_records() -> None:
    # channel 4 (EPL-Fz) sees the P1 artifact, the N9 and its background
    a = record(HardwareModel(seed=3), [1, 4], amp_ua=40000)  # 6 mV of artifact: pinned
    m = HardwareModel(seed=3)
    m.sim({"amp": {"channel": 4, "gain_error": 0.05}})
    b = record(m, [1, 4], amp_ua=40000)
    assert np.array_equal(a[:, 0], b[:, 0])  # the other channel untouched
    free = np.abs(a[:, 1]) < 0.95 * FULL_SCALE_UV  # a pinned overload stays at the rail
    assert free.sum() > 400 and (~free).sum() > 0
    assert np.max(np.abs(b[free, 1] - 1.05 * a[free, 1])) <= 1.1 * UV  # two roundings
    assert np.array_equal(a[~free, 1], b[~free, 1])


def test_delay_shifts_time_locked_signals_and_nothing_else() -> None:
    # time-locked part = the recording less the same window without a pulse
    # (background, noise and mains are the same draws on the same seed)
    def locked(delay_us: float) -> np.ndarray:
        m = HardwareModel(seed=4)
        m.sim({"amp": {"channel": 4, "delay_us": delay_us}})
        quiet = HardwareModel(seed=4)
        quiet.sim({"amp": {"channel": 4, "delay_us": delay_us}})
        return record(m, [4], amp_ua=5000)[:, 0] - record(quiet, [4], output=None)[:, 0]

    on_time, late = locked(0.0), locked(1000.0)  # 5 samples at 5 kHz
    assert np.max(np.abs(on_time)) > 50  # the artifact and the N9 are there
    assert np.max(np.abs(on_time)) < 0.9 * FULL_SCALE_UV
    assert np.max(np.abs(late[5:] - on_time[:-5])) <= 2 * UV
    assert np.max(np.abs(late[:55])) <= 2 * UV  # nothing before the pulse, 1 ms later


def test_calibrator_channels_see_no_patient(tmp_path: Path) -> None:
    noisy = tmp_path / "noisy.toml"
    noisy.write_text('name = "noisy"\n[bursts]\nmovement_per_min = 60\ncautery_per_min = 60\n')
    m = HardwareModel(scenario=str(noisy), seed=2)
    m.sim({"electrode": {"name": "CP4", "ohms": 300e3}})  # mains pickup on channel 1
    before = record(m, [1], amp_ua=25000, post_ms=2000)[:, 0]
    assert np.std(before) > 20 * AMP_NOISE_UV
    m.sim({"calibrator": {"mode": "short", "channels": [1, 4]}})
    for _ in range(3):  # pulses, artifact, bursts, mains: only amplifier noise is left
        y = record(m, [1, 4, 0], amp_ua=25000, post_ms=2000)
        for col in (0, 1):
            assert 0.9 * AMP_NOISE_UV <= np.std(y[:, col]) <= 1.1 * AMP_NOISE_UV
            assert np.max(np.abs(y[:, col])) <= 6 * AMP_NOISE_UV
        assert np.std(y[:, 2]) > 20 * AMP_NOISE_UV  # channel 0 is still on the patient


def test_signal_mode_is_the_known_waveform_after_each_trigger_pulse() -> None:
    spec = {"mode": "signal", "channels": [2], "trigger": "P1", "freq_hz": 200.0, "amp_uv": 500.0,
            "delay_ms": 5.0}
    m = HardwareModel(seed=1)
    state = m.sim({"calibrator": spec})["calibrator"]
    assert state == dict(spec, waveform="sine1")
    m.sim({"amp": {"channel": 2, "gain_error": -0.1, "delay_us": 600}})
    t_us = (np.arange(500) - 50) * 200.0  # the record() window, from the pulse
    y = record(m, [2], output="P1", amp_ua=25000)[:, 0]
    want = 0.9 * calibrator.waveform(state, t_us - 600)
    assert np.max(np.abs(y - want)) <= 6 * AMP_NOISE_UV
    assert np.max(y) > 440  # 450 at the peak, 5 ms + 1.25 ms + 0.6 ms after the pulse
    # a pulse on another output triggers nothing
    y = record(m, [2], output="P2", amp_ua=25000)[:, 0]
    assert np.max(np.abs(y)) <= 6 * AMP_NOISE_UV


def test_mains_mode_is_a_continuous_sine_at_the_mains_frequency() -> None:
    m = HardwareModel(seed=1)  # stable_baseline: 50 Hz
    state = m.sim({"calibrator": {"mode": "mains", "channels": [0], "amp_uv": 100}})["calibrator"]
    assert state == {"mode": "mains", "channels": [0], "amp_uv": 100.0, "freq_hz": 50.0}
    m.sim({"amp": {"channel": 0, "gain_error": 0.05}})
    t0 = m.now_us() + 10_000
    y = m.acquire(t0, RATE, RATE, [0])[:, 0].astype(float) * UV
    t = (t0 + np.arange(RATE) * 1e6 / RATE) * 1e-6
    s, c = np.sin(2 * np.pi * 50 * t), np.cos(2 * np.pi * 50 * t)
    assert abs(2 * np.mean(y * s) - 105.0) < 0.2 and abs(2 * np.mean(y * c)) < 0.2


def test_waveform_is_one_cycle_of_sine_from_the_delay() -> None:
    spec = calibrator.parse({"mode": "signal", "channels": [1], "freq_hz": 100, "amp_uv": 200, "delay_ms": 10},
                            50.0)
    t = np.array([0.0, 9_999.0, 10_000.0, 12_500.0, 15_000.0, 17_500.0, 19_999.0, 20_000.0, 30_000.0])
    y = calibrator.waveform(spec, t)
    assert np.allclose(y[[0, 1, 2, 4, 7, 8]], 0.0, atol=1e-9)
    assert y[3] == pytest.approx(200.0) and y[5] == pytest.approx(-200.0)
    assert abs(y[6]) < 0.2
    for mode in ({"mode": "off"}, {"mode": "short", "channels": [1]}):
        assert not np.any(calibrator.waveform(calibrator.parse(mode, 50.0), t))


@pytest.mark.parametrize("req,message", [
    ({"mode": "sweep"}, "no mode 'sweep'; modes: off, signal, short, mains"),
    ({"mode": "signal"}, "needs channels"),
    ({"mode": "signal", "channels": [1, 1]}, "channels repeat"),
    ({"mode": "signal", "channels": [18]}, "no channel 18"),
    ({"mode": "signal", "channels": [1], "amp_uv": 2001}, "amp_uv must be 0..2000"),
    ({"mode": "signal", "channels": [1], "trigger": "P7"}, "no output 'P7'"),
    ({"mode": "signal", "channels": [1], "waveform": "square"}, "no waveform 'square'"),
    ({"mode": "signal", "channels": [1], "freq_hz": 0}, "freq_hz must be 1..2000"),
    ({"mode": "signal", "channels": [1], "delay_ms": "soon"}, "delay_ms must be a number"),
    ({"mode": "mains", "channels": [1], "trigger": "P1"}, "unknown key"),
    ({"mode": "off", "channels": [1]}, "unknown key"),
])
def test_bad_calibrator_requests_are_one_line(req: dict, message: str) -> None:
    m = HardwareModel()
    with pytest.raises(ModelError, match=message) as e:
        m.sim({"calibrator": req})
    assert "\n" not in str(e.value)
    assert m.calibrator == {"mode": "off"}


@pytest.mark.parametrize("req,message", [
    ({"gain_error": 0.1}, "amp: give a table with channel"),
    ({"channel": 18}, "channel must be 0..17"),
    ({"channel": 1, "gain": 0.1}, "known: \\['gain_error', 'delay_us'\\]"),
    ({"channel": 1, "gain_error": "x"}, "gain_error must be a number"),
    ({"channel": 1, "delay_us": -5}, "delay_us must be 0..10000"),
])
def test_bad_amp_requests_are_one_line(req: dict, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        HardwareModel().sim({"amp": req})


def test_amp_request_sets_and_restores_a_channel() -> None:
    m = HardwareModel()
    assert m.sim({"amp": {"channel": 3, "gain_error": 0.05, "delay_us": 100}})["amp"] == {
        "channel": 3, "gain_error": 0.05, "delay_us": 100.0}
    assert m.ground_truth()["amp"] == {"3": {"gain_error": 0.05, "delay_us": 100.0}}
    assert m.sim({"amp": {"channel": 3}})["amp"] == {"channel": 3, "gain_error": 0.0, "delay_us": 0.0}
    assert m.amp_errors == {} and m.ground_truth()["amp"] == {}


def test_scenario_stage_and_amp_tables(tmp_path: Path) -> None:
    m = HardwareModel(scenario="miscalibrated_unit")
    gt = m.ground_truth()
    assert gt["output_stage"]["P1"]["gain_error"] == -0.05
    assert gt["amp"] == {"3": {"gain_error": 0.05, "delay_us": 0.0}}
    # options on top of the scenario
    m = HardwareModel(scenario="miscalibrated_unit", stage={"P1": {"jitter_us": 2.0}}, amp={3: {"delay_us": 50}})
    assert m.stage[OUTPUT_INDEX["P1"]].gain_error == -0.05 and m.stage[OUTPUT_INDEX["P1"]].jitter_us == 2.0
    assert m.amp_errors[3].delay_us == 50.0 and m.amp_errors[3].gain_error == 0.0

    def bad(text: str, message: str) -> None:
        p = tmp_path / "bad.toml"
        p.write_text(text)
        with pytest.raises(ValueError, match=message) as e:
            scenarios.load(str(p))
        assert "\n" not in str(e.value)

    bad("[stage.P9]\ngain_error = 0.1\n", "no output 'P9'")
    bad("[stage.P1]\ngain = 0.1\n", "unknown output stage parameter.*known:")
    bad("[[amp]]\nchannel = 30\n", "channel must be 0..17")
    bad("[[amp]]\ngain_error = 0.1\n", "each needs a channel")
    bad("[[amp]]\nchannel = 1\nphase = 2\n", "known: \\['gain_error', 'delay_us'\\]")
    bad("[[amp]]\nchannel = 1\n[[amp]]\nchannel = 1\n", "channel 1 twice")


def test_bad_options_are_refused() -> None:
    with pytest.raises(ModelError, match="output P1: unknown output stage parameter"):
        HardwareModel(stage={"P1": {"gian_error": 0.1}})
    with pytest.raises(ModelError, match="no output 'Q1'"):
        HardwareModel(stage={"Q1": {"gain_error": 0.1}})
    with pytest.raises(ModelError, match="amplifier gain_error must be within"):
        HardwareModel(amp={2: {"gain_error": 3}})


def test_triggers_are_forgotten_with_the_ring() -> None:
    m = HardwareModel()
    m.sim({"calibrator": {"mode": "signal", "channels": [1]}})
    record(m, [1])
    assert len(m.cal_triggers) == 1
    m.advance(40)
    m.acquire(m.now_us(), RATE, 10, [1])
    assert m.cal_triggers == []
