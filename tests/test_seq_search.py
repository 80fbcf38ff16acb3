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


def pairs(trace: list[int]) -> list[tuple[int, int]]:
    """A search's flat trace as (amplitude, responding muscles) per pulse."""
    return list(zip(trace[::2], trace[1::2], strict=True))

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


def detectors(thresholds_ua: list[float], seed: int = 1):
    """One response per muscle, each with its own threshold."""
    dets = [detector(t, seed + 1000 * k) for k, t in enumerate(thresholds_ua)]
    return lambda amp: [d(amp) for d in dets]


@pytest.mark.parametrize("mode", ["step", "bisect"])
@pytest.mark.parametrize("thr", [1800.0, 6300.0, 11700.0])
def test_search_ramps_from_the_start_and_brackets_each_threshold(mode: str, thr: float) -> None:
    muscles = [thr, thr * 1.4]
    s = search.ThresholdSearch(500, 20000, 500, 100, 2, mode)
    r = search.run_search(s, detectors(muscles), 100)
    amps = [a for a, _ in pairs(r["trace"])]
    # Never the top first: the first pulse is the start current, and the
    # ramp climbs from there.
    assert amps[0] == 500 and amps[1] > 500
    for k, t in enumerate(muscles):
        crossing = true_crossing(t, 100)
        got = r["thresholds"][k]
        if crossing > 20000:
            assert got is None
            continue
        # Within the resolution of the noiseless crossing (the slope near
        # the level is steep against 5 uV of noise).
        assert got is not None and abs(got - crossing) <= 100, (k, got, crossing)
    assert r["threshold"] == min(t for t in r["thresholds"] if t is not None)
    assert r["steps"] <= search.max_steps(500, 20000, 500, 100, 2, mode)


def test_a_response_counts_only_when_two_of_three_pulses_evoke_it() -> None:
    # A single spike at 2 mA (noise, a twitch) and a real threshold at 6 mA.
    seen: dict[int, int] = {}

    def det(amp: int) -> list[float]:
        seen[amp] = seen.get(amp, 0) + 1
        if amp == 2000 and seen[amp] == 1:
            return [300.0]
        return [300.0 if amp >= 6000 else 10.0]

    r = search.run_search(search.ThresholdSearch(500, 20000, 500, 100, 1, "step"), det, 100)
    assert seen[2000] == 3  # fired again at the same current, the vote split: a third ...
    assert r["thresholds"] == [6000]  # ... and the lone spike did not count
    # The accepted response was seen twice in a row at its current, and
    # the bisection below it found silence down to the resolution.
    trace = pairs(r["trace"])
    i = trace.index((6000, 1))
    assert trace[i + 1] == (6000, 1)
    assert all(bits == 0 for a, bits in trace[i + 2:] if a < 6000)
    assert max(a for a, bits in trace if a < 6000) >= 6000 - 100


def test_bisect_mode_doubles_up_from_the_start() -> None:
    r = search.run_search(search.ThresholdSearch(500, 20000, 500, 100, 1, "bisect"),
                          detectors([6300.0]), 100)
    amps = [a for a, _ in pairs(r["trace"])]
    assert amps[:5] == [500, 1000, 2000, 4000, 8000]
    assert max(amps) == 8000  # no higher than the first current that responded


def test_no_response_in_range_reports_none() -> None:
    for mode in ("step", "bisect"):
        r = search.run_search(search.ThresholdSearch(500, 5000, 500, 100, 1, mode),
                              detectors([40000.0]), 100)
        assert r["threshold"] is None and not r["found"] and r["thresholds"] == [None]
        assert max(a for a, _ in pairs(r["trace"])) == 5000


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
    det = detectors([6300.0, 9100.0])
    responses: dict[int, list[float]] = {}

    def measured(a: int) -> list[float]:
        if a not in responses:
            responses[a] = det(a)
        return responses[a]

    want = [search.run_search(search.ThresholdSearch(500, 20000, 500, 100, 2, mode, 10),
                              measured, 100)["thresholds"] for mode in ("step", "bisect")]
    # Only the currents the searches asked for: a unit's heap holds those.
    got = run_image(firmware_image, "search_replay.py",
                    {str(k): v for k, v in responses.items()}, runtime=runtime)
    assert got == [want] and None not in want[0]


