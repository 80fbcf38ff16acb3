"""Components are interior peaks of their polarity: a window's edge is never
reported as a latency (a waveform still rising there has no peak in the
window), a pair's P lies above its N and after or before it as named, and a
peak's latency and value are refined between samples."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from mpy import BOTH, FIRMWARE, executable

SCRIPT = Path(__file__).parent / "device" / "measure_peaks.py"


@pytest.mark.parametrize("runtime", BOTH)
def test_components_are_interior_peaks_or_absent(runtime: str) -> None:
    out = subprocess.run([executable(runtime), str(SCRIPT), str(FIRMWARE)],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    r = dict(json.loads(line) for line in out.splitlines())
    # monotonic through the window: absent, with the reason
    assert r["rising"]["lat_ms"] is None and r["rising"]["amp_uv"] is None
    assert r["rising"]["absent"] == "no P37 peak inside 30..40 ms"
    # the window's first sample is higher, but the peak is the interior one
    assert r["edge_higher"]["lat_ms"] == 36.0 and r["edge_higher"]["lat2_ms"] == 45.0
    assert r["edge_higher"]["amp_uv"] == pytest.approx(25.0 - (-5.0))
    clean = r["clean"]
    assert clean["lat_ms"] == 37.0 and clean["lat2_ms"] == 45.0
    assert clean["amp_uv"] == pytest.approx(10.0 - (-4.0))
    # between samples: the parabola through the extremum and its neighbours
    # finds a Gaussian's centre to a small fraction of the sample period (1
    # ms here), where the sample grid alone is 0.3-0.4 ms off
    b = r["between"]
    assert b["lat_ms"] == pytest.approx(36.4, abs=0.05) and b["lat2_ms"] == pytest.approx(45.7, abs=0.05)
    assert b["amp_uv"] == pytest.approx(18.0, abs=0.3)
    assert r["inverted"]["lat_ms"] is None and r["inverted"]["absent"] == "P37 not above N45"
    assert r["order"]["lat_ms"] is None and r["order"]["absent"] == "N45 not after P37"
    assert r["single"]["lat_ms"] == pytest.approx(13.0, abs=0.05)
    assert r["single"]["amp_uv"] == pytest.approx(5.0, abs=0.1)
    assert r["single_wrong_side"]["absent"] == "N13 not below the baseline"
