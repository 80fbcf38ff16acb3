"""A TcMEP trial's per-muscle measurement under the real MicroPython, both
runtimes: onset, peak-to-peak and area of a known synthetic response, and
no allocation per trial (heap_lock)."""

from __future__ import annotations

import json

import pytest
from mpy import BOTH, run_mp_file


@pytest.mark.parametrize("runtime", BOTH)
def test_mep_trial_measures_without_allocating(runtime: str) -> None:
    out = run_mp_file("device/mep_heap.py", heap="256k", runtime=runtime)
    r = json.loads(out.strip().splitlines()[-1])
    assert r["locked"] and r["size"] == 12 + 16 * 2
    rec = r["record"]
    assert rec["run"] == 7 and rec["trial"] == 5 and rec["train_ms"] == 12.0
    apb, ta = rec["muscles"]
    # One sine period of 2000 LSB (250 uV) amplitude from 21.5 ms: it passes the
    # threshold (5 x the 3 uV noise, floored at 15 uV) within the first
    # tenth of its rise, 0.1-0.3 ms in; the APB window is 10..45 ms.
    assert apb["present"] and 21.5 < apb["onset_ms"] < 21.9
    assert apb["pp_uv"] == pytest.approx(500, abs=6)  # the noise rides on the peaks
    assert apb["threshold_uv"] >= 15.0
    # area: 8 ms of a rectified sine of 250 uV (2/pi x 250 x 8), plus the noise's
    assert apb["area_uvms"] == pytest.approx(2 / 3.14159 * 250 * 8, rel=0.1)
    # TA's window (15..60 ms) holds the same response at the same onset.
    assert ta["onset_ms"] == apb["onset_ms"] and ta["pp_uv"] == apb["pp_uv"]
    assert [m["pp_uv"] for m in r["summary"]] == [apb["pp_uv"], ta["pp_uv"]]
