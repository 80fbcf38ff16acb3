"""DSP timing: per-sweep work for an 8 ch x 1000 sample SSEP sweep as a
ratio to the sweep period at 4.7 Hz, and free-run EMG throughput as a ratio
to real time at 16 ch x 10 kHz.

Figures (all on this machine, same run):
  fixed   - the fallback backend (viper fixed point) under the real
            micropython Unix port: SweepProcessor.take() per sweep (8
            one-channel acquire() calls, blanking, filter, rejection, A/B
            sums), less the time spent inside the bench's acquire(), which
            reads the channel from a file and is timed separately.
  scipy   - the same chain in numpy/scipy float64 on the same data: the
            reference figure.
  ulab*   - the ulab backend under CPython through tests/ulab_compat, the
            same take() path. NOT a device figure: it times numpy/scipy
            behind a ulab-shaped API.
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


# The bench's HAL: acquire() reads sweep k's channel from a file laid out
# (sweep, channel, sample); the time spent in it is kept apart.
FILE_HAL = """
import time
class FileHal:
    def __init__(self, path, n_ch, n, pre_us, t0, period):
        self.f = open(path, "rb")
        self.n_ch = n_ch
        self.n = n
        self.pre_us = pre_us
        self.t0 = t0
        self.period = period
        self.us = 0
    def ticks_add(self, a, b):
        return time.ticks_add(a, b)
    def acquire(self, t0_us, rate_hz, channels, buf):
        t = time.ticks_us()
        k = (t0_us + self.pre_us - self.t0) // self.period
        self.f.seek(2 * self.n * (k * self.n_ch + channels[0]))
        self.f.readinto(buf)
        self.us += time.ticks_diff(time.ticks_us(), t)
"""
T0, PERIOD_US = 1_000_000, 212_766


def bench_fixed(path: Path) -> tuple[float, float]:
    """ms per sweep: (take() less acquire, acquire alone)."""
    out = run_mp(FILE_HAL + f"""
import json
from stimfw.record.averager import SweepProcessor
p = SweepProcessor(json.loads({json.dumps(CFG)!r}))
hal = FileHal({str(path)!r}, {N_CH}, {N}, p.pre_us, {T0}, {PERIOD_US})
total = 0
for k in range({SWEEPS}):
    t = time.ticks_us()
    p.take(hal, {T0} + k * {PERIOD_US}, (0,))
    total += time.ticks_diff(time.ticks_us(), t)
print((total - hal.us) / {SWEEPS} / 1000, hal.us / {SWEEPS} / 1000)
""")
    dsp, acq = out.split()
    return float(dsp), float(acq)


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
        ok = np.abs(y).max(axis=0) <= 32000  # per channel, as the device
        acc[k & 1][:, ok] += np.round(y[:, ok])
    return (time.perf_counter() - t) / len(sweeps) * 1000


def bench_ulab_compat(sweeps: np.ndarray) -> float:
    sys.path.insert(0, str(COMPAT))
    sys.path.insert(0, str(ROOT / "boards" / "sim"))
    mod = importlib.import_module("stimfw.dsp.ulab")
    import board
    from stimfw.record.averager import SweepProcessor

    p = SweepProcessor(CFG, board, mod)
    chans = [[array("h", s[:, c].tobytes()) for c in range(N_CH)] for s in sweeps]

    class ListHal:
        """acquire() copies a prepared channel: the bench times take() around it."""

        def ticks_add(self, a: int, b: int) -> int:
            return a + b

        def acquire(self, t0_us: int, rate_hz: int, channels: tuple, buf) -> None:
            buf[:] = chans[(t0_us + p.pre_us - T0) // PERIOD_US][channels[0]]

    hal = ListHal()
    t = time.perf_counter()
    for k in range(len(sweeps)):
        p.take(hal, T0 + k * PERIOD_US, (0,))
    return (time.perf_counter() - t) / len(sweeps) * 1000


def bench_freerun(path: Path) -> float:
    sos = host_filters.design(FR_RATE, (30, 3000), 0)
    out = run_mp(f"""
import time
from stimfw.amp.freerun import FreeRun
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
    # (sweep, channel, sample): one channel's samples are contiguous
    sw_path.write_bytes(np.ascontiguousarray(sweeps.transpose(0, 2, 1)).astype("<i2").tobytes())
    fixed, acq = bench_fixed(sw_path)
    ref = bench_scipy(sweeps)
    ul = bench_ulab_compat(sweeps)
    print(f"per-sweep DSP, {N_CH} ch x {N} samples, sweep period {PERIOD_MS:.1f} ms (4.7 Hz):")
    print(f"  fixed  (micropython, viper)   {fixed:8.2f} ms  ratio {fixed / PERIOD_MS:.4f}"
          f"  (bench acquire() from file, excluded: {acq:.2f} ms)")
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
