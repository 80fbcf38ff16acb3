"""The free-run task under the real micropython: its per-block path (acquire,
filter, detect) allocates nothing, and the impedance request refuses during
a stimulus run."""

from __future__ import annotations

from mpy import run_mp

# A stand-in HAL: acquire() writes a bipolar discharge every 5 ms (closer
# than the 20 ms gap, so the group stays open and nothing is reported yet)
# or silence, without allocating.
HAL = """
import gc, micropython
from stimfw.link import messages as m
from stimfw.amp.requests import FreeRunTask, impedance_request

class Hal:
    def __init__(self):
        self.t = 0
        self.firing = True
    def ticks_us(self):
        self.t += 5000  # one block (5 ms) per read: every service() finds one due
        return self.t
    def ticks_diff(self, a, b):
        return a - b
    def ticks_add(self, t, d):
        return t + d
    def acquire(self, t0_us, rate_hz, channels, buf):
        nch = len(channels)
        i = 0
        n = len(buf)
        while i < n:
            buf[i] = 0
            i += 1
        if self.firing:
            j = 0
            while j < nch:
                buf[10 * nch + j] = 8000
                buf[11 * nch + j] = -8000
                buf[12 * nch + j] = 8000
                j += 1
        return n // nch
    def impedance(self, name):
        return 2000

pushed = []
hal = Hal()
task = FreeRunTask(hal, lambda t, d: pushed.append((t, d)))
"""


def test_freerun_block_path_allocates_nothing_under_heap_lock() -> None:
    # 256k: the simulated unit's heap; monitoring imports the safety module for its states.
    out = run_mp(HAL + """
st = task.start({"channels": [8, 9, 12, 13], "rate_hz": 10000, "block_ms": 5, "thr_uv": 50})
assert st["block"] == 50
assert task.service()  # the first block, outside the lock
gc.collect()
before = gc.mem_alloc()
micropython.heap_lock()
try:
    for k in range(400):  # 2 s of stream
        task.service()
finally:
    micropython.heap_unlock()
after = gc.mem_alloc()
assert before == after, (before, after)
assert not pushed and task.stream.count == 401
spikes = list(task.fr.spikes)
assert spikes == [401] * 4, spikes
hal.firing = False
for k in range(10):
    task.service()
assert len(pushed) == 1 and pushed[0][0] == m.PUSH_EMG
ev = pushed[0][1]["events"]
assert [e["kind"] for e in ev] == ["train"] * 4 and [e["ch"] for e in ev] == [8, 9, 12, 13]
assert [e["spikes"] for e in ev] == [401] * 4
s = task.stop()
assert s["trains"] == [1] * 4 and s["done"] and task.stream is None
print("locked blocks 400, alloc", before, after)
""", heap="256k")
    assert "locked blocks 400" in out


def test_impedance_request_under_micropython() -> None:
    run_mp(HAL + """
import board
from stimfw.core.errors import Refused

r = impedance_request(hal, board, False, {"pairs": [["CP4", "Fz"]]})
assert r["pass"] and len(r["electrodes"]) == len(board.AMP_ELECTRODES)
assert r["electrodes"][0]["kohm"] == 2.0 and r["pairs"][0]["mismatch_kohm"] == 0
try:
    impedance_request(hal, board, True, {})  # while a run stimulates
    raise AssertionError("not refused")
except Refused as e:
    assert e.code == m.ERR_STATE
""", heap="256k")
