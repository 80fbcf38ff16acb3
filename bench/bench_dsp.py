"""DSP timing: per-sweep work for an 8 ch x 1000 sample SSEP sweep as a
ratio to the sweep period at 4.7 Hz, and free-run EMG throughput as a ratio
to real time at 16 ch x 10 kHz, for each backend on each runtime it runs
on, in one run.

Figures (all on this machine, same run; device side: bench/device/dsp_timing.py):
  fixed  - the fallback backend (viper fixed point), under the PyPI
           micropython Unix port (64-bit) and under micropython-mcu32 (the
           board-like runtime: 32-bit, float32, real ulab 6.12.0);
  ulab   - the ulab backend (scipy.signal.sosfilt in float32 with the
           shared viper sums) under micropython-mcu32;
  scipy  - the same chain in numpy/scipy float64 under CPython: the
           reference figure.
  Device figures time SweepProcessor.take() per sweep (8 one-channel
  acquire() calls, blanking, rail count, filter, rejection, A/B sums), less
  the time spent inside the bench's acquire(), which reads the channel from
  a file and is printed apart; and FreeRun.feed() per 250-sample block,
  quiet and with discharges. Figures are medians per sweep (per block),
  the lowest of 3 runs, with the run's mean beside. The firmware runs compiled (.mpy) for each
  runtime's architecture, the DSP arena reserved first as at start-up, in
  a 96k heap (a pyboard-class board's) unless --heap says otherwise: the
  ulab backend's garbage (sosfilt's output) is collected within the timed
  code, so its figure includes the collector's work at that heap size.

Run: .venv/bin/python bench/bench_dsp.py [--heap 96k]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scipy import signal

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from dsp_reference import PARAMS_ENV, ssep_sweeps  # noqa: E402
from mpy import BOARD_SIM, FIRMWARE, HAVE_MCU32, MCU32, MICROPYTHON  # noqa: E402
from stimbox import filters as host_filters  # noqa: E402

DEVICE = ROOT / "bench" / "device"
RATE, N_CH, PRE, POST_MS = 5000, 8, 50, 190
N = PRE + POST_MS * RATE // 1000
SWEEPS = 200
PERIOD_MS = 1000 / 4.7
SOS = host_filters.design(RATE, (30, 1000), 50)
CFG = {"rate_hz": RATE, "pre_ms": 10, "post_ms": POST_MS, "channels": list(range(N_CH)),
       "sos": SOS, "blank_us": [200, 2000], "reject_uv": 4000}
T0, PERIOD_US = 1_000_000, 212_766
# 25 ms blocks: 16 x 250 samples, within the free-run stream's 4096-sample buffer
FR_CH, FR_RATE, FR_BLOCK, FR_BLOCKS = 16, 10000, 250, 80
# Every figure is the median per sweep (per block) of one run, the lowest of
# REPEATS runs: this machine's other work only ever adds time.
REPEATS = 3
# (label, runtime executable, mpy-cross architecture, backend)
RUNS = [("fixed, PyPI Unix port", MICROPYTHON, "x64", "fixed")]
if HAVE_MCU32:
    RUNS += [("fixed, micropython-mcu32", MCU32, "x86", "fixed"),
             ("ulab, micropython-mcu32", MCU32, "x86", "ulab")]


def compiled(arch: str, tmp: Path) -> Path:
    """The firmware's stimfw tree compiled for arch, as a unit runs it."""
    from stimbox.build import compile_file

    out = tmp / f"lib_{arch}"
    for src in sorted((FIRMWARE / "stimfw").rglob("*.py")):
        compile_file(src, out / src.relative_to(FIRMWARE).with_suffix(".mpy"), arch)
    return out


def device(exe: str, arch: str, params: dict, heap: str, tmp: Path) -> dict:
    """The run with the lowest median of REPEATS."""
    runs = [device_once(exe, arch, params, heap, tmp) for _ in range(REPEATS)]
    key = "ms" if params["mode"] == "take" else "samples_per_s"
    return sorted(runs, key=lambda r: r[key] if key == "ms" else -r[key])[0]


def device_once(exe: str, arch: str, params: dict, heap: str, tmp: Path) -> dict:
    pfile = tmp / "params.json"
    pfile.write_text(json.dumps(params))
    prelude = "".join(f"sys.path.insert(0, {str(p)!r})\n"
                      for p in (compiled(arch, tmp), BOARD_SIM, DEVICE))
    r = subprocess.run([exe, "-X", f"heapsize={heap}", "-c", "import sys\n" + prelude + "import dsp_timing\n"],
                       capture_output=True, text=True, timeout=600, check=False,
                       env={**os.environ, PARAMS_ENV: str(pfile)})
    if r.returncode:
        raise SystemExit(f"{exe} failed:\n{r.stdout}{r.stderr}")
    return json.loads(r.stdout)


