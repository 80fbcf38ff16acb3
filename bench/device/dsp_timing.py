# Device side of bench/bench_dsp.py: times the DSP of one backend under
# micropython. Parameters: the JSON file named by $STIMBOX_DSP_PARAMS:
#   mode "take": SweepProcessor(cfg).take() per sweep, acquire() reading the
#     channel from "src" ((sweep, channel, sample) int16); the time spent in
#     acquire() is measured apart and left out.
#   mode "freerun": FreeRun.feed() per block of "src" (interleaved int16),
#     the file read left out.
# Each timed call's microseconds are kept; the median is reported (with the
# mean): this machine's other work lands in a few calls, not in the typical
# one. Prints one JSON line.
import gc
import json
import os
import time
from array import array

from stimfw.core import arena

with open(os.getenv("STIMBOX_DSP_PARAMS")) as _f:
    P = json.load(_f)
if P["mode"] == "take":
    # as the firmware's start-up: the DSP arena first (one channel's sweep
    # buffer and the A/B sums of 8 x 1000 samples), while the heap is one
    # run. Free-run blocks come from the heap, as in the firmware.
    arena.reserve(2000 + 48000)
# the timings, placed before the firmware loads (96k is tight on the 64-bit port)
US = array("i", bytearray(4 * P.get("sweeps", P.get("blocks", 0))))
if P["backend"] == "ulab":
    from stimfw.dsp import ulab as BE
else:
    from stimfw.dsp import fixed as BE


class FileHal:
    def __init__(self, path, n_ch, n, pre_us, t0, period):
        self.f = open(path, "rb")
        self.n_ch = n_ch
        self.n = n
        self.pre_us = pre_us
        self.t0 = t0
        self.period = period
        self.us = 0

    def ticks_add(self, a, b):
        return time.ticks_add(a, b)

    def acquire(self, t0_us, rate_hz, channels, buf):
        t = time.ticks_us()
        k = time.ticks_diff(t0_us, self.t0 - self.pre_us) // self.period
        self.f.seek(2 * self.n * (k * self.n_ch + channels[0]))
        self.f.readinto(buf)
        self.us += time.ticks_diff(time.ticks_us(), t)


def take():
    from stimfw.record.averager import SweepProcessor

    class Amp:
        AMP_RATES_HZ = (P["cfg"]["rate_hz"],)
        AMP_CHANNELS = 16
        AMP_UV_PER_LSB = 0.125

    p = SweepProcessor(P["cfg"], Amp, BE)
    hal = FileHal(P["src"], len(P["cfg"]["channels"]), p.n, p.pre_us, P["t0"], P["period"])
    sweeps = P["sweeps"]
    us = US
    gc.collect()
    for k in range(sweeps):
        a = hal.us
        t = time.ticks_us()
        p.take(hal, time.ticks_add(P["t0"], k * P["period"]), (0,))
        us[k] = time.ticks_diff(time.ticks_us(), t) - (hal.us - a)
    mean = sum(us) / sweeps / 1000
    return {"ms": median(us) / 1000, "mean_ms": mean,
            "acquire_ms": hal.us / sweeps / 1000,
            "accepted": sum(p.chain.sweeps(2, c) for c in range(p.n_ch))}


def median(us):
    """Median of us, sorted in place (sorted() would need a list's heap)."""
    for i in range(1, len(us)):
        v = us[i]
        j = i - 1
        while j >= 0 and us[j] > v:
            us[j + 1] = us[j]
            j -= 1
        us[j + 1] = v
    return us[len(us) // 2]


def freerun():
    from stimfw.amp.freerun import FreeRun

    n_ch = P["n_ch"]
    block = P["block"]
    fr = FreeRun(n_ch, P["rate_hz"], block, P["sos"], thr_uv=100, backend=BE)
    us = US
    gc.collect()
    k = 0
    with open(P["src"], "rb") as f:
        while f.readinto(fr.buf) == len(fr.buf) * 2:
            t = time.ticks_us()
            fr.feed(fr.buf, block)
            us[k] = time.ticks_diff(time.ticks_us(), t)
            k += 1
    mean = k * block * n_ch / (sum(us) / 1e6)
    return {"samples_per_s": block * n_ch / (median(us) / 1e6), "mean_samples_per_s": mean,
            "spikes": sum(fr.spikes)}


r = take() if P["mode"] == "take" else freerun()
r["backend"] = BE.NAME
print(json.dumps(r))
