# Device side of tests/test_protocol_limits.py: for each [over, under] pair
# of protocols (data), the one under the limit passes the checks and the one
# over it is refused; prints [code, detail] of each refusal (null if none).
import json

import board
import devargs
from stimfw.core.errors import Refused
from stimfw.stim import limits, protocol

for over, under in devargs.data():
    limits.check(protocol.normalise(under, board), board)
    try:
        limits.check(protocol.normalise(over, board), board)
        print(json.dumps(None))
    except Refused as e:
        print(json.dumps([e.code, e.detail]))
