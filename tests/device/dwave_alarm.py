# Device side of tests/test_dwave_alarm_mp.py: the D-wave amplitude alarm
# on each epidural pair against its own baseline, its state kept between
# runs in the table reserved at boot (alarms.Baselines) as the recorder
# keeps it. One average confirms here (confirm = 1): the confirmation and
# baseline rules are the alarm framework's own (tests/test_alarm_criteria.py).
# Prints, per run, the events as [alarm, ch, change_pct, cleared].
import json

from stimfw.record.alarms import CODES, DEFAULTS, AlarmMonitor, Baselines

table = Baselines(2, 4)
DIGEST = b"d" * 32
TH = dict(DEFAULTS)
TH["confirm"] = 1


def meas(rostral, caudal):
    return [{"name": "N/P", "ch": 16, "amp_uv": rostral, "lat_ms": 4.4},
            {"name": "N/P", "ch": 17, "amp_uv": caudal, "lat_ms": None if caudal is None else 6.3}]


out = []
for run_id, (r, c) in enumerate(((40.0, 30.0), (38.0, 15.5), (39.0, 14.5), (40.0, 10.0),
                                  (41.0, None), (40.0, 16.0), (40.0, 19.0), (19.0, 19.0)), 1):
    m = meas(r, c)
    slot, base_run, _ = table.slot(DIGEST, run_id, run_id == 1)
    table.mod[slot] = CODES.index("DWAVE") + 1
    table.nmeas[slot] = len(m)
    mon = AlarmMonitor("DWAVE", TH, table, table.first(slot, 0))
    if run_id == 1:
        mon.gather(m, 0)
        table.have[slot] = table.need[slot] = 1
        events = []
    else:
        events = mon.check(m, 0)
    out.append([[e["alarm"], e["ch"], round(e["change_pct"], 1), e.get("cleared", False)] for e in events])
print(json.dumps(out))
