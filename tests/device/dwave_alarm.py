# Device side of tests/test_dwave_alarm_mp.py: the D-wave amplitude alarm
# on each epidural pair against its own baseline, its state kept between
# runs in the table reserved at boot (alarms.Baselines) as the recorder
# keeps it. Prints, per run, the events as [alarm, ch, change_pct, cleared].
import json

from stimfw.record.alarms import AlarmMonitor, Baselines

table = Baselines(2, 4)
DIGEST = b"d" * 32


def meas(rostral, caudal):
    return [{"name": "N/P", "ch": 16, "amp_uv": rostral, "lat_ms": 4.4},
            {"name": "N/P", "ch": 17, "amp_uv": caudal, "lat_ms": None if caudal is None else 6.3}]


out = []
for run_id, (r, c) in enumerate(((40.0, 30.0), (38.0, 15.5), (39.0, 14.5), (40.0, 10.0),
                                  (41.0, None), (40.0, 16.0), (19.0, 16.0)), 1):
    m = meas(r, c)
    slot, base_run, fresh = table.slot(DIGEST, run_id, run_id == 1)
    mon = AlarmMonitor("DWAVE")
    if fresh:
        mon.set_baseline(m)
        events = []
    else:
        table.load(slot, 0, mon, m)
        events = mon.check(m, 0)
    table.save(slot, 0, mon, m)
    out.append([[e["alarm"], e["ch"], round(e["change_pct"], 1), e.get("cleared", False)] for e in events])
print(json.dumps(out))
