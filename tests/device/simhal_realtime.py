# Device side of tests/test_sim_hal.py: in real-time mode acquire() waits
# for the wall clock. Prints "key value" lines.
import array

from simhal import setup

h, tl = setup()
print("rt", h.realtime)
buf = array.array("h", bytes(2 * 1000))
a = h.ticks_us()
h.acquire(a, 5000, (0,), buf)  # 200 ms of samples, not recorded yet
print("waited", h.ticks_diff(h.ticks_us(), a))
