"""The free-run task under the real micropython: its per-block path (acquire,
filter, detect) allocates nothing, and the impedance request refuses during
a stimulus run. Device side: tests/device/freerun_*.py, impedance_request.py."""

from __future__ import annotations

import pytest
from dsp_reference import sosfilt_bytes
from mpy import BOTH, run_mp_file


@pytest.mark.parametrize("runtime", BOTH)
def test_freerun_block_path_allocates_nothing_under_heap_lock(runtime: str) -> None:
    # 256k: the modules loaded into RAM, as device scripts load them
    # (tests/mpy.py RAM_FIRMWARE_HEAP).
    out = run_mp_file("device/freerun_heap.py", heap="256k", runtime=runtime)
    _, blocks, backend, most = out.split()
    assert blocks == "400" and backend == ("ulab" if runtime == "mcu32" else "fixed")
    # 4 channels of 5 ms blocks at 10 kHz: sosfilt's output on ulab, nothing on fixed
    assert int(most) <= (sosfilt_bytes(4, 50) if backend == "ulab" else 0)


@pytest.mark.parametrize("runtime", BOTH)
def test_impedance_request_under_micropython(runtime: str) -> None:
    out = run_mp_file("device/impedance_request.py", heap="256k", runtime=runtime)
    assert "impedance request ok" in out
