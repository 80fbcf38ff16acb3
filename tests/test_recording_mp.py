"""The recording side's per-pulse and per-sweep path under the real
MicroPython: after the first sweep, reporting pulses and acquiring,
filtering and averaging sweeps allocates nothing (heap_lock)."""

from __future__ import annotations

import json

import pytest
from mpy import BOTH, run_mp_file
from simunit.supervisor import DEFAULT_HEAP

# The board-like runtime has ulab, so there the firmware filters and averages
# with the ulab DSP backend (stimfw/dsp/backend.py), which still allocates
# per sweep.
ULAB_ALLOCATES = pytest.mark.xfail(
    strict=True, raises=AssertionError,
    reason="the ulab DSP backend allocates per sweep (MemoryError under heap_lock)")


@pytest.mark.parametrize("runtime", BOTH)
def test_recording_path_allocates_nothing_per_sweep(runtime: str, request) -> None:
    if runtime == "mcu32":
        request.applymarker(ULAB_ALLOCATES)
    out = run_mp_file("device/recording_heap.py", heap=DEFAULT_HEAP, runtime=runtime)
    r = json.loads(out.strip().splitlines()[-1])
    assert r["took"] == 20 and r["queued"] == 0
    assert r["acquired"] == 21 * 3  # one acquire per channel per sweep
    assert r["pushed"] == 0
