# Device side of tests/test_sim_hal.py: acquisition, stimulation, monitor and
# safety polls with the heap locked on an MCU-sized heap (any allocation
# raises MemoryError). Prints "key value" lines.
import array
import gc

import micropython
from simhal import pulse, setup

h, tl = setup()
buf = array.array("h", bytes(2 * 16 * 500))  # 16 channels x 50 ms at 10 kHz
mb = array.array("h", bytes(2 * 2 * 200))
chans = bytes(range(16))
pulse(tl, 0, 1, 30000)
t = ok = n = done = m = ms = 0  # module globals exist before the lock
gc.collect()
micropython.heap_lock()
try:
    t = h.ticks_add(h.ticks_us(), 100)
    h.fire(tl, t)
    ok = h.interlock_closed() and not h.estop_pressed()
    n = h.acquire(h.ticks_add(t, -5000), 10000, chans, buf)
    done = h.fire_done()
    m = h.monitor(0, mb)
    ms = h.ticks_ms()
finally:
    micropython.heap_unlock()
print("n", n, done, m, ok, ms >= 0)
print("range", min(buf), max(buf))
