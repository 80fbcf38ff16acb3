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
    assert [(s["slot"], s["base"], s["fresh"], s["have"]) for s in steps] == [
        (0, 1, True, 1), (0, 1, False, 1), (0, 1, False, 2),
        (0, 1, False, 2), (0, 1, False, 2), (0, 1, False, 2), (0, 1, False, 2), (0, 1, False, 2),
        (0, 1, False, 2), (1, 10, True, 1), (0, 1, False, 2),
        (1, 12, True, 1),  # D3 takes D2's slot
        (0, 13, True, 1),  # D2 takes D1's
        (0, 14, True, 1),
    ]
    assert [s["events"] for s in steps] == [
        [], [], [],
        [], ["ssep_amplitude"], [],  # confirmed in two consecutive averages, reported once
        [], [],  # 43% down: above the 50% trigger but below its 40% clearing level
        [], [], ["ssep_amplitude cleared", "ssep_latency"],
        [], [], [],
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
