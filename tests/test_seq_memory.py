"""The largest protocol the limits allow (pulses_per_run_max pulses) validates,
hashes and compiles segment by segment under a 96 KB heap."""

from __future__ import annotations

from seq_common import BOARD, run_image
from stimfw.stim import compiler, protocol

LARGEST = {"type": "ssep", "count": 1250, "rate_hz": 20,
           "sites": [{"site": s} for s in ("l_median", "r_median", "l_tibial", "r_tibial")]}

CODE = """
import gc, board
from stimfw.stim import protocol
from stimfw.stim import limits
from stimfw.stim import compiler
from stimfw.stim.timeline import Timeline
gc.collect()
base = gc.mem_alloc()
spec = protocol.normalise(DATA, board)
fig = limits.check(spec, board)
h = protocol.spec_hash(spec, board.LIMITS["profile"])
tl = Timeline(32)
seg = compiler.Segmenter(spec)
n = 0
last = 0
while True:
    start = seg.fill(tl)
    if start is None:
        break
    n += tl.n
    last = start + tl.t_us[tl.n - 1]
gc.collect()
print(json.dumps([fig["pulses"], n, last, h, gc.mem_alloc() - base]))
"""


def test_largest_allowed_protocol_compiles_in_96k(firmware_image) -> None:
    spec = protocol.normalise(LARGEST, BOARD)
    assert compiler.count_pulses(spec) == BOARD.LIMITS["pulses_per_run_max"]
    (r,) = run_image(firmware_image, CODE, LARGEST, heap="96k")
    pulses, compiled, last, h, _kept = r
    assert pulses == compiled == 5000
    # Last pulse: r_tibial, 1250th sweep at 20 Hz, 3/4 of a period late.
    assert last == 1249 * 50000 + 3 * 50000 // 4
    assert h == protocol.spec_hash(spec, BOARD.LIMITS["profile"])
