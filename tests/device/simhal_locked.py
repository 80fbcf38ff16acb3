# Device side of tests/test_sim_hal.py: acquisition, stimulation, monitor,
# safety polls, clock reads and idle jumps with the heap locked on an
# MCU-sized heap (any allocation raises MemoryError). Argument 0: seconds
# the model's clock is moved on first (past 2**30 us, the 32-bit ticks
# wrap, for instance). Prints "key value" lines.
import array
import gc
import sys

import micropython
from simhal import pulse, setup

h, tl = setup()
advance = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0
if advance:
    h.sim({"advance_s": advance})
buf = array.array("h", bytes(2 * 16 * 500))  # 16 channels x 50 ms at 10 kHz
mb = array.array("h", bytes(2 * 2 * 200))
chans = bytes(range(16))
pulse(tl, 0, 1, 30000)
t = ok = n = done = m = ms = ms2 = t2 = k = 0  # module globals exist before the lock
h.idle(0, h.ticks_us())  # the console's poll allocates its result tuple once
gc.collect()
micropython.heap_lock()
try:
    ms = h.ticks_ms()
    t = h.ticks_add(h.ticks_us(), 100)
    h.fire(tl, t)
    ok = h.interlock_closed() and not h.estop_pressed()
    n = h.acquire(h.ticks_add(t, -5000), 10000, chans, buf)
    done = h.fire_done()
    m = h.monitor(0, mb)
    # 40 idle jumps of 0.3 s and clock reads: no reply from the model
    # between them until the safety poll.
    k = 0
    while k < 40:
        h.idle(5, h.ticks_add(h.ticks_us(), 300000))
        k += 1
    t2 = h.ticks_us()
    ok = ok and h.interlock_closed()
    ms2 = h.ticks_ms()
finally:
    micropython.heap_unlock()
print("n", n, done, m, ok, ms >= 0)
print("range", min(buf), max(buf))
print("t", t, t2)
print("ms", ms, ms2)
