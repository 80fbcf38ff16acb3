# Device side of bench/bench_frontend.py: the Python work of the ADS1299
# driver's DRDY handler per frame and of read() per sample, with the bus and
# pins stubbed to do nothing (the SPI transfer itself is the board's: 27
# bytes per device at its SCLK). Prints one JSON line.
import json
import sys
import time
from array import array

from stimfw.frontend.ads1299 import ADS1299

DEVICES = int(sys.argv[1])
FRAMES = 20000
RATE = 4000


class Pin:
    IRQ_FALLING = 2

    def value(self, v=None):
        return 0

    def irq(self, handler=None, trigger=0, hard=False):
        pass


class Bus:
    def write(self, buf):
        pass

    def readinto(self, buf, write=0):
        buf[0] = 0xC0  # the status headers the handler checks
        buf[len(buf) - 27] = 0xC0


_t = [0]


def clock():
    # one sample period per call: no frame counted lost
    _t[0] += 1000000 // RATE
    return _t[0]


def best(fn, repeats=3):
    out = None
    for _ in range(repeats):
        t0 = time.ticks_us()
        fn()
        dt = time.ticks_diff(time.ticks_us(), t0)
        out = dt if out is None or dt < out else out
    return out


fe = ADS1299(Bus(), Pin(), Pin(), devices=DEVICES, ring_samples=1024, uv_per_lsb=0.125, clock=clock)
# What setup() would have set, without a chip to answer it.
fe.gain = 24
fe._period16 = 16000000 // RATE
fe._scale()
fe.start()
handler = fe.on_drdy


def frames():
    i = 0
    while i < FRAMES:
        handler(None)
        i += 1


def empty():
    i = 0
    while i < FRAMES:
        i += 1


nch = fe.channels
buf = array("h", bytes(2 * nch * 1000))
chans = tuple(range(nch))
drdy_us = best(frames) - best(empty)
frames()
read_us = best(lambda: fe.read(buf, chans, fe.count - 1000))
print(json.dumps({"devices": DEVICES, "drdy_us_per_frame": drdy_us / FRAMES,
                  "read_us_per_sample": read_us / (1000 * nch), "lost": fe.lost}))
