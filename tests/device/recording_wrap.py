# Device side of tests/test_recording_mp.py: 21 sweeps of an SSEP recording,
# the timeline clock in time.ticks_* arithmetic as on a board, starting as
# argv[1] says: "plain" at 0, "wrap" 1 s before it wraps, "late" 3e9 us on
# (past 2**31, modulo the ticks period). Prints the recording's results, the
# acquisition windows' starts from the first trigger, and whether the clock
# wrapped, as JSON.
import json
import time

import board
import devargs
from stimfw.core import arena
from stimfw.hal_api import Hal
from stimfw.record.recording import Recorder
from stimfw.stim import protocol

arena.reserve(board.DSP_ARENA_BYTES)


class WrapClockHal(Hal):
    # The timeline clock the test sets, the contract's (wrapping) ticks
    # arithmetic, and an ADC that returns a small deterministic ramp.
    def __init__(self, t0):
        self.now = t0
        self.starts = []

    def ticks_us(self):
        return self.now

    def wall_ms(self):
        return 0

    def acquire(self, t0_us, rate_hz, channels, buf):
        self.starts.append(t0_us)
        i = 0
        n = len(buf)
        while i < n:
            buf[i] = (i * 7 + channels[0] * 3) % 64 - 32
            i += 1
        return n


t0 = 0
for step in {"plain": (), "wrap": (-1000000,), "late": (500000000,) * 6}[devargs.arg(0)]:
    t0 = time.ticks_add(t0, step)  # steps under half a 32-bit port's ticks period
hal = WrapClockHal(t0)
rec = Recorder(hal, board, lambda t, d: None, None)
wire = {"type": "ssep", "count": 50, "rate_hz": 4.7, "sites": [
    {"site": "l_median", "out": "P1", "amp_ua": 25000, "width_us": 200,
     "record": {"channels": [1, 3, 4], "rate_hz": 5000, "pre_ms": 10, "post_ms": 60,
                "band": [30, 1000], "blank_us": [100, 1500], "progress_every": 1000}}]}
assert rec.start(1, "h", protocol.normalise(wire, board), False)
t = t0
for _ in range(21):
    hal.now = t
    rec.on_pulse(0, 0, t)
    hal.now = hal.ticks_add(t, 60000)
    assert rec.service()
    t = hal.ticks_add(t, 212766)
res = rec.finish(True)
print(json.dumps({"results": res, "wrapped": hal.ticks_diff(t, t0) > 0 and t < t0,
                  "starts": [hal.ticks_diff(s, t0) for s in hal.starts]}))
