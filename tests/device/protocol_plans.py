# Device side of tests/test_protocol_timeline.py: for each protocol (data),
# its hash and its first 64 compiled rows as the unit plans them.
import json

import board
import devargs
from stimfw.stim import compiler, protocol

for w in devargs.data():
    spec = protocol.normalise(w, board)
    print(json.dumps([protocol.spec_hash(spec, board.LIMITS["profile"]),
                      list(compiler.plan_rows(spec, 64))]))
