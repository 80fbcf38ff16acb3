# Device side of tests/test_dsp_modules.py: averaging set-ups each with one
# bad setting; prints the limit code and, for each, the refusal's detail with
# its code and message (null if accepted).
import json

import board
from stimfw.core.errors import ERR_LIMIT, Refused
from stimfw.record.averager import SweepProcessor

res = []
good = {"rate_hz": 5000, "pre_ms": 5, "post_ms": 50, "channels": [0, 1]}
for bad in ({"rate_hz": 7000}, {"channels": [0, board.AMP_CHANNELS]},
            {"sos": [[1, 0, 0, 1, -2.0, 1.01]]}, {"sos": [[1, 0, 0, 2, 0, 0]]},
            {"sos": [[1, 0]]}, {"sos": [[3, 3, 3, 1, 0, 0]]}, {"response_ms": [40, 10]}):
    cfg = dict(good)
    cfg.update(bad)
    try:
        SweepProcessor(cfg)
        res.append(None)
    except Refused as e:
        d = e.detail
        d["code"] = e.code
        d["message"] = e.message
        res.append(d)
print(json.dumps([ERR_LIMIT, res]))