def test_search_against_the_models_trial_to_trial_spread() -> None:
    # The simulated unit's recruitment curve, each trial's response scaled
    # by the model's lognormal spread (15 %), 300 searches per screw with
    # the protocol's vote (3 of at most 5): against the current at which
    # the median trial reaches the level, the error stays within 0.5 mA
    # wherever the threshold is below the 8 mA alarm limit.
    import numpy as np
    from simunit.physiology import MOTOR, ROOT_MAX_UV, ROOT_SLOPE, ROOT_W_REF, recruitment

    rng = np.random.default_rng(11)
    for thr_ma, weight in ((2.8, 1.0), (2.8, 0.3), (3.5, 1.0), (6.0, 1.0)):
        def median_uv(a: float, thr_ma: float = thr_ma, weight: float = weight) -> float:
            r = recruitment(a * 200 / 1e6, 200, thr_ma * ROOT_W_REF / 1000, ROOT_W_REF,
                            MOTOR["chronaxie"], ROOT_SLOPE)
            return ROOT_MAX_UV * weight * r

        lo, hi = 0.0, 30000.0
        while hi - lo > 1:
            lo, hi = (lo, (lo + hi) / 2) if median_uv((lo + hi) / 2) >= 50 else ((lo + hi) / 2, hi)
        errs = []
        for _ in range(300):
            s = search.ThresholdSearch(500, 20000, 500, 100, 1, "step", 10, 3)
            r = search.run_search(s, lambda a: [median_uv(a) * rng.lognormal(0.0, 0.15)], 50)
            errs.append(abs(r["thresholds"][0] - hi) / 1000)
        assert max(errs) <= 0.5 and float(np.median(errs)) <= 0.1, (thr_ma, weight, max(errs))


def test_a_ramp_silence_by_chance_is_voted_on_again() -> None:
    # Silent by chance at 4.5 mA on the ramp (one pulse), a response at
    # every pulse from 4.2 mA otherwise: the bracket's bottom is voted on
    # again and the threshold is not pushed above 4.5 mA.
    seen: dict[int, int] = {}

    def det(amp: int) -> list[float]:
        seen[amp] = seen.get(amp, 0) + 1
        if amp == 4500 and seen[amp] == 1:
            return [0.0]
        return [300.0 if amp >= 4200 else 0.0]

    r = search.run_search(search.ThresholdSearch(500, 20000, 500, 100, 1, "step", 10, 2), det, 100)
    assert seen[4500] >= 3 and r["thresholds"][0] is not None
    assert 4200 <= r["thresholds"][0] <= 4300


def test_each_muscle_is_judged_against_its_own_noise() -> None:
    from stimfw.stim.detect import Detector

    d = Detector(2, 50, 3)
    # Muscle 0 quiet (8 uV pre-stimulus peak-to-peak), muscle 1 noisy (40 uV).
    bits = [d.feed([80.0, 80.0], [8.0, 40.0]) for _ in range(4)]
    # 80 uV clears the quiet muscle's floor (50 uV, above 3 x 8) but not the
    # noisy one's own level (3 x 40 = 120 uV).
    assert bits == [0b01] * 4 and d.levels() == [50, 120]
    assert d.feed([40.0, 130.0], [8.0, 40.0]) == 0b10


def test_a_step_the_limits_refuse_ends_the_search() -> None:
    import copy
    from types import SimpleNamespace

    from stimbox import protocols
    from stimbox.build import board_module
    from stimfw.core import errors as err
    from stimfw.stim import protocol
    from stimfw.stim.stepping import Steps
    from stimfw.stim.timeline import Timeline

    bd = board_module("sim")
    spec = protocol.normalise(protocols.load("temg", bd), bd)
    # Limits tighter than those the protocol was validated under: 2 mA.
    limits = copy.deepcopy(bd.LIMITS)
    limits["outputs"]["PR"]["amp_max"] = 2000
    tight = SimpleNamespace(OUTPUTS=bd.OUTPUTS, LIMITS=limits)
    st = Steps(spec, tight)
    tl = Timeline(4)
    fired = []
    while st.fill(tl) is not None:
        fired.append(abs(tl.amp[0]))
        st.respond([0.0, 0.0, 0.0], [5.0, 5.0, 5.0])
    assert fired == [500, 1000, 1500, 2000]  # never the refused 2.5 mA
    r = st.result()
    assert r["refused"]["limit"] == "amplitude" and r["refused"]["value"] == 2500
    assert r["refused"]["max"] == 2000
    # A first step already over the limits refuses the start itself.
    limits["outputs"]["PR"]["amp_max"] = 400
    with pytest.raises(err.LimitRefused):
        Steps(spec, tight).fill(tl)
