# Device side of tests/test_dsp_modules.py: averaging set-ups each with one
# bad setting; prints the refusal's detail for each (null if accepted).
import json

from stimfw.dsp.filters import FilterError
from stimfw.record.averager import ConfigError, SweepProcessor

REFUSALS = (ConfigError, FilterError)  # the refusals a bad set-up may raise

res = []
good = {"rate_hz": 5000, "pre_ms": 5, "post_ms": 50, "channels": [0, 1]}
for bad in ({"rate_hz": 7000}, {"channels": [0, 16]},
            {"sos": [[1, 0, 0, 1, -2.0, 1.01]]}, {"sos": [[1, 0, 0, 2, 0, 0]]},
            {"sos": [[1, 0]]}, {"sos": [[3, 3, 3, 1, 0, 0]]}, {"response_ms": [40, 10]}):
    cfg = dict(good)
    cfg.update(bad)
    try:
        SweepProcessor(cfg)
        res.append(None)
    except REFUSALS as e:
        res.append(e.detail)
print(json.dumps(res))
