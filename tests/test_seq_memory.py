"""The largest protocol the limits allow (pulses_per_run_max pulses) validates,
hashes and compiles segment by segment under a 96 KB heap."""

from __future__ import annotations

import pytest
from mpy import BOTH
from seq_common import BOARD, run_image
from stimfw.stim import compiler, protocol

LARGEST = {"type": "ssep", "count": 1250, "rate_hz": 20,
           "sites": [{"site": s} for s in ("l_median", "r_median", "l_tibial", "r_tibial")]}


@pytest.mark.parametrize("runtime", BOTH)
def test_largest_allowed_protocol_compiles_in_96k(firmware_image, runtime: str) -> None:
    spec = protocol.normalise(LARGEST, BOARD)
    assert compiler.count_pulses(spec) == BOARD.LIMITS["pulses_per_run_max"]
    (r,) = run_image(firmware_image, "compile_largest.py", LARGEST, heap="96k", runtime=runtime)
    pulses, compiled, last, h, _kept = r
    assert pulses == compiled == 5000
    # Last pulse: r_tibial, 1250th sweep at 20 Hz, 3/4 of a period late.
    assert last == 1249 * 50000 + 3 * 50000 // 4
    assert h == protocol.spec_hash(spec, BOARD.LIMITS["profile"])
