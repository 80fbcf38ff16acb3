# Device side of tests/test_safety_state.py: the safety supervisor and the
# output supervision driven through the real link handlers by the resistor
# load model (loadmodel.py). One scenario per function, named by the first
# argument, its parameters (if any) a list in data; it prints one JSON value.
import json
import time

import devargs
from loadmodel import make_app
from stimfw.link import codec as lc
from stimfw.link import messages as m

SSEP = {"type": "ssep", "count": 40, "rate_hz": 5.1,
        "sites": [{"site": "l_median", "amp_ua": 30000, "width_us": 300}]}


def events(host):
    # The boot entry every start logs is not the scenario's.
    return [e["kind"] for e in host.ok(m.MSG_EVENTS, {})["events"] if e["kind"] != "boot"]


def armed(wire, load=1000, t0_us=0):
    app, host = make_app(load, t0_us)
    h = host.ok(m.MSG_VALIDATE, wire)["hash"]
    host.ok(m.MSG_ARM, {"hash": h})
    return app, host


def arming():
    app, host = make_app()
    hal = app.hal
    h = host.ok(m.MSG_VALIDATE, {"type": "tcmep"})["hash"]
    out = {}
    hal.interlock = False
    out["no_interlock"] = host.request(m.MSG_ARM, {"hash": h})
    hal.interlock = True
    out["wrong_hash"] = host.request(m.MSG_ARM, {"hash": h[:-1] + "0"})
    out["no_hash"] = host.request(m.MSG_ARM, {})
    out["start_idle"] = host.request(m.MSG_START, {})
    # validating another protocol replaces the one ARM accepts
    h2 = host.ok(m.MSG_VALIDATE, {"type": "tcmep", "pulses": 4})["hash"]
    out["old_hash"] = host.request(m.MSG_ARM, {"hash": h})
    out["arm"] = host.request(m.MSG_ARM, {"hash": h2})
    out["arm_twice"] = host.request(m.MSG_ARM, {"hash": h2})
    out["disarm"] = host.request(m.MSG_DISARM, {})
    out["events"] = events(host)
    out["fires"] = len(hal.fires)
    return out


def full_run(before_wrap_us=None):
    # before_wrap_us: start the timeline clock that long before it wraps.
    t0 = 0 if before_wrap_us is None else time.ticks_add(0, -before_wrap_us)
    app, host = armed({"type": "tcmep", "amp_mv": 300000, "pulses": 5, "isi_us": 3000,
                       "width_us": 76, "rate_hz": 2, "count": 9}, t0_us=t0)
    hal = app.hal
    run = host.ok(m.MSG_START, {})["run"]
    host.steps(200)
    st = host.ok(m.MSG_STATUS, {})
    pulses = [p for t, p in host.pushes if t == m.PUSH_PULSE]
    first = hal.fires[0][0]
    return {"state": st["state"], "run": st["run"], "pulses": pulses,
            "fires": [(s, [r[0] for r in rows]) for s, rows in hal.fires],
            "fire_offsets": [hal.ticks_diff(s, first) for s, _ in hal.fires],
            "wrapped": hal.ticks_diff(hal.t_us, t0) > 0 and hal.t_us < t0,
            "result": host.ok(m.MSG_RESULT, {"run": run})}


def heartbeat_lapse():
    app, host = armed(SSEP)
    hal = app.hal
    host.ok(m.MSG_START, {})
    host.steps(3)
    kept = host.ok(m.MSG_STATUS, {})["state"]
    hal.wall += 900
    host.ok(m.MSG_HEARTBEAT, {})
    hal.wall += 900
    host.steps(1)
    still = host.ok(m.MSG_STATUS, {})["state"]
    fires_before = len(hal.fires)
    hal.wall += 1001
    host.steps(5)
    st = host.ok(m.MSG_STATUS, {})
    return {"kept": kept, "still": still, "state": st["state"], "run": st["run"],
            "aborts": hal.aborts, "offs": hal.offs, "events": events(host),
            "new_fires": len(hal.fires) - fires_before}


def output_ends(cause):
    app, host = armed(SSEP)
    hal = app.hal
    host.ok(m.MSG_START, {})
    host.steps(4)
    t_cause = hal.t_us
    if cause == "estop":
        hal.estop = True
        host.steps(1)
    elif cause == "interlock":
        hal.interlock = False
        host.steps(1)
    else:
        host.ok(m.MSG_STOP, {})
    st = host.ok(m.MSG_STATUS, {})
    out = {"state": st["state"], "outcome": st["run"]["outcome"], "aborts": hal.aborts,
           "abort_us": hal.abort_us, "t_cause": t_cause, "fires": len(hal.fires)}
    host.steps(10)
    out["fires_after"] = len(hal.fires)
    out["disarm_pressed"] = host.request(m.MSG_DISARM, {})
    hal.estop = False
    out["disarm"] = host.request(m.MSG_DISARM, {})
    out["events"] = events(host)
    return out


