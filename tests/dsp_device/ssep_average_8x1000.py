# ruff: noqa: F821 - AMP_RATES_HZ, AMP_CHANNELS, AMP_UV_PER_LSB are prepended
# by the test (the simulated board's declarations, as plain assignments).
#
# Runs on the device (micropython): an 8-channel, 1000-sample SSEP average
# with A/B splits over 2000 sweeps of synthetic data (ssep_synth), every
# take() after the first under heap_lock. Prints the heap figures and the
# results as JSON. The synthesiser's code is loaded after the buffers are
# placed.
import gc

gc.collect()
_m_start = gc.mem_alloc()

import json  # noqa: E402

from stimfw.core import arena  # noqa: E402

# As the firmware's start-up does: the DSP arena first, while the heap is
# one free run: one channel's sweep buffer (1000 samples x 2 bytes) and the
# A/B sums (8 channels x 1000 samples x 3 bytes x 2 splits).
arena.reserve(2000 + 48000)
gc.collect()
_m_arena = gc.mem_alloc()

import micropython  # noqa: E402
from stimfw.record import averager  # noqa: E402

gc.collect()
_m_code = gc.mem_alloc()

SOS = [[0.19694763647399344, 0.3938952729479869, 0.19694763647399344, 1.0, -0.40227455727882944, 0.2131116959049829], [1.0, -2.0, 1.0, 1.0, -1.9467716300663545, 0.9482273482473711], [0.9989538975423421, -1.9939653804297088, 0.9989538975423423, 1.0, -1.9939653804297088, 0.9979077950846841]]
SWEEP_PERIOD_US = 212766  # 4.7 Hz


class Amp:
    # The simulated board's amplifier declarations (boards/sim/board.py),
    # given here so that this run loads only the averaging code.
    AMP_RATES_HZ = AMP_RATES_HZ
    AMP_CHANNELS = AMP_CHANNELS
    AMP_UV_PER_LSB = AMP_UV_PER_LSB


class SynthHal:
    """The part of the HAL contract take() uses (docs/HAL.md): acquire()
    fills the caller's buffer with one channel's synthetic sweep and
    allocates nothing; it also checks that take() asks for one channel at a
    time, from the trigger less the pre-trigger time."""

    def __init__(self, synth, pre_us):
        self.synth = synth
        self.pre_us = pre_us
        self.seed = 1
        self.calls = 0
        self.trigger = 0

    def ticks_add(self, a, b):
        return (a + b) & 0x3FFFFFFF

    def acquire(self, t0_us, rate_hz, channels, buf):
        if len(channels) != 1 or rate_hz != 5000 or t0_us != self.trigger - self.pre_us:
            raise ValueError("acquire: unexpected request")
        self.seed = self.synth(buf, len(buf), channels[0], self.seed)
        self.calls += 1


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
    m = gc.mem_alloc()
    from ssep_synth import synth

    gc.collect()
    synth_bytes = gc.mem_alloc() - m
    hal = SynthHal(synth, p.pre_us)
    hal.trigger = 1000000
    p.take(hal, hal.trigger, (0,))
    gc.collect()
    a0 = gc.mem_alloc()
    free0 = gc.mem_free()
    for _ in range(1999):
        hal.trigger = hal.ticks_add(hal.trigger, SWEEP_PERIOD_US)
        micropython.heap_lock()
        p.take(hal, hal.trigger, (0,))
        micropython.heap_unlock()
    gc.collect()
    a1 = gc.mem_alloc()
    r = p.results((10, 60))
    gc.collect()
    r["mem_free_results"] = gc.mem_free()
    r["heap_bytes"] = gc.mem_alloc() + gc.mem_free()
    r["start_bytes"] = _m_start
    r["arena_bytes"] = arena.size()
    r["arena_alloc_bytes"] = _m_arena - _m_start
    r["code_bytes"] = _m_code - _m_arena
    r["synth_bytes"] = synth_bytes
    r["mem_alloc_before"] = a0
    r["mem_alloc_after"] = a1
    r["mem_free"] = free0
    r["data_bytes"] = data_bytes
    r["acquire_calls"] = hal.calls
    # one line per key: the whole dict as one string would need a few KB of
    # contiguous heap that this test's output does not deserve
    for k in r:
        gc.collect()
        print(json.dumps([k, r[k]]))
main()
