"""The free-run task under the real micropython: its per-block path (acquire,
filter, detect) allocates nothing, and the impedance request refuses during
a stimulus run. Device side: tests/device/freerun_*.py, impedance_request.py."""

from __future__ import annotations

import pytest
from mpy import BOTH, run_mp_file

# The board-like runtime has ulab, so there the firmware filters with the ulab
# DSP backend (stimfw/dsp/backend.py), whose per-block path still allocates.
ULAB_ALLOCATES = pytest.mark.xfail(
    strict=True, raises=AssertionError,
    reason="the ulab DSP backend allocates per block (MemoryError under heap_lock)")


@pytest.mark.parametrize("runtime", BOTH)
def test_freerun_block_path_allocates_nothing_under_heap_lock(runtime: str, request) -> None:
    if runtime == "mcu32":
        request.applymarker(ULAB_ALLOCATES)
    # 256k: the simulated unit's heap; monitoring imports the safety module for its states.
    out = run_mp_file("device/freerun_heap.py", heap="256k", runtime=runtime)
    assert "locked blocks 400" in out


@pytest.mark.parametrize("runtime", BOTH)
def test_impedance_request_under_micropython(runtime: str) -> None:
    out = run_mp_file("device/impedance_request.py", heap="256k", runtime=runtime)
    assert "impedance request ok" in out
