# Device side of tests/test_seq_memory.py: validate, hash and compile a
# protocol (data) segment by segment; prints the checked pulse count, the
# compiled pulse count, the last pulse's start, the hash and the heap kept.
import gc
import json

import board
import devargs
from stimfw.stim import compiler, limits, protocol
from stimfw.stim.timeline import Timeline

wire = devargs.data()
gc.collect()
base = gc.mem_alloc()
spec = protocol.normalise(wire, board)
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
