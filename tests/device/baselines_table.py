# Device side of tests/test_heap_storage_mp.py: protocols' baselines in the
# table reserved at boot (stimfw.record.alarms.Baselines), run after run as
# the recorder keeps them: a monitor made for each check, its state saved in
# the table by measurement position. Prints, as JSON, each step's slot,
# baseline run, whether the baseline is fresh, the events' alarm names
# (those that cleared marked), and the table's counts.
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
    names = []
    at = 0
    for meas in streams:
        mon = AlarmMonitor("SSEP")
        if fresh:
            mon.set_baseline(meas)
        else:
            table.load(slot, at, mon, meas)
            for ev in mon.check(meas):
                names.append(ev["alarm"] + (" cleared" if ev.get("cleared") else ""))
        table.save(slot, at, mon, meas)
        at += len(meas)
    return {"slot": slot, "base": base_run, "fresh": fresh, "events": names,
            "count": table.count, "dropped": table.dropped}


out = [
    run(D1, 1, ssep(2.0, 20.0)),  # sets D1's baseline
    run(D1, 2, ssep(0.8, 20.0)),  # amplitude down 60%: alarm
    run(D1, 3, ssep(0.8, 20.0)),  # still down: not reported again
    run(D1, 4, ssep(2.0, 23.0)),  # amplitude back (cleared), latency up 15%: alarm
    run(D2, 5, ssep(1.0, 20.0)),  # a second protocol: the table is full
    run(D1, 6, ssep(2.0, 23.0)),  # D1 used again: its latency alarm still holds
    run(D3, 7, ssep(1.0, 20.0)),  # a third: D2, least recently used, dropped
    run(D2, 8, ssep(1.0, 20.0)),  # D2 again: a new baseline (D1 dropped now)
    run(D2, 9, ssep(0.1, 20.0), baseline=True),  # a baseline run: fresh, from this one
    run(D2, 10, ssep(0.1, 20.0)),  # against run 9's baseline: nothing
]
print(json.dumps(out))
