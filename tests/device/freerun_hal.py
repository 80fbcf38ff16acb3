# A stand-in HAL for the free-run tests: acquire() writes a bipolar discharge
# every 5 ms block (closer than the 20 ms gap, so the group stays open and
# nothing is reported yet) or silence, without allocating; every clock read
# is one block later.
from stimfw.hal_api import Hal


class BlockHal(Hal):
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

    def impedance(self, electrode):
        return 2000
