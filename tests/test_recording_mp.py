"""The recording side's per-pulse and per-sweep path under the real
MicroPython: after the first sweep, reporting pulses and acquiring,
filtering and averaging sweeps allocates nothing (heap_lock)."""

from __future__ import annotations

import json

from mpy import run_mp
from simunit.supervisor import DEFAULT_HEAP

CODE = """
import json
import micropython
import board
from stimfw.core import arena
from stimfw.stim import protocol
from stimfw.record.recording import Recorder

arena.reserve(board.DSP_ARENA_BYTES)


class ClockHal:
    # A test stand-in for the board HAL: a timeline clock the test moves, and
    # an ADC that returns a small deterministic ramp (no allocation).
    def __init__(self):
        self.now = 0
        self.acquired = 0
    def ticks_us(self):
        return self.now
    def ticks_add(self, a, b):
        return a + b
    def ticks_diff(self, a, b):
        return a - b
    def wall_ms(self):
        return 0
    def acquire(self, t0_us, rate_hz, channels, buf):
        i = 0
        n = len(buf)
        while i < n:
            buf[i] = (i * 7 + channels[0] * 3) % 64 - 32
            i += 1
        self.acquired += 1
        return n


pushed = []
hal = ClockHal()
rec = Recorder(hal, board, lambda t, d: pushed.append(t), None)
wire = {"type": "ssep", "count": 50, "rate_hz": 4.7, "sites": [
    {"site": "l_median", "out": "P1", "amp_ua": 25000, "width_us": 200,
     "record": {"channels": [1, 3, 4], "rate_hz": 5000, "pre_ms": 10, "post_ms": 60,
                "band": [30, 1000], "blank_us": [100, 1500], "progress_every": 1000}}]}
spec = protocol.normalise(wire, board)
assert rec.start(1, "h", spec, False)


def sweep(t):
    hal.now = t
    rec.on_pulse(0, 0, t)
    hal.now = t + 60000
    return rec.service()


sweep(0)  # the first sweep may allocate (first use of filters and sums)
t = 212766
took = 0
micropython.heap_lock()
try:
    for _ in range(20):
        if sweep(t):
            took += 1
        t += 212766
finally:
    micropython.heap_unlock()
print(json.dumps({"took": took, "acquired": hal.acquired, "pushed": len(pushed),
                  "queued": rec.count}))
"""


def test_recording_path_allocates_nothing_per_sweep() -> None:
    out = run_mp(CODE, heap=DEFAULT_HEAP)
    r = json.loads(out.strip().splitlines()[-1])
    assert r["took"] == 20 and r["queued"] == 0
    assert r["acquired"] == 21 * 3  # one acquire per channel per sweep
    assert r["pushed"] == 0
