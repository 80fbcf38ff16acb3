"""Threshold search and SCS walk logic against a detector that measures real
(deterministic, synthesised) EMG sweeps: a compound muscle action potential
whose size follows a recruitment curve of the stimulus, in noise, measured
peak-to-peak in a response window. Same results on MicroPython."""

from __future__ import annotations

import math

import pytest
from mpy import BOTH
from seq_common import run_image
from stimfw.stim import search

RATE_HZ = 20000
WINDOW = (3e-3, 13e-3)  # EMG response window after the stimulus


def sweep(amp_ua: int, threshold_ua: float, seed: int, max_uv: float = 800.0) -> list[float]:
    """25 ms of EMG (uV): a biphasic CMAP at 6 ms scaled by a sigmoid
    recruitment curve centred 10 % above threshold_ua, plus 5 uV rms noise."""
    x = (amp_ua - threshold_ua * 1.1) / (0.08 * threshold_ua)
    size = max_uv / (1 + math.exp(-x))
    out = []
    state = seed * 2654435761 % 2**32 or 1
    for n in range(int(0.025 * RATE_HZ)):
        t = n / RATE_HZ
        state = (1103515245 * state + 12345) % 2**31
        noise = ((state >> 8) / 2**23 - 0.5) * 17.3  # uniform, 5 uV rms
        cmap = size * math.sin(2 * math.pi * (t - 6e-3) / 4e-3) * math.exp(-((t - 7e-3) / 1.5e-3) ** 2)
        out.append(cmap + noise)
    return out


def ptp(samples: list[float]) -> float:
    a, b = (int(w * RATE_HZ) for w in WINDOW)
    seg = samples[a:b]
    return max(seg) - min(seg)


def detector(threshold_ua: float, seed: int = 1):
    calls = [0]

    def detect(amp: int) -> float:
        calls[0] += 1
        return ptp(sweep(amp, threshold_ua, seed + calls[0]))

    return detect


def true_crossing(threshold_ua: float, level: float) -> int:
    """The lowest amplitude (uA, 10 uA grid) whose noiseless response reaches level."""
    a = 0
    while ptp(sweep(a, threshold_ua, 0, 800.0)) < level:
        a += 10
    return a


@pytest.mark.parametrize("thr", [1800.0, 6300.0, 11700.0])
def test_step_search_finds_the_first_step_over_the_level(thr: float) -> None:
    s = search.ThresholdSearch(500, 20000, 500, 100, 100, "step")
    r = search.run_search(s, detector(thr))
    assert r["found"]
    crossing = true_crossing(thr, 100)
    # The first step at or above the true crossing (noise is 5 uV rms, the
    # slope near the level is steep), and every earlier step below the level.
    assert r["threshold"] == -(-crossing // 500) * 500
    assert all(resp < 100 for _, resp in r["trace"][:-1]) and r["trace"][-1][1] >= 100
    assert [a for a, _ in r["trace"]] == list(range(500, r["threshold"] + 1, 500))


@pytest.mark.parametrize("thr", [1800.0, 6300.0, 11700.0])
def test_bisection_brackets_the_threshold_to_the_resolution(thr: float) -> None:
    s = search.ThresholdSearch(500, 20000, 500, 100, 100, "bisect")
    r = search.run_search(s, detector(thr))
    crossing = true_crossing(thr, 100)
    assert r["found"] and abs(r["threshold"] - crossing) <= 100
    assert r["steps"] <= 2 + math.ceil(math.log2(19500 / 100)) + 1


def test_no_response_in_range_reports_none() -> None:
    for mode in ("step", "bisect"):
        r = search.run_search(search.ThresholdSearch(500, 5000, 500, 100, 100, mode),
                              detector(40000.0))
        assert r["threshold"] is None and not r["found"]


def test_scs_walk_thresholds_and_laterality() -> None:
    muscles = ["L_TA", "L_GAS", "R_TA", "R_GAS"]
    # A lead left of midline: left muscles respond at lower currents for the
    # first pair, the cathode moved right flips it for the second.
    thr = {0: [2000.0, 2600.0, 3900.0, 4400.0], 1: [4300.0, 5000.0, 2100.0, 2500.0]}

    def detect(pair: int, amp: int) -> list[float]:
        return [ptp(sweep(amp, t, 7 + amp + k)) for k, t in enumerate(thr[pair])]

    r = search.scs_walk([["E3", "E4"], ["E5", "E4"]], muscles, 500, 8000, 250, 50, detect)
    p0, p1 = r["pairs"]
    for p, pair in ((p0, 0), (p1, 1)):
        want = [-(-true_crossing(t, 50) // 250) * 250 for t in thr[pair]]
        assert p["thresholds"] == want
    assert (p0["laterality"], p1["laterality"]) == ("left", "right")
    assert r["laterality"] == "bilateral"


@pytest.mark.parametrize("runtime", BOTH)
def test_search_runs_on_the_device(firmware_image, runtime: str) -> None:
    # Responses measured on CPython, replayed on the unit: same decisions.
    det = detector(6300.0)
    responses = {a: det(a) for a in range(500, 20001, 100)}
    (got,) = run_image(firmware_image, "search_replay.py",
                       {str(k): v for k, v in responses.items()}, runtime=runtime)
    want = [search.run_search(search.ThresholdSearch(500, 20000, 500, 100, 100, mode),
                              lambda a: responses[a])["threshold"] for mode in ("step", "bisect")]
    assert got == want and None not in got