def delivery_flags(load, amp):
    wire = {"type": "ssep", "count": 10, "rate_hz": 5.1,
            "sites": [{"site": "l_median", "amp_ua": amp, "width_us": 300}]}
    app, host = armed(wire)
    app.hal.loads[1] = load
    host.ok(m.MSG_START, {})
    host.steps(40)
    st = host.ok(m.MSG_STATUS, {})
    pulses = [p for t, p in host.pushes if t == m.PUSH_PULSE]
    ev = host.ok(m.MSG_EVENTS, {})["events"]
    return {"state": st["state"], "run": st["run"], "pulses": pulses, "events": ev}


def good_load():
    app, host = armed(SSEP)
    host.ok(m.MSG_START, {})
    for _ in range(20):
        host.steps(10)
        host.ok(m.MSG_HEARTBEAT, {})
        app.hal.wall = 0
    return host.ok(m.MSG_STATUS, {})["run"]


def event_log():
    # A ring of 8 slots: entries stay until acknowledged; overwriting
    # unacknowledged ones is an overflow, logged with the count lost; a
    # reopened journal goes on with the sequence and keeps the ack.
    from stimfw.core.journal import Journal
    from stimfw.stim.eventlog import EventLog

    pushed = []
    j = Journal("ev.bin", 8, 128)
    log = EventLog(lambda: 7, lambda t, e: pushed.append(e["seq"]), j)
    for k in range(6):
        log.record("x", k=k)
    j.service()
    a = log.request({})
    b = log.request({"ack": 2})
    for k in range(6):
        log.record("y", k=k)
        j.service()
    c = log.request({})
    j.flush()
    j2 = Journal("ev.bin", 8, 128)
    d = EventLog(lambda: 7, None, j2).request({})
    return [a, b, c, pushed, d, j2.seq, j2.acked]


def monitor_scan():
    from array import array

    import board
    import micropython
    from stimfw.stim import delivery

    n = board.MONITOR_MAX_SAMPLES
    buf = array("h", bytes(4 * n))
    for k in range(n):
        buf[2 * k] = 32767
        buf[2 * k + 1] = 16000 if k % 2 else -16000
    # A biphasic pulse on P1 (4 uA, 16 mV per LSB, 2 us samples): 8 samples
    # before its start, phase 1 -10 mA for 100 us (50 samples, the first
    # and last half-way edges), 10 us gap, phase 2 +5 mA for 200 us.
    bi = array("h", bytes(4 * 200))
    for k in range(8, 58):
        bi[2 * k] = -2500 if 8 < k < 57 else -1250
        bi[2 * k + 1] = -1250
    for k in range(63, 163):
        bi[2 * k] = 1250 if 63 < k < 162 else 625
        bi[2 * k + 1] = 625
    out = delivery.new_scan()
    out2 = delivery.new_scan()
    judge = delivery.Judge(board.OUTPUTS[0], board.LIMITS, board.MONITOR_RATE_HZ, board.MONITOR_PRE_SAMPLES)
    p1 = delivery.Judge(board.OUTPUTS[1], board.LIMITS, board.MONITOR_RATE_HZ, board.MONITOR_PRE_SAMPLES)
    micropython.heap_lock()
    try:
        delivery.scan(buf, n, 1, out)
        f = judge.flags(n, out, 1000000, 75, 0)
        delivery.scan(bi, 200, -1, out2, 0)
        f2 = p1.flags(200, out2, -10000, 100, 200)
    finally:
        micropython.heap_unlock()
    return [list(out), f, list(judge.fig), list(out2), f2, list(p1.fig)]


def readback_heap():
    # A pulse's read-back in the sequencer (scan, judge, its record into the
    # journal's open record) allocates nothing. The load model's monitor
    # builds tuples, so its trace of pulse 0 is taken first and served as
    # is. Pulse 0 read back again opens a new record (a rewind: that
    # allocates, as every new record's slot write does); the pulses after
    # it fill that record under the lock.
    import micropython
    from stimfw.stim import pulselog

    app, host = armed(SSEP)
    host.ok(m.MSG_START, {})
    host.steps(2)
    seq = app.sequencer
    r = seq.run
    n = app.hal.monitor(0, seq.mon)
    app.hal.monitor = lambda k, buf: n
    seq.recorder = None
    k = seq.tl.n if seq.tl.n < 8 else 8
    assert k <= seq.pulselog.per_record
    seq._readback(r, 0)
    micropython.heap_lock()
    try:
        for i in range(1, k):
            seq._readback(r, i)
    finally:
        micropython.heap_unlock()
    j = app.journal
    d = pulselog.decode(bytes(j.open_buf[: j.open_len]))
    assert d["first"] == 0
    return [k, [d[key] for key in pulselog.KEYS]]


def plan_rows():
    import struct

    app, host = make_app()
    d = host.ok(m.MSG_PLAN, {"type": "tcmep", "amp_mv": 300000, "width_us": 75})
    rows = app.objects.get("plan")
    d["rows_data"] = [struct.unpack_from(d["row_format"], rows, 36 * k) for k in range(d["rows"])]
    d["state"] = app.supervisor.state
    d["fires"] = len(app.hal.fires)
    return d


