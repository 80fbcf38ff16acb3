"""Storage the firmware reserves at boot so that a long case makes nothing
lasting mid-case (docs/PERFORMANCE.md, Firmware heap): the protocols'
baseline table, the last run's results as JSON text, and the DSP arena's
held slice for free-run EMG. Each under the real micropython, both runtimes."""

from __future__ import annotations

import json

import pytest
from mpy import BOTH, run_mp_file


@pytest.mark.parametrize("runtime", BOTH)
def test_baselines_carry_alarms_from_run_to_run_and_drop_the_least_recently_used(runtime: str) -> None:
    steps = json.loads(run_mp_file("device/baselines_table.py", runtime=runtime))
    assert [(s["slot"], s["base"], s["fresh"]) for s in steps] == [
        (0, 1, True), (0, 1, False), (0, 1, False), (0, 1, False),
        (1, 5, True), (0, 1, False),
        (1, 7, True),  # D3 takes D2's slot
        (0, 8, True),  # D2 takes D1's
        (0, 9, True), (0, 9, False),
    ]
    assert [s["events"] for s in steps] == [
        [], ["ssep_amplitude"], [], ["ssep_amplitude cleared", "ssep_latency"],
        [], [],  # run 6: the latency alarm, active since run 4, is not reported again
        [], [], [], [],
    ]
    assert [(s["count"], s["dropped"]) for s in steps][-1] == (2, 2)


@pytest.mark.parametrize("runtime", BOTH)
def test_results_are_kept_whole_in_the_reserved_buffer_or_a_block_of_their_own(runtime: str) -> None:
    out = json.loads(run_mp_file("device/results_keep.py", heap="1m", runtime=runtime))
    small = {"run": 7, "streams": [{"snr": [1.5, None], "stream": "l_median"}], "complete": True}
    assert out["small"]["back"] == small and out["small"]["other"] is None and out["small"]["reserved"]
    big = out["big"]
    assert big["back"]["run"] == 8 and len(big["back"]["streams"][0]["pad"]) == big["buf"]
    assert not big["reserved"]
    assert out["again"]["back"] == small and out["again"]["reserved"]
    assert out["refused"] == {"limit": "components", "value": out["max"] + 1, "min": 0, "max": out["max"],
                              "unit": ""}


@pytest.mark.parametrize("runtime", BOTH)
def test_the_held_arena_slice_outlasts_runs_and_leaves_them_the_rest(runtime: str) -> None:
    steps = json.loads(run_mp_file("device/arena_hold.py", runtime=runtime))
    assert steps == {"take_400": 400, "hold_400": 400, "take_past_held": None, "hold_again": None,
                     "held_kept": True, "take_600": 600, "take_1": None, "after_let_go": 400,
                     "zeroed": True, "hold_too_big": None, "hold_all": 1000, "take_none_left": None}
