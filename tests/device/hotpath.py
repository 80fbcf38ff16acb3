# How the tests prove a hot path on the device. With the fixed-point DSP
# backend it runs under heap_lock: any allocation raises MemoryError. With
# the ulab backend, whose scipy.signal.sosfilt allocates its output on every
# call (ulab has no out= argument; docs/DSP.md), it runs call by call with
# the collector off and the bytes each call allocated are measured, so a
# test can hold them to sosfilt's share and nothing more.
import gc

import micropython
from stimfw.dsp import backend


def run(fn, n):
    """Call fn() n times; (backend name, most bytes one call allocated),
    which is 0 on the fixed backend, proven by heap_lock."""
    if backend.NAME == "fixed":
        micropython.heap_lock()
        try:
            for _ in range(n):
                fn()
        finally:
            micropython.heap_unlock()
        return backend.NAME, 0
    most = 0
    gc.disable()
    try:
        for _ in range(n):
            gc.collect()
            a = gc.mem_alloc()
            fn()
            d = gc.mem_alloc() - a
            if d > most:
                most = d
    finally:
        gc.enable()
    return backend.NAME, most
