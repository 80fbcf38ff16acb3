# Device side of tests/test_seq_search.py: the threshold search, stepping
# and bisecting, on responses measured on the host (data: amplitude -> uV).
import json

import devargs
from stimfw.stim import search

resp = {int(k): v for k, v in devargs.data().items()}
out = []
for mode in ("step", "bisect"):
    s = search.ThresholdSearch(500, 20000, 500, 100, 2, mode, 10)
    out.append(search.run_search(s, lambda a: resp[a], 100)["thresholds"])
print(json.dumps(out))
