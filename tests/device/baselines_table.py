# Device side of tests/test_heap_storage_mp.py: protocols' baselines in the
# table reserved at boot (stimfw.record.alarms.Baselines), run after run as
# the recorder keeps them: a monitor per stream on the table's slot, a
# baseline gathered from two reproducible averages, criteria confirmed in two
# consecutive ones. Prints, as JSON, each step's slot, baseline run, whether
# the slot is fresh, the averages gathered, the events' alarm names (those
# that cleared marked) and the table's counts.
import json

from stimfw.record.alarms import AlarmMonitor, Baselines

table = Baselines(2, 4)  # two protocols of at most four measurements
D1, D2, D3 = b"1" * 32, b"2" * 32, b"3" * 32


def ssep(amp, lat):
    # Two streams of a protocol: N20 on channel 1, and P37/N45 on channel 2.
    return ([{"name": "N20", "ch": 1, "amp_uv": amp, "lat_ms": lat}],
            [{"name": "P37", "ch": 2, "amp_uv": 1.0, "lat_ms": 38.0}])


def run(digest, run_id, streams, baseline=False):
    slot, base_run, fresh = table.slot(digest, run_id, baseline)
    table.need[slot] = 2
    mons = []
    at = 0
    for meas in streams:
        mons.append(AlarmMonitor("SSEP", None, table, table.first(slot, at)))
        at += len(meas)
    pairs = list(zip(mons, streams))  # noqa: B905 (MicroPython's zip has no strict)
    names = []
    have = table.have[slot]
    if have < 2:
        if have and any(m.differs(s) for m, s in pairs):
            have = 0
        for m, s in pairs:
            m.gather(s, have)
        table.have[slot] = have + 1
    else:
        for m, s in pairs:
            for ev in m.check(s):
                names.append(ev["alarm"] + (" cleared" if ev.get("cleared") else ""))
    return {"slot": slot, "base": base_run, "fresh": fresh, "have": table.have[slot],
            "events": names, "count": table.count, "dropped": table.dropped}


out = [
    run(D1, 1, ssep(2.0, 20.0)),  # D1's baseline: one average
    run(D1, 2, ssep(1.0, 20.0)),  # half the amplitude: not reproducible, gathered again
    run(D1, 3, ssep(1.1, 20.2)),  # reproducible: baseline 1.05 uV, 20.1 ms
    run(D1, 4, ssep(0.4, 20.1)),  # amplitude down 62%: once
    run(D1, 5, ssep(0.4, 20.1)),  # twice: alarm
    run(D1, 6, ssep(0.4, 20.1)),  # still down: not reported again
    run(D1, 7, ssep(0.6, 20.1)),  # 43% down, above the trigger, not past the clearing margin
    run(D1, 8, ssep(0.6, 20.1)),  # not cleared
    run(D1, 9, ssep(1.0, 23.0)),  # back, latency up 14%: one average each
    run(D2, 10, ssep(1.0, 20.0)),  # a second protocol: the table is full
    run(D1, 11, ssep(1.0, 23.0)),  # D1 again: amplitude cleared, latency alarm
    run(D3, 12, ssep(1.0, 20.0)),  # a third: D2, least recently used, dropped
    run(D2, 13, ssep(1.0, 20.0)),  # D2 again: a new baseline (D1 dropped now)
    run(D2, 14, ssep(0.1, 20.0), baseline=True),  # a baseline run: fresh, from this one
]
print(json.dumps(out))