class Broken:
    def service(self):
        raise ValueError("task broke")


def task_exception():
    app, host = armed(SSEP)
    host.ok(m.MSG_START, {})
    host.steps(5)
    tasks = app.tasks
    app.tasks = tasks + (Broken(),)
    aborts = app.hal.aborts
    try:
        app.step()
    except ValueError as e:
        app.fault(e)
    app.tasks = tasks
    st = host.ok(m.MSG_STATUS, {})
    log = host.ok(m.MSG_EVENTS, {})["events"]
    return {"state": st["state"], "outcome": st["run"]["outcome"],
            "aborted": app.hal.aborts > aborts,
            "kinds": [e["kind"] for e in log], "error": log[-1].get("error")}


class BrokenRecorder:
    # A recording whose measurement fails when the run closes, as a
    # firmware bug or a heap that ran out would make it.
    procs = (0,)

    def on_pulse(self, *a):
        pass

    def busy(self):
        return False

    def abort(self):
        pass

    def finish(self, complete):
        raise KeyError("pp_uv")


def closing_exception():
    app, host = armed(SSEP)
    run = host.ok(m.MSG_START, {})["run"]
    seq = app.sequencer
    seq.recorder = BrokenRecorder()
    for _ in range(400):
        try:
            app.step()
        except KeyError as e:
            app.fault(e)
            break
    host.drain()
    ends = [p for t, p in host.pushes if t == m.PUSH_PROGRESS and p.get("run") == run
            and p.get("outcome") not in (None, "running")]
    st = host.ok(m.MSG_STATUS, {})
    log = host.ok(m.MSG_EVENTS, {})["events"]
    return {"state": st["state"], "ends": ends, "result": host.ok(m.MSG_RESULT, {"run": run}),
            "kinds": [e["kind"] for e in log], "fires": len(app.hal.fires)}


def sessions():
    app, host = armed(SSEP)
    hal = app.hal
    out = {"token": host.token, "session": host.ok(m.MSG_STATUS, {})["session"]}
    host.ok(m.MSG_START, {})
    host.steps(3)
    hal.wall += 300  # the owner's last heartbeat (the ARM) is 300 ms old
    h = host.ok(m.MSG_VALIDATE, SSEP)["hash"]
    out["arm"] = host.request(m.MSG_ARM, {"hash": h, "token": None})
    out["start"] = host.request(m.MSG_START, {"token": None})
    for _ in range(3):
        out["heartbeat"] = host.request(m.MSG_HEARTBEAT, {"token": None})
    out["disarm"] = host.request(m.MSG_DISARM, {"token": None})
    out["wrong_token_start"] = host.request(m.MSG_START, {"token": host.token[:-1] + "x"})
    out["heartbeats_refused"] = app.supervisor.hb_refused
    out["state_after_intrusion"] = host.ok(m.MSG_STATUS, {})["state"]
    out["fires_before_stop"] = len(hal.fires)
    out["stop"] = host.request(m.MSG_STOP, {"token": None})
    host.ok(m.MSG_DISARM, {})
    host.token = None
    host.ok(m.MSG_ARM, {"hash": h})
    out["token2"] = host.token
    out["session2"] = host.ok(m.MSG_STATUS, {})["session"]
    host.ok(m.MSG_DISARM, {})
    out["events"] = host.ok(m.MSG_EVENTS, {})["events"]
    return out


def late_heartbeat():
    app, host = armed(SSEP)
    hal = app.hal
    host.ok(m.MSG_START, {})
    host.steps(2)
    hal.wall += 900
    out = {"fresh": host.ok(m.MSG_HEARTBEAT, {})["state"]}
    # The loop stalled past the limit; the heartbeat queued meanwhile is
    # handled before the supervisor's next pass.
    hal.wall += 1200
    host.rid += 1
    hal.console.feed(lc.encode_frame(lc.KIND_REQUEST, m.MSG_HEARTBEAT, host.rid,
                                     json.dumps({"token": host.token}).encode()))
    app.link.poll()  # the stalled pass's link step reads it: no supervisor pass between
    host.drain()
    out["late_reply"] = host.replies.pop(host.rid)[1]["state"]
    host.steps(2)
    st = host.ok(m.MSG_STATUS, {})
    out["after"] = st["state"]
    out["reason"] = st["run"]["outcome"]
    return out


SCENARIOS = {
    "arming": arming, "full_run": full_run, "heartbeat_lapse": heartbeat_lapse,
    "output_ends": output_ends, "delivery_flags": delivery_flags, "good_load": good_load,
    "event_log": event_log, "monitor_scan": monitor_scan, "readback_heap": readback_heap, "plan_rows": plan_rows,
    "task_exception": task_exception, "closing_exception": closing_exception, "sessions": sessions, "late_heartbeat": late_heartbeat,
}
print(json.dumps(SCENARIOS[devargs.arg(0)](*devargs.data([]))))
