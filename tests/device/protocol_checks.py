# Device side of tests/test_protocol_toml.py: each protocol (data) through
# the unit's checks; prints its hash and pulse count.
import json

import board
import devargs
from stimfw.stim import limits, protocol

for w in devargs.data():
    spec = protocol.normalise(w, board)
    fig = limits.check(spec, board)
    print(json.dumps([protocol.spec_hash(spec, board.LIMITS["profile"]), fig["pulses"]]))
