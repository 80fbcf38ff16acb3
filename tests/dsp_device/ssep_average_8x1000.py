# ruff: noqa: F821 - ptr16 is a viper type name
# Runs on the device (micropython): an 8-channel, 1000-sample SSEP average
# with A/B splits over 2000 sweeps of synthetic data made here, each feed()
# under heap_lock. Prints the heap figures and the results as JSON.
import gc
import json

import micropython
from stimfw import averager

SOS = [[0.19694763647399344, 0.3938952729479869, 0.19694763647399344, 1.0, -0.40227455727882944, 0.2131116959049829], [1.0, -2.0, 1.0, 1.0, -1.9467716300663545, 0.9482273482473711], [0.9989538975423421, -1.9939653804297088, 0.9989538975423423, 1.0, -1.9939653804297088, 0.9979077950846841]]

@micropython.viper
def synth(buf: ptr16, n: int, n_ch: int, seed: int) -> int:
    # response template: N20 (-16 LSB, 19 ms) on channel 0 and P37 on channel 1,
    # a 3 mV artifact in the first ms, LCG noise of +-64 LSB, offset 400 LSB
    x = seed
    for i in range(n):
        for c in range(n_ch):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            v = 400 + ((x >> 16) & 127) - 64
            if 50 <= i and i < 55:
                v += 24000
            if c == 0 and 140 <= i and i < 150:
                v -= 16
            if c == 1 and 230 <= i and i < 245:
                v += 12
            buf[i * n_ch + c] = v
    return x

def main():
    gc.collect()
    base = gc.mem_alloc()
    p = averager.SweepProcessor({"rate_hz": 5000, "pre_ms": 10, "post_ms": 190,
        "channels": [0, 1, 2, 3, 4, 5, 6, 7], "sos": SOS, "blank_us": [200, 2000],
        "reject_uv": 3000, "split": True, "progress_every": 100,
        "components": [{"name": "N20/P25", "ch": 0, "win_ms": [[15, 25], [20, 35]]},
                       {"name": "P37/N45", "ch": 1, "win_ms": [[30, 42], [40, 55]]}]})
    gc.collect()
    data_bytes = gc.mem_alloc() - base
    seed = 1
    seed = synth(p.buf, 1000, 8, seed)
    p.feed(p.buf, (0,))
    gc.collect()
    a0 = gc.mem_alloc()
    free0 = gc.mem_free()
    for _ in range(1999):
        seed = synth(p.buf, 1000, 8, seed)
        micropython.heap_lock()
        p.feed(p.buf, (0,))
        micropython.heap_unlock()
    gc.collect()
    a1 = gc.mem_alloc()
    r = p.results((10, 60))
    r["mem_alloc_before"] = a0
    r["mem_alloc_after"] = a1
    r["mem_free"] = free0
    r["data_bytes"] = data_bytes
    print(json.dumps(r))
main()
