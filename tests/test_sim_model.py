"""The simulated unit's hardware model, driven directly under CPython:
scenarios, determinism, output stage and loads as the monitor ADC sees them,
physiology, noise and ground truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from simunit import loads, physiology, scenarios
from simunit.boardfiles import OUTPUT_INDEX, board
from simunit.model import HardwareModel, ModelError
from simunit.montage import CHANNEL_INDEX

UV = board.AMP_UV_PER_LSB
COLS = ("t_us", "output", "amp", "w1_us", "gap_us", "w2_us", "amp2", "anodes", "cathodes")
ALL = list(range(16))


def timeline(*rows: tuple[int, ...]) -> dict[str, list[int]]:
    return {k: [r[i] for r in rows] for i, k in enumerate(COLS)}


def pulse(output: str, amp: int, w1: int = 200, t: int = 0, w2: int = 0, amp2: int = 0,
          anodes: int = 1, cathodes: int = 2) -> tuple[int, ...]:
    return (t, OUTPUT_INDEX[output], amp, w1, 0, w2, amp2, anodes, cathodes)


def tc_train(volts: int, n: int = 5, isi_us: int = 3000, anode: str = "C3", cathode: str = "C4") -> dict[str, list[int]]:
    el = board.OUTPUTS[OUTPUT_INDEX["TC"]]["electrodes"]
    a, c = 1 << el.index(anode), 1 << el.index(cathode)
    return timeline(*[pulse("TC", volts * 1000, 75, t=i * isi_us, anodes=a, cathodes=c) for i in range(n)])


def stim_and_record(m: HardwareModel, tl: dict[str, list[int]], chans: list[int], pre_ms: float = 10,
                    post_ms: float = 90, rate: int = 5000) -> np.ndarray:
    """Fire one timeline 1 ms from now and record around its first pulse, in uV."""
    start = m.now_us() + 1000
    m.fire(start, tl)
    n = int((pre_ms + post_ms) * rate / 1000)
    data = m.acquire(start - int(pre_ms * 1000), rate, n, chans)
    assert m.fire_done()
    return data.astype(float) * UV


def average(m: HardwareModel, tl: dict[str, list[int]], chans: list[int], sweeps: int, **kw: float) -> np.ndarray:
    acc = None
    for _ in range(sweeps):
        d = stim_and_record(m, tl, chans, **kw)
        acc = d if acc is None else acc + d
        m.advance(0.2128 - 0.1)  # 4.7 Hz
    assert acc is not None
    return acc / sweeps


def t_ms(i: int, pre_ms: float = 10, rate: int = 5000) -> float:
    return i * 1000 / rate - pre_ms


# --- scenarios and determinism ------------------------------------------------------
SCENARIOS = (
    "stable_baseline", "cord_ischaemia", "acute_unilateral_mep_loss", "anaesthetic_fade",
    "positioning_median_loss", "lead_off", "screw_breach", "scs_left", "scs_midline", "scs_right",
)


def test_every_required_scenario_ships() -> None:
    assert set(SCENARIOS) <= set(scenarios.available())


def _script(m: HardwareModel) -> list[np.ndarray]:
    out = []
    for at_s in (1.0, 400.0):
        m.advance(at_s - m.scenario_time_s())
        out.append(stim_and_record(m, timeline(pulse("P1", 30000)), ALL))
        out.append(stim_and_record(m, tc_train(300), ALL))
        out.append(stim_and_record(m, timeline(pulse("PR", 10000)), ALL, rate=10000))
        out.append(stim_and_record(m, timeline(pulse("SCS", 5000, anodes=1 << 9, cathodes=1 << 8)), ALL))
        out.append(m.monitor(0, 256))
    return out


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_loads_by_name_and_is_deterministic(name: str) -> None:
    a = HardwareModel(scenario=name, seed=7)
    b = HardwareModel(scenario=name, seed=7)
    c = HardwareModel(scenario=name, seed=8)
    assert a.scenario.name == name
    ra, rb, rc = _script(a), _script(b), _script(c)
    for x, y in zip(ra, rb, strict=True):
        assert np.array_equal(x, y)
    assert not all(np.array_equal(x, z) for x, z in zip(ra[:4], rc[:4], strict=True))
    ga, gb = a.ground_truth(), b.ground_truth()
    ga["clock"].pop("realtime"), gb["clock"].pop("realtime")
    assert ga == gb


def test_samples_do_not_depend_on_how_a_run_is_chunked() -> None:
    a, b = HardwareModel(seed=2), HardwareModel(seed=2)
    whole = a.acquire(0, 10000, 20000, ALL)
    parts = np.concatenate([b.acquire(t, 10000, 2500, ALL) for t in range(0, 2_000_000, 250_000)])
    assert np.array_equal(whole, parts)


def test_stimulated_samples_do_not_depend_on_how_a_run_is_chunked() -> None:
    """Evoked waves, artifacts (pinned and not) and MEPs too: the same
    pulses, read back in one window or in pieces of odd sizes."""
    def run(chunks: list[int]) -> np.ndarray:
        m = HardwareModel(seed=4)
        tl = timeline(pulse("P1", 30000, t=0), pulse("P3", 40000, t=40_000),
                      *[pulse("TC", 400_000, 75, t=90_000 + 3000 * i, anodes=1, cathodes=2) for i in range(5)],
                      pulse("P2", 25000, t=260_000))
        m.fire(20_000, tl)
        out, t = [], 0
        for n in chunks:
            out.append(m.acquire(t, 20000, n, ALL))
            t += n * 50
        return np.concatenate(out)

    whole = run([8000])
    assert np.abs(whole).max() == 32767  # the TC train pins the amplifier
    assert np.array_equal(whole, run([1, 333, 1000, 7, 2659, 4000]))
    assert np.array_equal(whole, run([250] * 32))


def test_scenario_loads_from_a_path_and_bad_files_are_named(tmp_path: Path) -> None:
    good = tmp_path / "busy_theatre.toml"
    good.write_text('name = "busy"\nmains_hz = 60\n[bursts]\ncautery_per_min = 30\n')
    m = HardwareModel(scenario=str(good), seed=1)
    assert m.scenario.name == "busy" and m.scenario.mains_hz == 60
    bad = tmp_path / "bad.toml"
    bad.write_text('[[effect]]\nname = "x"\nstart_s = 1\n')
    with pytest.raises(ValueError, match="bad.toml.*needs targets"):
        HardwareModel(scenario=str(bad))
    with pytest.raises(ValueError, match="no scenario 'nope'.*stable_baseline"):
        HardwareModel(scenario="nope")


# --- output stage and loads, as the monitor ADC sees them ---------------------------------
def _monitor(m: HardwareModel, output: str, amp: int, w1: int = 200, **kw: int) -> tuple[np.ndarray, np.ndarray]:
    m.fire(m.now_us() + 10, timeline(pulse(output, amp, w1, **kw)))
    m.advance(0.01)
    o = board.OUTPUTS[OUTPUT_INDEX[output]]
    tr = m.monitor(0, board.MONITOR_MAX_SAMPLES).astype(float)
    return tr[0::2] * o["mon_ua_lsb"], tr[1::2] * o["mon_mv_lsb"]  # uA, mV


def _plateau(x: np.ndarray, w1: int) -> np.ndarray:
    # Samples well inside phase 1 (monitor at 2 us/sample, 8 samples before the edge).
    return x[8 + 10 : 8 + w1 // 2 - 5]


def test_resistor_load_gets_the_commanded_current() -> None:
    m = HardwareModel()
    m.set_load("P1", loads.resistor(1000))
    i, v = _monitor(m, "P1", 20000)
    assert np.allclose(_plateau(i, 200), 20000, rtol=0.01)
    assert np.allclose(_plateau(v, 200), 20000, rtol=0.01)  # 20 mA * 1 kOhm = 20 V
    assert abs(i[:5]).max() == 0 and abs(i[-5:]).max() == 0


def test_compliance_limits_a_constant_current_pulse() -> None:
    m = HardwareModel()
    m.set_load("P1", loads.resistor(20_000))  # 30 mA would need 600 V; compliance is 400 V
    i, v = _monitor(m, "P1", 30000)
    assert np.allclose(_plateau(v, 200), 400_000, rtol=0.005)
    assert np.allclose(_plateau(i, 200), 20_000, rtol=0.01)
    assert m.ground_truth()["pulses"]["recent"][-1]["limited"] is True


def test_compliance_collapses_a_pulse_into_an_electrode_mid_pulse() -> None:
    m = HardwareModel()
    m.sim({"stage": {"output": "P1", "compliance": 60_000}})  # a 60 V unit
    m.set_load("P1", loads.randles(1000, 100_000, 0.1e-6))
    i, v = _monitor(m, "P1", 10000, w1=1000)
    body = i[8 + 5 : 8 + 495]
    assert body[0] == pytest.approx(10000, rel=0.01)  # starts at the commanded 10 mA
    assert body[-1] < 0.5 * body[0]  # the double layer charges, headroom runs out
    assert np.all(np.diff(body) <= 1e-6)
    assert v[8 + 490] == pytest.approx(60_000, rel=0.01)


def test_open_and_short_circuits_as_the_monitor_sees_them() -> None:
    m = HardwareModel()
    m.set_load("P2", loads.open_circuit())
    i, v = _monitor(m, "P2", 20000)
    assert abs(_plateau(i, 200)).max() <= 4  # one LSB: nothing flows
    assert np.allclose(_plateau(v, 200), 400_000, rtol=0.005)  # output rails at compliance
    m.set_load("P2", loads.short())
    i, v = _monitor(m, "P2", 20000)
    assert np.allclose(_plateau(i, 200), 20000, rtol=0.01)
    assert abs(_plateau(v, 200)).max() <= 16  # 20 mA * 1 Ohm: below one LSB
    m.set_load("TC", loads.short())
    i, v = _monitor(m, "TC", 400_000, w1=75)  # constant voltage into a short: current limit
    assert np.allclose(i[8 + 10 : 8 + 30], 1_500_000, rtol=0.01)
    assert abs(v[8 + 10 : 8 + 30]).max() <= 1_500 + 40


def test_dac_quantisation_gain_offset_and_slew_are_configurable() -> None:
    m = HardwareModel()
    m.set_load("P1", loads.resistor(1000))
    i, _ = _monitor(m, "P1", 10_040)  # 100 uA DAC steps: 10.0 mA
    assert np.allclose(_plateau(i, 200), 10_000, atol=4)
    m.sim({"stage": {"output": "P1", "gain_error": 0.05, "offset": 200, "rise_us": 100, "fall_us": 100}})
    i, _ = _monitor(m, "P1", 10_000)
    assert np.allclose(i[8 + 60 : 8 + 95], 10_700, atol=4)  # 10 mA * 1.05 + 0.2 mA
    assert np.allclose(np.diff(i[8:13]), 100_000 * 2 / 100, rtol=0.02)  # full scale per 100 us
    with pytest.raises(ModelError, match="unknown output stage parameter"):
        m.sim({"stage": {"output": "P1", "gian": 1}})


def test_jitter_moves_pulses_deterministically() -> None:
    m = HardwareModel(seed=4)
    m.sim({"stage": {"output": "P1", "jitter_us": 50}})
    start = m.now_us() + 100
    m.fire(start, timeline(*[pulse("P1", 10000, t=k * 1000) for k in range(20)]))
    m.advance(0.1)
    rec = m.ground_truth()["pulses"]["recent"][-20:]
    err = np.array([r["t_us"] - r["scheduled_us"] for r in rec])
    assert 20 < err.std() < 90


def test_load_changes_mid_run_affect_only_later_pulses() -> None:
    m = HardwareModel()
    m.set_load("P3", loads.resistor(1000))
    start = m.now_us() + 100
    m.fire(start, timeline(*[pulse("P3", 10000, t=k * 10_000) for k in range(6)]))
    m.advance(0.025)  # pulses 0..2 are out
    m.sim({"load": {"output": "P3", "kind": "open"}})  # the lead comes off
    m.advance(0.1)
    peak_i = []
    for k in range(6):
        tr = m.monitor(k, 256)
        peak_i.append(np.abs(tr[0::2]).max() * 4)
    assert peak_i[:3] == [10000] * 3
    assert max(peak_i[3:]) <= 4
    assert m.impedance("P3+") == loads.METER_MAX_OHMS
    m.sim({"load": {"output": "P3", "kind": "default"}})
    assert 900 < m.impedance("P3+") < 5000  # Rs plus Rct in parallel with Cdl at 1 kHz


def test_monitor_is_empty_until_the_pulse_goes_out_and_abort_stops_the_rest() -> None:
    m = HardwareModel()
    start = m.now_us() + 1000
    m.fire(start, timeline(*[pulse("P1", 10000, t=k * 10_000) for k in range(5)]))
    assert len(m.monitor(0, 100)) == 0 and not m.fire_done()
    with pytest.raises(ModelError, match="still running"):
        m.fire(start, timeline(pulse("P1", 1000)))
    m.advance(0.015)
    m.abort()
    assert m.fire_done()
    assert len(m.monitor(1, 100)) == 200 and len(m.monitor(2, 100)) == 0
    assert m.ground_truth()["pulses"]["count"] == 2


def test_estop_and_interlock_violations_are_recorded_not_hidden() -> None:
    m = HardwareModel()
    assert m.safety_bits() == 1
    m.sim({"estop": True, "interlock": False})
    assert m.safety_bits() == 2
    m.fire(m.now_us() + 10, timeline(pulse("P1", 1000)))
    m.advance(0.01)
    s = m.ground_truth()["safety"]
    assert s["pulses_while_estop"] == 1 and s["pulses_while_interlock_open"] == 1


# --- physiology ----------------------------------------------------------------------
def test_recruitment_is_monotone_and_longer_pulses_lower_the_threshold_current() -> None:
    q = np.linspace(0, 50, 500)
    r = [physiology.recruitment(x, 200, 5.0, 200, 300, 0.3) for x in q]
    assert r[0] == 0 and all(b >= a for a, b in zip(r[:-1], r[1:], strict=True)) and r[-1] > 0.99
    assert physiology.recruitment(5.0, 200, 5.0, 200, 300, 0.3) == pytest.approx(0.1, abs=0.01)
    assert physiology.threshold_ma(5.0, 500, 200, 300) < physiology.threshold_ma(5.0, 100, 200, 300)


def test_averaged_median_ssep_has_its_components_at_the_reference_latencies() -> None:
    m = HardwareModel(seed=5)
    ch = [CHANNEL_INDEX[c] for c in ("CP4-Fz", "CP3-Fz", "Cv5-Fz", "EPL-Fz")]
    avg = average(m, timeline(pulse("P1", 30000)), ch, 150)

    def peak(col: int, lo: float, hi: float, sign: int) -> tuple[float, float]:
        idx = [i for i in range(len(avg)) if lo <= t_ms(i) <= hi]
        j = idx[int(np.argmax(sign * avg[idx, col]))]
        return t_ms(j), avg[j, col]

    n20 = peak(0, 15, 23, -1)
    p25 = peak(0, 22, 30, +1)
    n13 = peak(2, 11, 16, -1)
    n9 = peak(3, 7, 12, -1)
    assert 18.5 <= n20[0] <= 20.5 and n20[1] < -1.0
    assert 23.5 <= p25[0] <= 27 and p25[1] > 1.0
    assert 12.5 <= n13[0] <= 14.5 and n13[1] < -1.0
    assert 8.5 <= n9[0] <= 10.5 and n9[1] < -1.5
    # Contralateral only: the left hemisphere channel has no N20 for the left median.
    assert abs(peak(1, 18, 21, -1)[1]) < 1.0


def test_averaged_tibial_ssep_p37_and_trial_variability() -> None:
    m = HardwareModel(seed=6)
    ch = [CHANNEL_INDEX["CPz-Fz"]]
    avg = average(m, timeline(pulse("P3", 40000, 300)), ch, 150)
    idx = [i for i in range(len(avg)) if 33 <= t_ms(i) <= 42]
    j = idx[int(np.argmax(avg[idx, 0]))]
    assert 36 <= t_ms(j) <= 39 and avg[j, 0] > 1.0
    amps = [r["truth"]["P37"]["amplitude_uV"] for r in list(m.response_log) if r["output"] == "P3"]
    assert 0.1 < np.std(amps) / np.mean(amps) < 0.4  # trial-to-trial variability


def _onset_ms(x: np.ndarray, lo_ms: float, pre_ms: float = 10, rate: int = 10000) -> float:
    i0 = int((lo_ms + pre_ms) * rate / 1000)
    seg = np.abs(x[i0:])
    j = int(np.argmax(seg > 0.1 * seg.max()))
    return (i0 + j) * 1000 / rate - pre_ms


def test_mep_latency_by_muscle_and_hemisphere_follows_the_anode() -> None:
    m = HardwareModel(seed=9)
    names = ("APB_R", "TA_R", "AH_R", "APB_L")
    ch = [CHANNEL_INDEX[n] for n in names]
    d = stim_and_record(m, tc_train(450, anode="C3", cathode="C4"), ch, post_ms=90, rate=10000)
    # Latency from the last pulse of the train (12 ms after the first).
    onset = {n: _onset_ms(d[:, k], 22) - 12 for k, n in enumerate(names[:3])}
    assert 18 <= onset["APB_R"] <= 26
    assert 27 <= onset["TA_R"] <= 34
    assert 39 <= onset["AH_R"] <= 47
    truth = m.response_log[-1]["truth"]
    for n in names[:3]:
        assert abs(onset[n] - truth[n]["latency_ms"]) < 1.5
    assert truth["APB_R"]["amplitude_uV"] > 100
    # C3 anode drives the right hand more, over trials (single trials vary widely).
    assert _mean_mep(m, tc_train(300), "APB_R") > 2 * _mean_mep(m, tc_train(300), "APB_L")


def _mean_mep(m: HardwareModel, tl: dict[str, list[int]], muscle: str, n: int = 30) -> float:
    vals = []
    for _ in range(n):
        m.fire(m.now_us() + 1000, tl)
        m.advance(0.5)
        vals.append(m.response_log[-1]["truth"][muscle]["amplitude_uV"])
    return float(np.mean(vals))


def test_train_and_isi_dependence_of_tcmep() -> None:
    m = HardwareModel(seed=10)
    single = _mean_mep(m, tc_train(250, n=1), "APB_R")
    train3 = _mean_mep(m, tc_train(250, n=5, isi_us=3000), "APB_R")
    train9 = _mean_mep(m, tc_train(250, n=9, isi_us=3000), "APB_R")
    isi10 = _mean_mep(m, tc_train(250, n=5, isi_us=10_000), "APB_R")
    assert single < 0.2 * train3
    assert isi10 < train3
    assert 0.8 < train9 / train3 < 1.5  # 3 vs 9 pulses: little difference


def test_triggered_emg_finds_the_breached_screw() -> None:
    m = HardwareModel(scenario="screw_breach", seed=3)
    ta = CHANNEL_INDEX["TA_L"]

    def p2p(screw: str, ma: float) -> float:
        m.sim({"probe": screw})
        d = stim_and_record(m, timeline(pulse("PR", int(ma * 1000))), [ta], pre_ms=5, post_ms=40, rate=10000)
        return float(np.ptp(d[int(10 * 10):, 0]))  # from 5 ms after the pulse on

    assert p2p("L5_L", 5.0) > 150  # breached: responds at 5 mA
    assert p2p("L5_L", 1.0) < 60
    assert p2p("L4_L", 8.0) < 60  # intact: silent at 8 mA
    gt = m.ground_truth()["screws"]
    assert gt["L5_L"]["breached"] and not gt["L4_L"]["breached"]


@pytest.mark.parametrize("name,side", [("scs_left", "L"), ("scs_right", "R")])
def test_scs_laterality_follows_the_lead_offset(name: str, side: str) -> None:
    m = HardwareModel(scenario=name, seed=2)
    other = "R" if side == "L" else "L"
    truth = m.ground_truth()["scs"]
    e8 = truth["contacts"][8]
    assert e8[f"threshold_{side}_mA_200us"] < 2.0 < 6.0 < e8[f"threshold_{other}_mA_200us"]
    d = stim_and_record(m, timeline(pulse("SCS", 3000, anodes=1 << 9, cathodes=1 << 8)),
                        [CHANNEL_INDEX["TA_L"], CHANNEL_INDEX["TA_R"]], pre_ms=5, post_ms=25, rate=10000)
    resp = {s: float(np.ptp(d[80:, k])) for k, s in enumerate("LR")}
    assert resp[side] > 100 and resp[other] < 30


def test_scs_midline_lead_has_balanced_thresholds() -> None:
    c = HardwareModel(scenario="scs_midline").ground_truth()["scs"]["contacts"][4]
    assert c["threshold_L_mA_200us"] == pytest.approx(c["threshold_R_mA_200us"])
    assert 2.0 <= c["threshold_L_mA_200us"] <= 6.0  # ionm.md: 2-6 mA with a medial lead


# --- scenarios as physiology -----------------------------------------------------------
def test_cord_ischaemia_time_course_in_ground_truth_and_data() -> None:
    m = HardwareModel(scenario="cord_ischaemia", seed=4)
    before = m.ground_truth()
    assert before["insults"][0]["start_us"] == 120_000_000 and not before["insults"][0]["started"]
    m.advance(720)
    after = m.ground_truth()
    p37b, p37a = before["ssep"]["tibial_L"]["P37"], after["ssep"]["tibial_L"]["P37"]
    assert p37a["amplitude_uV"] == pytest.approx(0.3 * p37b["amplitude_uV"])
    assert p37a["latency_ms"] == pytest.approx(1.15 * p37b["latency_ms"])
    assert after["mep"]["TA_L"]["max_amplitude_uV"] == 0
    assert after["ssep"]["median_L"]["N20"] == before["ssep"]["median_L"]["N20"]
    d = stim_and_record(m, tc_train(500), [CHANNEL_INDEX["TA_L"], CHANNEL_INDEX["APB_L"]], rate=10000)
    assert np.ptp(d[400:, 0]) < 40 and np.ptp(d[400:, 1]) > 100  # legs lost, hands kept


def test_anaesthetic_fade_is_bilateral_and_slow() -> None:
    m = HardwareModel(scenario="anaesthetic_fade")
    m.advance(60 + 900)
    gt = m.ground_truth()
    assert gt["mep"]["TA_L"]["max_amplitude_uV"] == gt["mep"]["TA_R"]["max_amplitude_uV"] == pytest.approx(800 * 0.8)
    assert gt["ssep"]["median_L"]["N20"]["amplitude_uV"] == gt["ssep"]["median_R"]["N20"]["amplitude_uV"]
    assert gt["ssep"]["median_L"]["N13"]["amplitude_uV"] == -2.5  # subcortical kept


def test_acute_unilateral_mep_loss() -> None:
    m = HardwareModel(scenario="acute_unilateral_mep_loss")
    m.advance(186)
    gt = m.ground_truth()["mep"]
    assert gt["TA_L"]["max_amplitude_uV"] == 0 and gt["TA_R"]["max_amplitude_uV"] == 800


def _mains_uv(d: np.ndarray, rate: int, hz: float) -> float:
    spec = np.abs(np.fft.rfft(d - d.mean())) * 2 / len(d)
    f = np.fft.rfftfreq(len(d), 1 / rate)
    return float(spec[np.argmin(abs(f - hz))])


def test_lead_off_looks_different_from_a_physiological_loss() -> None:
    cp4 = CHANNEL_INDEX["CP4-Fz"]
    off = HardwareModel(scenario="lead_off", seed=1)
    pos = HardwareModel(scenario="positioning_median_loss", seed=1)
    base = [_mains_uv(m.acquire(m.now_us(), 5000, 10000, [cp4])[:, 0] * UV, 5000, 50) for m in (off, pos)]
    z0 = off.impedance("CP4")
    off.advance(900)
    pos.advance(900)
    assert off.impedance("CP4") > 100 * z0 and pos.impedance("CP4") == z0
    t = off.now_us()
    mains_off = _mains_uv(off.acquire(t, 5000, 10000, [cp4])[:, 0] * UV, 5000, 50)
    mains_pos = _mains_uv(pos.acquire(t, 5000, 10000, [cp4])[:, 0] * UV, 5000, 50)
    assert mains_off > 50 * base[0] and mains_pos == pytest.approx(base[1], rel=0.05)
    # Physiological loss: the left median N9 at Erb's point falls too; lead-off leaves it.
    erb = CHANNEL_INDEX["EPL-Fz"]
    n9 = {}
    for key, m in (("off", off), ("pos", pos)):
        avg = average(m, timeline(pulse("P1", 30000)), [erb], 60)
        n9[key] = -avg[int((9.5 + 10) * 5)][0]
    assert n9["off"] > 1.5 and n9["pos"] < 1.0


def test_mains_frequency_and_stimulus_artifact_saturation() -> None:
    m = HardwareModel(scenario="scs_midline", seed=3)
    d = m.acquire(0, 5000, 10000, [CHANNEL_INDEX["CP3-Fz"]])[:, 0] * UV
    assert _mains_uv(d, 5000, 60) > 5 * _mains_uv(d, 5000, 50)
    start = m.now_us() + 1000
    m.fire(start, tc_train(400, n=1))
    x = m.acquire(start - 1000, 20000, 400, [CHANNEL_INDEX["CP3-Fz"]])[:, 0]
    assert np.all(np.abs(x[20:22]) == 32767)  # pinned at full scale during the pulse
    assert abs(x[20 + 20 * 8]) < 0.02 * 32767  # recovered 8 ms later


def test_cautery_bursts_saturate_and_are_reported(tmp_path: Path) -> None:
    f = tmp_path / "cautery.toml"
    f.write_text('name = "cautery"\n[bursts]\ncautery_per_min = 20\n')
    m = HardwareModel(scenario=str(f), seed=1)
    d = np.concatenate([m.acquire(t, 5000, 5000 * 20, [0])[:, 0] for t in range(0, 60_000_000, 20_000_000)])
    assert np.abs(d).max() == 32767
    bursts = m.ground_truth()["bursts"]
    assert bursts and all(b["kind"] == "cautery" for b in bursts)


def test_device_ticks_unwrap_to_the_nearest_virtual_time() -> None:
    from simunit.clock import unwrap

    period = 1 << 30  # a 32-bit port's ticks period
    now = 5 * period + 100
    assert unwrap((now + 500) % period, now, period) == now + 500
    assert unwrap((now - 500) % period, now, period) == now - 500
    assert unwrap(period - 10, 5 * period + 5, period) == 5 * period - 10  # across the wrap
