# Runs on the device (micropython): an 8-channel, 1000-sample SSEP average
# with A/B splits over 2000 sweeps of synthetic data (ssep_synth), with the
# backend the parameters name ("backend", "amp" = the simulated board's
# amplifier declarations, "lock"; the JSON file of devparams, read here
# without loading that module, to leave the heap to the firmware).
#   lock true (fixed backend): every take() after the first runs under
#     micropython.heap_lock(): it allocates nothing.
#   lock false (ulab backend, whose sosfilt allocates its output): take()
#     runs with automatic collection, as on a board; every 10th sweep is
#     followed by gc.collect() and a check that the live heap is what it
#     was after the first sweep. With "measure", sweeps 2-1000 instead each
#     run after gc.collect() with the collector disabled, so gc.mem_alloc()
#     gives the bytes that one take() allocated (largest and smallest are
#     reported); that needs a take's worth of free heap.
# Prints the heap figures and the results as JSON lines. The synthesiser's
# code is loaded after the buffers are placed.
import gc
import json
import os
import sys

with open(os.getenv("STIMBOX_DSP_PARAMS")) as _f:
    P = json.load(_f)
gc.collect()
_m_start = gc.mem_alloc()

from stimfw.core import arena  # noqa: E402

# As the firmware's start-up does: the DSP arena first, while the heap is
# one free run: one channel's sweep buffer (1000 samples x 2 bytes) and the
# A/B sums (8 channels x 1000 samples x 3 bytes x 2 splits).
arena.reserve(2000 + 48000)
gc.collect()
_m_arena = gc.mem_alloc()

import micropython  # noqa: E402
from stimfw.record import averager  # noqa: E402

if P["backend"] == "ulab":
    from stimfw.dsp import ulab as BACKEND
else:
    from stimfw.dsp import fixed as BACKEND
LOCK = P["lock"]
MEASURE = P.get("measure", False)

gc.collect()
_m_code = gc.mem_alloc()

SOS = [[0.19694763647399344, 0.3938952729479869, 0.19694763647399344, 1.0, -0.40227455727882944, 0.2131116959049829], [1.0, -2.0, 1.0, 1.0, -1.9467716300663545, 0.9482273482473711], [0.9989538975423421, -1.9939653804297088, 0.9989538975423423, 1.0, -1.9939653804297088, 0.9979077950846841]]
SWEEP_PERIOD_US = 212766  # 4.7 Hz


class Amp:
    # The simulated board's amplifier declarations (boards/sim/board.py),
    # given here so that this run loads only the averaging code.
    AMP_RATES_HZ = tuple(P["amp"]["AMP_RATES_HZ"])
    AMP_CHANNELS = P["amp"]["AMP_CHANNELS"]
    AMP_UV_PER_LSB = P["amp"]["AMP_UV_PER_LSB"]


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
                       {"name": "P37/N45", "ch": 1, "win_ms": [[30, 42], [40, 55]]}]}, Amp, BACKEND)
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
    take_max = 0
    take_min = -1
    moved = 0  # measured sweeps whose live heap before take() differed from a0
    for k in range(1, 2000):
        hal.trigger = hal.ticks_add(hal.trigger, SWEEP_PERIOD_US)
        if LOCK:
            micropython.heap_lock()
            p.take(hal, hal.trigger, (0,))
            micropython.heap_unlock()
        elif MEASURE and k < 1000:
            gc.collect()
            m = gc.mem_alloc()
            if m != a0:
                moved += 1
            gc.disable()
            p.take(hal, hal.trigger, (0,))
            d = gc.mem_alloc() - m
            gc.enable()
            if d > take_max:
                take_max = d
            if take_min < 0 or d < take_min:
                take_min = d
        else:
            p.take(hal, hal.trigger, (0,))
            if k % 10 == 0:
                gc.collect()
                if gc.mem_alloc() != a0:
                    moved += 1
    gc.collect()
    a1 = gc.mem_alloc()
    r = p.results((10, 60))
    gc.collect()
    r["mem_free_results"] = gc.mem_free()
    r["acquire_calls"] = hal.calls
    # the processor's data outside the arena and the HAL are not needed to
    # print the results: leave their heap to the printing
    p = hal = None
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
    r["take_alloc_max"] = take_max
    r["take_alloc_min"] = take_min
    r["heap_moved"] = moved
    # one line per key, streamed (json.dump to stdout builds no string):
    # after results() the heap's free part is in small pieces
    for k in r:
        json.dump([k, r[k]], sys.stdout)
        print()
main()
