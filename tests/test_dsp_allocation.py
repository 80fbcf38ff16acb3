"""What the DSP hot paths allocate under MicroPython: the real-ulab
behaviours that set the ulab backend's floor (on micropython-mcu32, the
board-like runtime with real ulab), and FreeRun.feed() per backend: nothing
on the fixed-point backend (heap_lock, both runtimes), only sosfilt's
output and state on the ulab backend, with the heap stable. take() is
covered by tests/test_dsp_averaging.py. Device side: tests/dsp_device/."""

from __future__ import annotations

import json

import pytest
from dsp_reference import BACKENDS, run_device, sosfilt_bytes
from mpy import HAVE_MCU32, NO_MCU32
from stimbox import filters as host_filters


@pytest.mark.skipif(not HAVE_MCU32, reason=NO_MCU32)
def test_real_ulab_behaviours_the_backend_relies_on(tmp_path) -> None:
    r = json.loads(run_device("ulab_facts", {}, tmp_path, runtime="mcu32"))
    print(r)
    # the import form of dsp/ulab.py, and the one it must not use
    assert r["subpackage_import"] == "ImportError" and r["attribute_sosfilt"]
    assert r["float_itemsize"] == 4  # float32: what f32_to_i16 decodes
    # every ndarray binary operator allocates shape/stride scratch, in-place
    # ones and scalar operands included; a slice is a new ndarray
    assert r["inplace_add"] == "MemoryError" and r["inplace_add_bytes"] > 0
    assert r["inplace_scalar"] == "MemoryError"
    assert r["slice"] == "MemoryError" and r["slice_bytes"] > 0
    assert r["frombuffer"] == "MemoryError"  # views are made once, at set-up
    # sosfilt allocates its output (1000 float32 here), zf and shape vectors
    # whatever its arguments; a tuple of rows costs no more (an ndarray of
    # rows adds a view per section)
    assert r["sosfilt"] == "MemoryError"
    assert 4000 < r["sosfilt_bytes"] <= 4000 + 256
    assert r["sosfilt_ndarray_sos_bytes"] > r["sosfilt_bytes"]
    # with zi it returns a new zf and leaves zi as it was
    assert r["zf_is_new"] and r["zi_untouched"] and r["sosfilt_out_dtype_float"]


# 8 channels x 500 samples: a 50 ms block at 10 kHz, within the free-run
# stream's 4096-sample buffer
FR_CH, FR_BLOCK = 8, 500
# what the ulab backend may allocate per feed(): per channel, sosfilt's
# output (500 float32), zf, the (y, zf) tuple and shape vectors per call
ULAB_FEED_BYTES = sosfilt_bytes(FR_CH, FR_BLOCK)


@pytest.mark.parametrize("runtime,backend", BACKENDS)
def test_freerun_feed_allocation(runtime: str, backend: str, tmp_path) -> None:
    sos = host_filters.design(10000, (30, 3000), 0)
    r = json.loads(run_device("freerun_alloc", {
        "backend": backend, "n_ch": FR_CH, "rate_hz": 10000, "block": FR_BLOCK,
        "blocks": 1000, "sos": sos, "lock": backend == "fixed", "measure": backend == "ulab",
    }, tmp_path, runtime=runtime, heap="96k"))
    print(runtime, r)
    assert r["backend"] == backend
    assert r["t"] == 1000 * FR_BLOCK and r["spikes"] == [0] * FR_CH
    if backend == "fixed":
        assert r["feed_alloc_max"] == 0  # every feed after the first under heap_lock
    else:
        assert 0 < r["feed_alloc_min"] == r["feed_alloc_max"] <= ULAB_FEED_BYTES
    # the live heap after every 10th feed and at the end: as after the first
    assert r["heap_moved"] == 0 and r["mem_alloc_after"] == r["mem_alloc_before"]
