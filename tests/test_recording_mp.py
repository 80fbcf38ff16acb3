"""The recording side's per-pulse and per-sweep path under the real
MicroPython: after the first sweep, reporting pulses and acquiring,
filtering and averaging sweeps allocates nothing (heap_lock)."""

from __future__ import annotations

import json

import pytest
from dsp_reference import sosfilt_bytes
from mpy import BOTH, run_mp_file
from simunit.supervisor import DEFAULT_HEAP


@pytest.mark.parametrize("runtime", BOTH)
def test_recording_path_allocates_nothing_per_sweep(runtime: str) -> None:
    out = run_mp_file("device/recording_heap.py", heap=DEFAULT_HEAP, runtime=runtime)
    r = json.loads(out.strip().splitlines()[-1])
    assert r["backend"] == ("ulab" if runtime == "mcu32" else "fixed")
    # 3 channels of 70 ms at 5 kHz: sosfilt's output on ulab, nothing on fixed
    assert r["alloc_max"] <= (sosfilt_bytes(3, 350) if r["backend"] == "ulab" else 0)
    assert r["took"] == 20 and r["queued"] == 0
    assert r["acquired"] == 21 * 3  # one acquire per channel per sweep
    assert r["pushed"] == 0


def recording(runtime: str, clock: str) -> dict:
    out = run_mp_file("device/recording_wrap.py", clock, heap=DEFAULT_HEAP, runtime=runtime)
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("runtime", BOTH)
def test_recording_across_the_tick_wrap_is_the_same(runtime: str) -> None:
    # The clock starts 1 s before it wraps (2**30 us on a board): sweeps
    # before, across and after the wrap are acquired from the right windows
    # and average to the same results.
    plain = recording(runtime, "plain")
    r = recording(runtime, "wrap")
    assert r["wrapped"] and not plain["wrapped"]
    assert r["starts"] == plain["starts"]
    assert plain["starts"][::3] == [k * 212766 - 10000 for k in range(21)]  # 10 ms pre-trigger
    assert r["results"] == plain["results"]


@pytest.mark.parametrize("runtime", BOTH)
def test_recording_with_the_clock_past_2_31_us(runtime: str) -> None:
    # On the 64-bit port (the simulated unit) ticks_us passes 2**31 after
    # 35.8 min: trigger times kept in a 32-bit array were cut there, and
    # sweeps came from windows 2**32 us early.
    plain = recording(runtime, "plain")
    r = recording(runtime, "late")
    assert r["starts"] == plain["starts"]
    assert r["results"] == plain["results"]
