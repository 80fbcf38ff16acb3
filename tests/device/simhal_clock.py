# Device side of tests/test_sim_hal.py: clocks, idle's jump to a deadline,
# fire, monitor, abort and outputs_off. Prints "key value" lines.
import array
import gc

from simhal import pulse, setup

h, tl = setup()
t0 = h.ticks_us()
print("mono", h.ticks_diff(h.ticks_us(), t0) > 0)
for k in range(5):
    pulse(tl, k * 10000, 1, 20000)
start = h.ticks_add(h.ticks_us(), 1000)
h.fire(tl, start)
print("done_early", h.fire_done())
h.idle(2, h.ticks_add(start, 25000))  # no host input: jumps to the deadline
print("at", h.ticks_diff(h.ticks_us(), start))
mb = array.array("h", bytes(2 * 2 * 300))
print("mon2", h.monitor(2, mb), mb[2 * 50], mb[2 * 50 + 1])
print("mon3", h.monitor(3, mb))
h.abort()
print("done", h.fire_done())
mb = None
gc.collect()  # the ground truth reply is large for this heap
print("gt", h.sim({"groundtruth": True})["groundtruth"]["pulses"]["count"])
h.fire(tl, h.ticks_add(h.ticks_us(), 10))
h.outputs_off()
print("off", h.fire_done())
