# Device side of tests/test_mep_mp.py: a TcMEP trial's measurement
# (record.mep.MepTrials: begin, measure each channel, pack the record) on
# a synthetic filtered sweep, under heap_lock on every runtime (it is
# integer arithmetic on preallocated arrays, whatever the DSP backend).
# Prints the last trial's record, decoded, and whether it ran locked.
import json
import math

import micropython
from stimfw.core.buffers import zeros
from stimfw.record import mep

RATE = 10000
PRE = 200  # 20 ms
N = 1000  # 100 ms
cfg = {"mep": {"k": 5, "muscles": ["APB_R", "TA_R"], "win_ms": [None, [15, 60]]}}
mt = mep.MepTrials(cfg, (9, 13), RATE, PRE, N, 0.125, 100)
buf = zeros("h", N)
pulses = zeros("i", 9)
for j in range(5):
    pulses[j] = 3000 * j
out = bytearray(mep.record_size(2))


def fill(onset_ms, amp_lsb, seed):
    # deterministic "noise" of +-24 LSB (3 uV), then one sine period
    # starting onset_ms after the last pulse (12 ms after the trigger)
    x = seed
    for i in range(N):
        x = (x * 1103515245 + 12345) & 0x3FFFFFFF
        buf[i] = (x >> 12) % 49 - 24
    i0 = PRE + 120 + int(onset_ms * 10)
    for k in range(80):
        buf[i0 + k] += int(amp_lsb * math.sin(math.pi * k / 40))


def trial():
    mt.begin(pulses, 5)
    mt.measure(0, buf, 0)
    mt.measure(1, buf, 0)
    return mt.pack(7, out)


fill(21.5, 2000, 1)
trial()  # the first call may allocate (first use of struct formats)
micropython.heap_lock()
try:
    for _ in range(5):
        n = trial()
finally:
    micropython.heap_unlock()
print(json.dumps({"locked": True, "record": mep.decode(bytes(out[:n])), "size": n,
                  "summary": mt.summary()}))
