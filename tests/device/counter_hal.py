# A HAL stand-in for the acquisition tests (tests/test_dsp_modules.py): fills
# the caller's buffer from a counter, with integer code only, as a board's
# DMA copy allocates nothing; fixed electrode impedances.
from stimfw.hal_api import Hal


class CounterHal(Hal):
    def __init__(self):
        self.n = 0

    def acquire(self, t0_us, rate_hz, channels, buf):
        k = self.n
        for i in range(len(buf)):
            k = (k * 75 + 74) % 65537
            buf[i] = (k & 1023) - 512
        self.n = k

    def impedance(self, electrode):
        return {"a": 3200, "b": 4900, "c": 6100, "ref": 1500}[electrode]
