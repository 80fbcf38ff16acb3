"""DSP timing: per-sweep work for an 8 ch x 1000 sample SSEP sweep as a
ratio to the sweep period at 4.7 Hz, and free-run EMG throughput as a ratio
to real time at 16 ch x 10 kHz.

Figures (all on this machine, same run):
  fixed   - the fallback backend (viper fixed point) under the real
            micropython Unix port: SweepProcessor.feed() per sweep.
  scipy   - the same chain in numpy/scipy float64 on the same data: the
            reference figure.
  ulab*   - the ulab backend under CPython through tests/ulab_compat. NOT a
            device figure: it times numpy/scipy behind a ulab-shaped API.
  freerun - FreeRun.feed() under micropython (fixed backend), 16 ch x 10 kHz
            in 1000-sample blocks, quiet and with discharges.

Run: .venv/bin/python bench/bench_dsp.py
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time
from array import array
from pathlib import Path

import numpy as np
from scipy import signal

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from dsp_reference import COMPAT, ssep_sweeps  # noqa: E402
from stimbox import filters as host_filters  # noqa: E402

MICROPYTHON = str(Path(sys.executable).with_name("micropython"))
RATE, N_CH, PRE, POST_MS = 5000, 8, 50, 190
N = PRE + POST_MS * RATE // 1000
SWEEPS = 200
PERIOD_MS = 1000 / 4.7
SOS = host_filters.design(RATE, (30, 1000), 50)
CFG = {"rate_hz": RATE, "pre_ms": 10, "post_ms": POST_MS, "channels": list(range(N_CH)),
       "sos": SOS, "blank_us": [200, 2000], "reject_uv": 4000}
FR_CH, FR_RATE, FR_BLOCK, FR_BLOCKS = 16, 10000, 1000, 20


def run_mp(code: str) -> str:
    prelude = f"import sys\nsys.path.insert(0, {str(ROOT / 'firmware')!r})\nsys.path.insert(0, {str(ROOT / 'boards' / 'sim')!r})\n"
    r = subprocess.run([MICROPYTHON, "-X", "heapsize=4m", "-c", prelude + code],
                       capture_output=True, text=True, timeout=600, check=False)
    if r.returncode:
        raise SystemExit(r.stdout + r.stderr)
    return r.stdout


def bench_fixed(path: Path) -> float:
    out = run_mp(f"""
import time
from stimfw.averager import SweepProcessor
p = SweepProcessor({json.dumps(CFG)})
total = 0
k = 0
with open({str(path)!r}, "rb") as f:
    while f.readinto(p.buf) == len(p.buf) * 2:
        t = time.ticks_us()
        p.feed(p.buf, (0,))
        total += time.ticks_diff(time.ticks_us(), t)
        k += 1
print(total / k / 1000)
""")
    return float(out)


def bench_scipy(sweeps: np.ndarray) -> float:
    sos = np.asarray(SOS)
    acc = np.zeros((2, N, N_CH))
    t = time.perf_counter()
    for k, s in enumerate(sweeps):
        x = s.astype(np.float64)
        a, b = PRE - 1, PRE + 10  # the same 200 us / 2 ms blanking window
        x[a:b] = np.linspace(x[a - 1], x[b], b - a + 2)[1:-1]
        x -= np.floor(x[:16].mean(axis=0))
        y = signal.sosfilt(sos, x, axis=0)
        if np.abs(y).max() <= 32000:
            acc[k & 1] += np.round(y)
    return (time.perf_counter() - t) / len(sweeps) * 1000


def bench_ulab_compat(sweeps: np.ndarray) -> float:
    sys.path.insert(0, str(COMPAT))
    sys.path.insert(0, str(ROOT / "boards" / "sim"))
    mod = importlib.import_module("stimfw.dsp_ulab")
    ch = mod.SweepChain(N_CH, N, SOS)
    bufs = [array("h", s.tobytes()) for s in sweeps]
    t = time.perf_counter()
    for k, buf in enumerate(bufs):
        ch.process(buf)
        ch.accumulate(buf, k & 1)
    return (time.perf_counter() - t) / len(bufs) * 1000


def bench_freerun(path: Path) -> float:
    sos = host_filters.design(FR_RATE, (30, 3000), 0)
    out = run_mp(f"""
import time
from stimfw.freerun import FreeRun
fr = FreeRun({FR_CH}, {FR_RATE}, {FR_BLOCK}, {json.dumps(sos)}, thr_uv=100)
total = 0
k = 0
with open({str(path)!r}, "rb") as f:
    while f.readinto(fr.buf) == len(fr.buf) * 2:
        t = time.ticks_us()
        fr.feed(fr.buf, {FR_BLOCK})
        total += time.ticks_diff(time.ticks_us(), t)
        k += 1
print(k * {FR_BLOCK} * {FR_CH} / (total / 1e6))
""")
    return float(out)


def emg(active: bool) -> np.ndarray:
    rng = np.random.default_rng(5)
    n = FR_BLOCK * FR_BLOCKS
    x = rng.normal(0, 40, (n, FR_CH))
    if active:  # a 100 Hz A-train on every channel, all record long
        for t in range(0, n - 8, 100):
            x[t : t + 8] += 1600 * np.sin(np.linspace(0, 2 * np.pi, 8))[:, None]
    return np.clip(np.round(x), -32768, 32767).astype("<i2")


def main() -> None:
    tmp = Path(ROOT / "build" / "bench")
    tmp.mkdir(parents=True, exist_ok=True)
    sweeps = ssep_sweeps(SWEEPS, N_CH, N, RATE, PRE, seed=21)
    sw_path = tmp / "ssep.bin"
    sw_path.write_bytes(sweeps.astype("<i2").tobytes())
    fixed = bench_fixed(sw_path)
    ref = bench_scipy(sweeps)
    ul = bench_ulab_compat(sweeps)
    print(f"per-sweep DSP, {N_CH} ch x {N} samples, sweep period {PERIOD_MS:.1f} ms (4.7 Hz):")
    print(f"  fixed  (micropython, viper)   {fixed:8.2f} ms  ratio {fixed / PERIOD_MS:.4f}")
    print(f"  scipy  (CPython float64, ref) {ref:8.2f} ms  ratio {ref / PERIOD_MS:.4f}")
    print(f"  ulab*  (CPython via compat)   {ul:8.2f} ms  ratio {ul / PERIOD_MS:.4f}  (*not a device figure)")
    print(f"  fixed / scipy = {fixed / ref:.2f}")
    rt = FR_CH * FR_RATE
    for active in (False, True):
        p = tmp / f"emg_{int(active)}.bin"
        p.write_bytes(emg(active).tobytes())
        sps = bench_freerun(p)
        label = "A-train on all channels" if active else "quiet"
        print(f"free-run EMG {FR_CH} ch x {FR_RATE} Hz ({label}): {sps / 1e6:.2f} M samples/s, "
              f"{sps / rt:.1f} x real time")


if __name__ == "__main__":
    main()
