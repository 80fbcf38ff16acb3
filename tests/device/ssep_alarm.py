# Device side of tests/test_dsp_modules.py: the N20/P25 component measured in
# each average (data: a list of waves in uV, 5 kHz, 50 samples before the
# trigger), the first as the baseline, through the SSEP alarm monitor; prints
# each measurement with the events it raised, as JSON.
import json

import devargs
from stimfw.record import measure
from stimfw.record.alarms import AlarmMonitor

spec = {"name": "N20/P25", "ch": 0, "win_ms": [[15, 25], [20, 35]]}
mon = AlarmMonitor("SSEP")
log = []
for k, w in enumerate(devargs.data()):
    m = measure.component(w, 5000, 50, spec)
    if k == 0:
        mon.set_baseline([m])
    log.append({"m": m, "events": mon.check([m], t_ms=k * 60000)})
print(json.dumps(log))
