"""The D-wave alarm under MicroPython: more than 50% below its baseline on
a pair (ionm.md: a drop over 50% predicts a lasting deficit), once when it
starts and once when it has recovered past the limit by the hysteresis
margin (10 points), each pair against its own baseline, the
state carried between runs in the table reserved at boot."""

from __future__ import annotations

import json

import pytest
from mpy import BOTH, run_mp_file


@pytest.mark.parametrize("runtime", BOTH)
def test_dwave_alarm_per_pair_against_its_baseline(runtime: str) -> None:
    runs = json.loads(run_mp_file("device/dwave_alarm.py", heap="1m", runtime=runtime))
    assert runs == [
        [],  # the baseline: rostral 40, caudal 30 uV
        [],  # caudal 15.5: down 48.3%, within the limit
        [["dwave_amplitude", 17, -51.7, False]],  # 14.5: down 51.7%
        [],  # still down: reported once
        [],  # the caudal D-wave gone (no peak): still the same alarm
        [],  # back to 16 (down 46.7%): not yet 10 points inside the limit
        [["dwave_amplitude", 17, -36.7, True]],  # 19 (down 36.7%): cleared
        [["dwave_amplitude", 16, -52.5, False]],  # the rostral control down: its own alarm
    ]
