"""The model's D-wave (simunit/dwave.py), on the hardware model alone:
latency set by the epidural pair's cord level, amplitude growing with the
pulse's strength and saturating, the cord_ischaemia insult cutting the
caudal pair and sparing the rostral one, and the wave on the amplifier's
channels 16 and 17 where the truth says it is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from simunit import dwave, scenarios
from simunit.boardfiles import OUTPUT_INDEX, board
from simunit.model import HardwareModel
from simunit.montage import CHANNEL_INDEX, CHANNELS

TC = OUTPUT_INDEX["TC"]
EL = board.OUTPUTS[TC]["electrodes"]


def single(volts: int) -> dict[str, list[int]]:
    """One transcranial pulse, Cz anode, Fz cathode, 75 us."""
    return {"t_us": [0], "output": [TC], "amp": [volts * 1000], "w1_us": [75], "gap_us": [0],
            "w2_us": [0], "amp2": [0], "anodes": [1 << EL.index("Cz")], "cathodes": [1 << EL.index("Fz")]}


def pulse_truth(m: HardwareModel, volts: int) -> dict:
    m.fire(m.now_us() + 1000, single(volts))
    m.advance(1.0)
    return m.trials[-1][3]


def test_the_strip_is_added_after_the_other_channels() -> None:
    assert board.AMP_CHANNELS == len(CHANNELS) == 18
    assert [c.name for c in CHANNELS[16:]] == ["ES1-ES2", "ES3-ES4"]
    assert CHANNELS[3].name == "Cv5-Fz" and CHANNELS[15].name == "AH_R"  # the others unmoved
    assert {c.active for c in CHANNELS[16:]} | {c.ref for c in CHANNELS[16:]} <= set(board.AMP_ELECTRODES)


@pytest.mark.parametrize("level,lo,hi", [("C2", 1.8, 2.6), ("C5", 2.3, 3.2), ("T1", 3.2, 4.0),
                                         ("T6", 4.5, 5.5), ("T10", 5.6, 7.0), ("T12", 6.2, 7.5)])
def test_latency_follows_the_cord_level(level: str, lo: float, hi: float) -> None:
    # ionm.md: about 2-4 ms at cervical, 5-8 ms at thoracic levels
    assert lo <= dwave.latency_ms(level) <= hi


def test_a_scenario_sets_the_pairs_levels(tmp_path: Path) -> None:
    p = tmp_path / "cervical.toml"
    p.write_text('name = "cervical"\n[dwave]\nrostral = "C2"\ncaudal = "C7"\n')
    m = HardwareModel(scenario=str(p), seed=3)
    g = m.ground_truth()["dwave"]
    assert (g["rostral"]["level"], g["caudal"]["level"]) == ("C2", "C7")
    t = pulse_truth(m, 250)
    for role in ("rostral", "caudal"):
        assert t["D_" + role]["latency_ms"] == pytest.approx(dwave.latency_ms(g[role]["level"]), abs=0.15)
    assert 1.8 < t["D_rostral"]["latency_ms"] < t["D_caudal"]["latency_ms"] < 3.6
    p.write_text('name = "bad"\n[dwave]\ncaudal = "L9"\n')
    with pytest.raises(ValueError, match="no cord level 'L9'"):
        scenarios.load(str(p))


def test_amplitude_grows_with_the_stimulus_and_saturates() -> None:
    m = HardwareModel(seed=5)
    amps = []
    for volts in (60, 100, 150, 250, 400, 600):
        a = [pulse_truth(m, volts)["D_rostral"]["amplitude_uV"] for _ in range(6)]
        amps.append(float(np.mean(a)))
    assert amps[0] < 0.2 * amps[-1]
    assert all(b > a for a, b in zip(amps[:4], amps[1:5], strict=True))
    assert amps[-1] == pytest.approx(amps[-2], rel=0.06)  # saturated
    assert amps[-1] == pytest.approx(dwave.max_uv("T4"), rel=0.06)


def test_cord_ischaemia_cuts_the_caudal_dwave_and_spares_the_rostral() -> None:
    m = HardwareModel(scenario="cord_ischaemia", seed=6)
    before = pulse_truth(m, 250)
    g0 = m.ground_truth()["dwave"]
    m.advance(400.0)  # the insult's ramp (from 120 s over 180 s) complete
    after = pulse_truth(m, 250)
    g1 = m.ground_truth()["dwave"]
    assert g1["caudal"]["max_amplitude_uV"] == 0 < g0["caudal"]["max_amplitude_uV"]
    assert g1["rostral"] == g0["rostral"]
    assert after["D_caudal"]["amplitude_uV"] == 0 < before["D_caudal"]["amplitude_uV"]
    assert after["D_rostral"]["amplitude_uV"] == pytest.approx(before["D_rostral"]["amplitude_uV"], rel=0.2)


def test_the_recording_carries_the_wave_the_truth_names() -> None:
    m = HardwareModel(seed=8)
    rate, pre, n = 10000, 50, 250
    chans = [CHANNEL_INDEX["ES1-ES2"], CHANNEL_INDEX["ES3-ES4"]]
    acc = np.zeros((n, 2))
    truths = []
    for _ in range(20):
        start = m.now_us() + 1000
        m.fire(start, single(250))
        acc += m.acquire(start - pre * 100, rate, n, chans).astype(float) * board.AMP_UV_PER_LSB
        truths.append(m.trials[-1][3])
        m.advance(0.9)
    avg = acc / 20
    for col, role in enumerate(("rostral", "caudal")):
        lat = np.mean([t["D_" + role]["latency_ms"] for t in truths])
        pp = np.mean([t["D_" + role]["amplitude_uV"] for t in truths])
        i = pre + int(np.argmin(avg[pre + 25:, col])) + 25  # past the stimulus artifact
        assert (i - pre) / 10 == pytest.approx(lat, abs=0.15)
        seg = avg[i - 5 : i + 15, col]
        assert seg.max() - seg.min() == pytest.approx(pp, rel=0.2)
