"""Simulated unit speed and device-side heap, measured through the real path:
firmware-side code under MicroPython calling the sim HAL, which talks to the
hardware model over its socket.

Prints simulated seconds per wall second (the reference is real time, 1.0)
for a 2-channel SSEP at 4.7 Hz (300 sweeps of 100 ms at 5 kHz), for
16-channel free-run EMG at 10 kHz (100 ms reads), and for free-run EMG as
the long case streams it (16 channels at 5 kHz in 50 ms blocks, each block
filtered and scanned by the firmware's FreeRun: stimfw.amp.freerun), the
same reads with the model called directly under CPython (no socket, no
MicroPython), the firmware's FreeRun alone on the device (no HAL, no
model: the most the long case's free-run can go on that runtime), and the
heap the sim HAL takes on the device after Hal() (MCU-sized heap, 96k).
Each runtime's figures come from one run of each workload; run it again to
see the spread (the machine's other work only ever slows a figure down).

    .venv/bin/python bench/bench_sim.py [--runtime unix|mcu32|both]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from mpy import BOARD_SIM, FIRMWARE, HAVE_MCU32, MCU32, MICROPYTHON, NO_MCU32  # noqa: E402
from simunit.model import HardwareModel  # noqa: E402
from simunit.modelserver import ModelServer  # noqa: E402

SWEEPS = 300
SSEP_PERIOD_US = 212766  # 4.7 Hz
EMG_SECONDS = 30
CASE_SECONDS = 60  # the long case's free-run: 16 ch at 5 kHz in 50 ms blocks
CASE_BLOCKS = CASE_SECONDS * 20

DEVICE = f"""
import sys
sys.path.insert(0, {str(FIRMWARE)!r})
sys.path.insert(0, {str(BOARD_SIM)!r})
import gc, time
gc.collect()
before = gc.mem_alloc()
from hal import Hal
h = Hal()
gc.collect()
print("heap_hal", gc.mem_alloc() - before)
print("heap_total", gc.mem_alloc())
from stimfw.core.buffers import zeros
from stimfw.stim.timeline import Timeline
tl = Timeline(4)
tl.add(0, 1, 30000, 200, 0, 0, 0, 1, 2)

# SSEP: 2 channels, 100 ms sweeps at 5 kHz, 4.7 Hz
buf = zeros("h", 2 * 500)
v0 = h.ticks_us(); w0 = time.ticks_us()
start = h.ticks_add(v0, 1000)
for k in range({SWEEPS}):
    h.fire(tl, start)
    h.acquire(h.ticks_add(start, -10000), 5000, (1, 4), buf)
    while not h.fire_done():
        h.idle(2, h.ticks_add(start, 1000))
    start = h.ticks_add(start, {SSEP_PERIOD_US})
    h.idle(500, h.ticks_add(start, -10000))
print("ssep", h.ticks_diff(h.ticks_us(), v0), time.ticks_diff(time.ticks_us(), w0))

# Free-run EMG: 16 channels at 10 kHz, 100 ms reads
buf = None
gc.collect()
buf = zeros("h", 16 * 1000)
chans = bytes(range(16))
v0 = h.ticks_us(); w0 = time.ticks_us()
t = v0
for k in range({EMG_SECONDS * 10}):
    h.acquire(t, 10000, chans, buf)
    t = h.ticks_add(t, 100000)
print("emg", h.ticks_diff(h.ticks_us(), v0), time.ticks_diff(time.ticks_us(), w0))

# The long case's free-run: 16 channels at 5 kHz in 50 ms blocks, each
# filtered and scanned by FreeRun (the unit's default band, no notch).
buf = None
gc.collect()
from stimfw.amp.freerun import FreeRun
from stimfw.dsp import filters
fr = FreeRun(16, 5000, 250, filters.from_config({{"rate_hz": 5000, "band": [20, 2000], "notch": 0}}))
gc.collect()
v0 = h.ticks_us(); w0 = time.ticks_us()
t = v0
for k in range({CASE_BLOCKS}):
    h.acquire(t, 5000, chans, fr.buf)
    fr.feed(fr.buf, 250)
    t = h.ticks_add(t, 50000)
print("case", h.ticks_diff(h.ticks_us(), v0), time.ticks_diff(time.ticks_us(), w0))
print("spikes", sum(fr.spikes))
# FreeRun alone, each time on the same block (quiet EMG, as most of the
# case), read afresh before each feed and not timed: a copy would not fit
# beside it in the 96k heap.
us = 0
for k in range({CASE_BLOCKS}):
    h.acquire(t, 5000, chans, fr.buf)
    w0 = time.ticks_us()
    fr.feed(fr.buf, 250)
    us += time.ticks_diff(time.ticks_us(), w0)
