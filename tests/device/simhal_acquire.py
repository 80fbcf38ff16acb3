# Device side of tests/test_sim_hal.py: acquisition against the model's
# samples, and the model's errors as ValueError. Prints "key value" lines.
import array

from simhal import setup

h, tl = setup()
buf = array.array("h", bytes(2 * 3 * 100))
t = h.ticks_us()
print("n", h.acquire(t, 5000, (0, 3, 15), buf))
print("data", " ".join(str(x) for x in buf))
print("t", t)
try:
    h.acquire(t, 4000, (0,), buf)
except ValueError as e:
    print("err", e)
try:
    h.sim({"bogus": 1})
except ValueError as e:
    print("err2", e)
print("imp", h.impedance("CP4"), h.impedance("P1+"))
try:
    h.impedance("nowhere")
except ValueError as e:
    print("err3", e)
