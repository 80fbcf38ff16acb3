# Device side of tests/test_sim_hal.py: the model's clock moved to half a
# second before the timeline clock wraps, three SSEP sweeps 212766 us apart,
# the middle one's window (10 ms before to 70 ms after its pulse) straddling
# the wrap. Prints "key value" lines: the ticks period, and per sweep its
# pulse time (ticks) and samples.
import array
import time

from simhal import pulse, setup

h, tl = setup()
period = time.ticks_add(0, -1) + 1
print("period", period)
h.sim({"advance_s": (period - 500000 - h.ticks_us()) / 1e6})
pulse(tl, 0, 1, 30000)
buf = array.array("h", bytes(2 * 2 * 400))  # CP4, EPL: 80 ms at 5 kHz
for k in (-1, 0, 1):
    start = h.ticks_add(time.ticks_add(0, -30000), k * 212766)
    h.fire(tl, start)
    h.acquire(h.ticks_add(start, -10000), 5000, (1, 4), buf)
    print("start%d" % k, start)
    print("data%d" % k, " ".join(str(x) for x in buf))
    h.idle(500, h.ticks_add(start, 212766 - 20000))
