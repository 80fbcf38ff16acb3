# The sim board's Hal against a running hardware model (tests/test_sim_hal.py):
# the pieces every scenario script uses. Small on purpose: the scenarios run
# in an MCU-sized heap.
from hal import Hal
from stimfw.stim.timeline import Timeline


def setup():
    return Hal(), Timeline(16)


def pulse(tl, t, out, amp, w=200):
    tl.add(t, out, amp, w, 0, 0, 0, 1, 2)
