# Device side of tests/test_dsp_modules.py: MEP measures and the MEP and tEMG
# alarms on synthetic responses; prints [baseline, events at half, events at a
# fifth, tEMG events, response present] as JSON.
import json
import math

from stimfw.record import measure
from stimfw.record.alarms import AlarmMonitor


def mep(amp):
    return [0.0] * 50 + [amp * math.sin(2 * math.pi * i / 40) if 100 <= i < 180 else 0.0
                         for i in range(450)]


base = measure.mep(mep(400.0), 5000, 50)
mon = AlarmMonitor("MEP", {"mep_drop_pct": 75})
mon.set_baseline([{"ch": 3, "pp_uv": base["pp_uv"]}])
ev_ok = mon.check([{"ch": 3, "pp_uv": measure.mep(mep(200.0), 5000, 50)["pp_uv"]}])
# in two consecutive averages (the default "confirm"): one alarm, on the second
low = [{"ch": 3, "pp_uv": measure.mep(mep(80.0), 5000, 50)["pp_uv"]}]
ev_drop = mon.check(low) + mon.check(low)
t = AlarmMonitor("TEMG")
ev_t = (t.check([{"name": "L4", "ch": 5, "threshold_ma": 3.5}])
        + t.check([{"name": "L5", "ch": 6, "threshold_ma": 12.0}]))
pres = measure.response_present(mep(40.0), 5000, 50, (10, 40), 50.0)
print(json.dumps([base, ev_ok, ev_drop, ev_t, pres]))
