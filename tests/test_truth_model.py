"""The model's truth average (groundtruth.truth_average), checked against
what its own amplifiers record: the noise-free average of a run's trials
must be what a long recorded average of the same trials converges to, on
the same sample grid, and it must carry the trials' own variability."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import signal
from simunit.boardfiles import board
from simunit.groundtruth import through, wave
from simunit.model import HardwareModel, ModelError
from test_sim_model import average, pulse, timeline

UV = board.AMP_UV_PER_LSB
RATE = 5000
PRE = 50  # 10 ms
# The left median's cortical response 10 times its usual size, no bursts:
# the recorded average then shows the response far above the residual
# background of a few hundred sweeps.
STRONG = """
name = "strong_median"
description = "large left median cortical SSEP"
mains_hz = 50
[bursts]
movement_per_min = 0.0
cautery_per_min = 0.0
[[effect]]
name = "large"
targets = ["ssep.median_L.cortical.*"]
start_s = 0
ramp_s = 0
amplitude = 10.0
"""


def _request(since: int, until: int) -> dict:
    return {"output": "P1", "channel": 1, "since_us": since, "until_us": until,
            "rate_hz": RATE, "pre_ms": 10, "post_ms": 90}


def test_truth_average_is_what_the_recorded_average_converges_to(tmp_path: Path) -> None:
    scen = tmp_path / "strong.toml"
    scen.write_text(STRONG)
    m = HardwareModel(scenario=str(scen), seed=4)
    m.recovery_ms = 0.05  # the stimulus artifact ends with its pulse
    since = m.now_us()
    rec = average(m, timeline(pulse("P1", 25000)), [1], 300)[:, 0]
    rec[PRE - 1:PRE + 3] = rec[PRE - 2]  # blank the 0.2 ms pulse
    t = m.truth_average(_request(since, m.now_us()))
    assert t["trials"] == 300 and t["n"] == len(rec) == 500 and t["pre"] == PRE
    truth = wave(t)
    sos = signal.butter(2, [30, 1000], btype="bandpass", fs=RATE, output="sos")
    # the same band on both; past the stimulus artifact's blanking window
    got = signal.sosfiltfilt(sos, rec)[PRE + 25:]
    want = signal.sosfiltfilt(sos, truth)[PRE + 25:]
    assert np.ptp(want) > 30  # the response: tens of uV
    resid = got - want
    # the residual is the background averaged over 300 sweeps, not a
    # response: a one-sample shift of the truth leaves several times more
    assert np.sqrt(np.mean(resid**2)) < 0.3
    shifted = signal.sosfiltfilt(sos, np.roll(truth, 1))[PRE + 25:]
    assert np.sqrt(np.mean((got - shifted) ** 2)) > 2 * np.sqrt(np.mean(resid**2))
    # a band, applied by scipy's sosfiltfilt to the whole average
    f = through(t, sos.tolist())
    assert np.allclose(wave(f), signal.sosfiltfilt(sos, truth), atol=1e-5)
    with pytest.raises(ValueError, match="whole"):
        through(m.truth_average(dict(_request(since, m.now_us()), first=10)), sos.tolist())


def test_truth_average_carries_the_trials_variability(tmp_path: Path) -> None:
    m = HardwareModel(seed=5)
    since = m.now_us()
    average(m, timeline(pulse("P1", 25000)), [1], 40)
    t = m.truth_average(_request(since, m.now_us()))
    trials = [tr for tr in m.trials if tr[1] == "P1"]
    lat = [tr[3]["N20"]["latency_ms"] for tr in trials]
    # each trial's latency is its own (pathway and component jitter), and the
    # reply's true latency is their mean, not the nominal 19.5 ms
    assert np.std(lat) > 0.1
    assert t["components"]["N20"]["latency_ms"] == pytest.approx(np.mean(lat), abs=1e-3)
    # a part of the average, as the sim request path fetches it
    part = m.truth_average(dict(_request(since, m.now_us()), first=100, count=50))
    assert part["first"] == 100 and np.array_equal(wave(part), wave(t)[100:150])
    # only that run's trials of that output
    assert m.truth_average(_request(m.now_us() + 1, m.now_us() + 2))["trials"] == 0
    assert m.truth_average(dict(_request(since, m.now_us()), output="P2"))["trials"] == 0
    with pytest.raises(ModelError, match="truth_average"):
        m.truth_average({"output": "P1"})
