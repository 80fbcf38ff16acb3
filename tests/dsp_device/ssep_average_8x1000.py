# Runs on the device (micropython): an 8-channel, 1000-sample SSEP average
# with A/B splits over 2000 sweeps of synthetic data (ssep_synth), each
# feed() under heap_lock. Prints the heap figures and the results as JSON.
# The synthesiser's code is loaded after the buffers are placed.
import gc
import json

from stimfw import arena

# As the firmware's start-up does: the DSP arena first, while the heap is
# one free run: the sweep buffer (8 channels x 1000 samples x 2 bytes) and
# the A/B sums (x 3 bytes x 2 splits).
arena.reserve(16000 + 48000)

import micropython  # noqa: E402
from stimfw import averager  # noqa: E402

SOS = [[0.19694763647399344, 0.3938952729479869, 0.19694763647399344, 1.0, -0.40227455727882944, 0.2131116959049829], [1.0, -2.0, 1.0, 1.0, -1.9467716300663545, 0.9482273482473711], [0.9989538975423421, -1.9939653804297088, 0.9989538975423423, 1.0, -1.9939653804297088, 0.9979077950846841]]

class Amp:
    # The simulated board's amplifier declarations (boards/sim/board.py),
    # given here so that this run loads only the averaging code.
    AMP_RATES_HZ = AMP_RATES_HZ
    AMP_CHANNELS = AMP_CHANNELS
    AMP_UV_PER_LSB = AMP_UV_PER_LSB


def main():
    gc.collect()
    base = gc.mem_alloc()
    p = averager.SweepProcessor({"rate_hz": 5000, "pre_ms": 10, "post_ms": 190,
        "channels": [0, 1, 2, 3, 4, 5, 6, 7], "sos": SOS, "blank_us": [200, 2000],
        "reject_uv": 3000, "split": True, "progress_every": 100,
        "components": [{"name": "N20/P25", "ch": 0, "win_ms": [[15, 25], [20, 35]]},
                       {"name": "P37/N45", "ch": 1, "win_ms": [[30, 42], [40, 55]]}]}, Amp)
    gc.collect()
    data_bytes = gc.mem_alloc() - base
    from ssep_synth import synth

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
