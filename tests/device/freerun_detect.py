# Device side of tests/test_dsp_modules.py: free-run EMG detection over a
# recording (data: {"n_ch", "rate", "sos", "src": int16 file}) in 500-sample
# blocks; prints the events and the summary as JSON.
import json

import devargs
from stimfw.amp.freerun import FreeRun

d = devargs.data()
fr = FreeRun(d["n_ch"], d["rate"], 500, d["sos"], thr_uv=80)
with open(d["src"], "rb") as f:
    while f.readinto(fr.buf) == len(fr.buf) * 2:
        fr.feed(fr.buf, 500)
print(json.dumps({"events": fr.take_events(), "summary": fr.summary()}))
