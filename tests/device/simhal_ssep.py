# Device side of tests/test_sim_hal.py: 100 SSEP sweeps at 4.7 Hz fired,
# acquired and summed on the device through the real socket path. Prints
# "key value" lines.
import array

from simhal import pulse, setup

h, tl = setup()
pulse(tl, 0, 1, 30000)
buf = array.array("h", bytes(2 * 2 * 400))  # CP4, EPL: 80 ms at 5 kHz
acc = array.array("i", bytes(4 * 800))
period = 212766
start = h.ticks_add(h.ticks_us(), 1000)
for _ in range(100):
    h.fire(tl, start)
    h.acquire(h.ticks_add(start, -10000), 5000, (1, 4), buf)
    for i in range(800):
        acc[i] += buf[i]
    start = h.ticks_add(start, period)
    h.idle(500, h.ticks_add(start, -10000))
# One line per 80 sums: a single line of all 800 would need a string of
# several KB, which the test's own heap share cannot spare.
for i in range(0, 800, 80):
    print("acc%d" % i, " ".join(str(x) for x in acc[i:i + 80]))