def bench_scipy(sweeps: np.ndarray) -> float:
    """Median ms per sweep, lowest of REPEATS runs."""
    return min(bench_scipy_once(sweeps) for _ in range(REPEATS))


def bench_scipy_once(sweeps: np.ndarray) -> float:
    sos = np.asarray(SOS)
    acc = np.zeros((2, N, N_CH))
    ms = []
    for k, s in enumerate(sweeps):
        t = time.perf_counter()
        x = s.astype(np.float64)
        a, b = PRE - 1, PRE + 10  # the same 200 us / 2 ms blanking window
        x[a:b] = np.linspace(x[a - 1], x[b], b - a + 2)[1:-1]
        x -= np.floor(x[:16].mean(axis=0))
        y = signal.sosfilt(sos, x, axis=0)
        ok = np.abs(y).max(axis=0) <= 32000  # per channel, as the device
        acc[k & 1][:, ok] += np.round(y[:, ok])
        ms.append((time.perf_counter() - t) * 1000)
    return float(np.median(ms))


def emg(active: bool) -> np.ndarray:
    rng = np.random.default_rng(5)
    n = FR_BLOCK * FR_BLOCKS
    x = rng.normal(0, 40, (n, FR_CH))
    if active:  # a 100 Hz A-train on every channel, all record long
        for t in range(0, n - 8, 100):
            x[t : t + 8] += 1600 * np.sin(np.linspace(0, 2 * np.pi, 8))[:, None]
    return np.clip(np.round(x), -32768, 32767).astype("<i2")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--heap", default="96k", help="device heap (micropython -X heapsize)")
    heap = ap.parse_args().heap
    tmp = ROOT / "build" / "bench"
    tmp.mkdir(parents=True, exist_ok=True)
    sweeps = ssep_sweeps(SWEEPS, N_CH, N, RATE, PRE, seed=21)
    sw_path = tmp / "ssep.bin"
    # (sweep, channel, sample): one channel's samples are contiguous
    sw_path.write_bytes(np.ascontiguousarray(sweeps.transpose(0, 2, 1)).astype("<i2").tobytes())
    take = {label: device(exe, arch, {"mode": "take", "backend": be, "cfg": CFG,
                                      "src": str(sw_path), "t0": T0, "period": PERIOD_US,
                                      "sweeps": SWEEPS}, heap, tmp)
            for label, exe, arch, be in RUNS}
    ref = bench_scipy(sweeps)
    print(f"per-sweep DSP, {N_CH} ch x {N} samples, sweep period {PERIOD_MS:.1f} ms (4.7 Hz), "
          f"device heap {heap}:")
    for label, r in take.items():
        assert r["accepted"] == SWEEPS * N_CH, r
        print(f"  {label:28s} {r['ms']:7.3f} ms  ratio {r['ms'] / PERIOD_MS:.4f}  "
              f"x scipy {r['ms'] / ref:5.2f}  (mean {r['mean_ms']:.3f} ms; bench acquire() "
              f"from file, excluded: {r['acquire_ms']:.3f} ms)")
    print(f"  {'scipy, CPython float64 (ref)':28s} {ref:7.3f} ms  ratio {ref / PERIOD_MS:.4f}")
    if HAVE_MCU32:
        u = take["ulab, micropython-mcu32"]["ms"]
        f = take["fixed, micropython-mcu32"]["ms"]
        print(f"  on micropython-mcu32: ulab / fixed = {u / f:.2f}")
    else:
        print(f"  (micropython-mcu32 not found at {MCU32}: no board-like figures)")
    rt = FR_CH * FR_RATE
    fr_sos = host_filters.design(FR_RATE, (30, 3000), 0)
    for active in (False, True):
        p = tmp / f"emg_{int(active)}.bin"
        p.write_bytes(emg(active).tobytes())
        label = "A-train on all channels" if active else "quiet"
        print(f"free-run EMG {FR_CH} ch x {FR_RATE} Hz, {FR_BLOCK}-sample blocks ({label}):")
        for run, exe, arch, be in RUNS:
            r = device(exe, arch, {"mode": "freerun", "backend": be, "n_ch": FR_CH, "rate_hz": FR_RATE,
                             "block": FR_BLOCK, "blocks": FR_BLOCKS, "sos": fr_sos,
                                   "src": str(p)}, heap, tmp)
            sps = r["samples_per_s"]
            print(f"  {run:28s} {sps / 1e6:6.2f} M samples/s, {sps / rt:6.1f} x real time "
                  f"(mean {r['mean_samples_per_s'] / 1e6:.2f} M samples/s)")


if __name__ == "__main__":
    main()