print("feed", {CASE_SECONDS} * 1000000, us)
"""


def through_hal(exe: str) -> dict[str, list[int]]:
    with tempfile.TemporaryDirectory() as d:
        server = ModelServer(HardwareModel(seed=1), Path(d) / "model.sock")
        with server:
            env = dict(os.environ, STIMBOX_SIM_MODEL=str(server.path))
            r, w = os.pipe()  # a quiet console: no host input waiting
            try:
                p = subprocess.run([exe, "-X", "heapsize=96k", "-c", DEVICE], stdin=r,
                                   capture_output=True, text=True, env=env, timeout=600)
            finally:
                os.close(r)
                os.close(w)
    if p.returncode != 0:
        raise SystemExit(p.stdout + p.stderr)
    return {line.split()[0]: [int(x) for x in line.split()[1:]] for line in p.stdout.splitlines()}


def model_only() -> dict[str, float]:
    cols = {"t_us": [0], "output": [1], "amp": [30000], "w1_us": [200], "gap_us": [0], "w2_us": [0],
            "amp2": [0], "anodes": [1], "cathodes": [2]}
    m = HardwareModel(seed=1)
    m.acquire(0, 5000, 1, [0])  # the background pool, drawn once per process
    m.acquire(0, 10000, 1, [0])
    w0 = time.perf_counter()
    v0 = m.now_us()
    start = v0 + 1000
    for _ in range(SWEEPS):
        m.fire(start, cols)
        m.acquire(start - 10000, 5000, 500, [1, 4])
        start += SSEP_PERIOD_US
        m.advance((start - 10000 - m.now_us()) / 1e6)
    ssep = (m.now_us() - v0) / 1e6 / (time.perf_counter() - w0)
    out = {"ssep": ssep}
    for key, rate, n, reads in (("emg", 10000, 1000, EMG_SECONDS * 10), ("case", 5000, 250, CASE_BLOCKS)):
        w0 = time.perf_counter()
        t = v0 = m.now_us()
        for _ in range(reads):
            m.acquire(t, rate, n, list(range(16)))
            t += n * 1_000_000 // rate
        out[key] = (m.now_us() - v0) / 1e6 / (time.perf_counter() - w0)
    return out


LABELS = {
    "ssep": f"SSEP 2 ch, 4.7 Hz, {SWEEPS} sweeps of 100 ms at 5 kHz",
    "emg": f"free-run EMG 16 ch at 10 kHz, {EMG_SECONDS} s in 100 ms reads",
    "case": f"long-case free-run 16 ch at 5 kHz, {CASE_SECONDS} s in 50 ms blocks, each through FreeRun",
}


def report(name: str, exe: str) -> None:
    hal = through_hal(exe)
    ref = model_only()
    print(f"{name} ({exe}), fast mode; reference: real time = 1.0 simulated s per wall s")
    for key, label in LABELS.items():
        virt_us, wall_us = hal[key]
        ratio = virt_us / wall_us
        print(f"  {label}:")
        print(f"    through MicroPython + HAL socket: {virt_us / 1e6:7.2f} s simulated in "
              f"{wall_us / 1e6:6.3f} s wall = {ratio:6.1f}x real time")
        print(f"    model alone (CPython, no socket):  {ref[key]:6.1f}x real time "
              f"(HAL path at {ratio / ref[key]:.2f} of it)")
    print(f"    spikes FreeRun detected in the {CASE_SECONDS} s: {hal['spikes'][0]}")
    virt_us, wall_us = hal["feed"]
    print(f"    FreeRun alone on the device (no HAL): {virt_us / wall_us:6.1f}x real time "
          f"({wall_us / CASE_BLOCKS:.0f} us per 16 x 250-sample block)")
    print(f"  device heap taken by the sim HAL after Hal(): {hal['heap_hal'][0]} bytes "
          f"(all firmware-side allocations so far: {hal['heap_total'][0]} bytes of a 96k heap)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runtime", choices=("unix", "mcu32", "both"), default="both")
    args = ap.parse_args()
    if args.runtime in ("unix", "both"):
        report("PyPI Unix port", MICROPYTHON)
    if args.runtime in ("mcu32", "both"):
        if HAVE_MCU32:
            report("micropython-mcu32", MCU32)
        else:
            print(NO_MCU32)


if __name__ == "__main__":
    main()
