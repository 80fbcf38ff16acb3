# Device side of tests/test_recording_mp.py: after the first sweep, the
# recording's per-pulse and per-sweep path (report a pulse, acquire, filter,
# average) runs 20 sweeps as tests/device/hotpath.py proves a hot path.
# Prints the counts and the allocation as JSON.
import json

import board
import hotpath
from stimfw.core import arena
from stimfw.hal_api import Hal
from stimfw.record.recording import Recorder
from stimfw.stim import protocol

arena.reserve(board.DSP_ARENA_BYTES)


class ClockHal(Hal):
    # A test stand-in for the board HAL: a timeline clock the test moves, and
    # an ADC that returns a small deterministic ramp (no allocation).
    def __init__(self):
        self.now = 0
        self.acquired = 0

    def ticks_us(self):
        return self.now

    def ticks_add(self, t, d):
        return t + d

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


state = {"t": 212766, "took": 0}


def next_sweep():
    if sweep(state["t"]):
        state["took"] += 1
    state["t"] += 212766


sweep(0)  # the first sweep may allocate (first use of filters and sums)
name, most = hotpath.run(next_sweep, 20)
print(json.dumps({"took": state["took"], "acquired": hal.acquired, "pushed": len(pushed),
                  "queued": rec.count, "backend": name, "alloc_max": most}))
