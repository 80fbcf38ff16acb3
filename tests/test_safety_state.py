"""The safety supervisor's state machine and output supervision on MicroPython,
driven through the real link handlers by a test HAL whose clocks the test
moves and whose outputs drive resistor loads (tests/seq_loadmodel.py)."""

from __future__ import annotations

from typing import Any

import pytest
from seq_common import run_image
from stimfw.link import messages as m

PRELUDE = """
from seq_loadmodel import make_app
from stimfw.link import messages as m

def events(host):
    return [e["kind"] for e in host.ok(m.MSG_EVENTS, {})["events"]]

def armed(wire, load=1000):
    app, host = make_app(load)
    h = host.ok(m.MSG_VALIDATE, wire)["hash"]
    host.ok(m.MSG_ARM, {"hash": h})
    return app, host

SSEP = {"type": "ssep", "count": 40, "rate_hz": 5.1,
        "sites": [{"site": "l_median", "amp_ua": 30000, "width_us": 300}]}
"""


def device(image: Any, code: str, data: Any = None) -> list[Any]:
    return run_image(image, PRELUDE + code, data)


def test_arming_needs_the_interlock_and_the_validated_hash(firmware_image) -> None:
    (r,) = device(firmware_image, """
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
print(json.dumps(out))
""")
    assert r["no_interlock"][0] is False and r["no_interlock"][1]["code"] == m.ERR_INTERLOCK
    assert r["wrong_hash"][1]["code"] == m.ERR_NOT_FOUND
    assert r["no_hash"][1]["code"] == m.ERR_NOT_FOUND
    assert r["start_idle"][1]["code"] == m.ERR_STATE
    assert r["old_hash"][1]["code"] == m.ERR_NOT_FOUND
    assert r["arm"] == [True, r["arm"][1]] and r["arm"][1]["state"] == "ARMED"
    assert r["arm_twice"][1]["code"] == m.ERR_STATE
    assert r["disarm"][1]["state"] == "IDLE"
    assert r["events"] == ["arm_refused", "armed"]
    assert r["fires"] == 0


def test_a_run_delivers_every_pulse_with_its_amplitude_and_charge(firmware_image) -> None:
    (r,) = device(firmware_image, """
app, host = armed({"type": "tcmep", "amp_mv": 300000, "pulses": 5, "isi_us": 3000,
                   "width_us": 76, "rate_hz": 2, "count": 9})
run = host.ok(m.MSG_START, {})["run"]
host.steps(200)
st = host.ok(m.MSG_STATUS, {})
pulses = [p for t, p in host.pushes if t == m.PUSH_PULSE]
print(json.dumps({"state": st["state"], "run": st["run"], "pulses": pulses,
                  "fires": [(s, [r[0] for r in rows]) for s, rows in app.hal.fires],
                  "result": host.ok(m.MSG_RESULT, {"run": run})}))
""")
    assert r["state"] == "ARMED"
    assert r["run"]["outcome"] == "complete" and r["run"]["done"] == 45
    amps = [a for p in r["pulses"] for a in p["amp"]]
    charges = [q for p in r["pulses"] for q in p["q_nc"]]
    # 300 V into 1 kOhm = 300 mA for 76 us: 22.8 uC, read back at 2 us per sample.
    assert amps == [300000] * 45
    assert charges == [22800] * 45
    assert r["result"]["charge_nc"] == 45 * 22800
    # Two segments of whole trains (a segment spans at most 2 s), trains 500 ms
    # apart on the timeline clock whatever Python did between the segments.
    train = [0, 3000, 6000, 9000, 12000]
    (s1, t1), (s2, t2) = r["fires"]
    assert t1 == [k * 500000 + t for k in range(5) for t in train]
    assert t2 == [k * 500000 + t for k in range(4) for t in train]
    assert s2 - s1 == 2500000


def test_heartbeat_lapse_stops_disarms_and_logs(firmware_image) -> None:
    (r,) = device(firmware_image, """
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
print(json.dumps({"kept": kept, "still": still, "state": st["state"], "run": st["run"],
                  "aborts": hal.aborts, "offs": hal.offs, "events": events(host),
                  "new_fires": len(hal.fires) - fires_before}))
""")
    assert r["kept"] == "STIMULATING" and r["still"] == "STIMULATING"
    assert r["state"] == "IDLE"
    assert r["run"]["outcome"] == "heartbeat_lost"
    assert r["aborts"] == 1 and r["offs"] >= 1
    assert r["events"] == ["armed", "disarmed"]
    assert r["new_fires"] == 0


@pytest.mark.parametrize("cause", ["estop", "interlock", "stop"])
def test_output_ends_at_once_on_estop_interlock_and_stop(firmware_image, cause: str) -> None:
    (r,) = device(firmware_image, """
app, host = armed(SSEP)
hal = app.hal
host.ok(m.MSG_START, {})
host.steps(4)
t_cause = hal.t_us
cause = DATA
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
print(json.dumps(out))
""", cause)
    assert r["aborts"] == 1
    # abort() came in the same pass, before the timeline clock moved on.
    assert r["abort_us"] == r["t_cause"]
    assert r["fires_after"] == r["fires"]
    want = {"estop": ("FAULT", "estop"), "interlock": ("IDLE", "interlock_open"),
            "stop": ("ARMED", "stop_command")}[cause]
    assert (r["state"], r["outcome"]) == want
    if cause == "estop":
        assert r["disarm_pressed"][1]["code"] == m.ERR_STATE
        assert r["events"] == ["armed", "estop", "fault_cleared"]
    else:
        assert r["disarm_pressed"][0] is True
    if cause == "interlock":
        assert r["events"] == ["armed", "disarmed"]
    if cause == "stop":
        assert r["events"] == ["armed", "stopped"]
    assert r["disarm"][1]["state"] == "IDLE"


@pytest.mark.parametrize(
    "load, amp_ua, flag",
    [
        (None, 30000, "open"),  # no current path: voltage to compliance, no current
        (5, 30000, "short"),  # 5 Ohm: 150 mV for 30 mA
        (10000, 50000, "compliance"),  # 50 mA would need 500 V > 400 V: 40 mA delivered
    ],
)
def test_repeated_delivery_flags_abort_the_run(firmware_image, load, amp_ua, flag) -> None:
    (r,) = device(firmware_image, """
load, amp = DATA
wire = {"type": "ssep", "count": 10, "rate_hz": 5.1,
        "sites": [{"site": "l_median", "amp_ua": amp, "width_us": 300}]}
app, host = armed(wire)
app.hal.loads[1] = load
host.ok(m.MSG_START, {})
host.steps(40)
st = host.ok(m.MSG_STATUS, {})
pulses = [p for t, p in host.pushes if t == m.PUSH_PULSE]
ev = host.ok(m.MSG_EVENTS, {})["events"]
print(json.dumps({"state": st["state"], "run": st["run"], "pulses": pulses, "events": ev}))
""", [load, amp_ua])
    assert r["state"] == "IDLE"
    assert r["run"]["outcome"] == "output_fault"
    assert r["run"]["flags"] == {flag: 3}
    fault = r["events"][-2]
    assert fault["kind"] == "output_fault" and fault["flags"] == [flag]
    assert fault["consecutive"] == 3 and fault["pulse"] == 2
    assert r["events"][-1]["kind"] == "disarmed"
    recs = r["pulses"]
    assert sum(len(p["amp"]) for p in recs) == 3
    if flag == "compliance":
        # 400 V / 10 kOhm = 40 mA, 300 us: 12 uC delivered of the 15 set.
        assert recs[0]["amp"][0] == 40000 and recs[0]["q_nc"][0] == 12000


def test_good_load_raises_no_flag(firmware_image) -> None:
    (r,) = device(firmware_image, """
app, host = armed(SSEP)
host.ok(m.MSG_START, {})
for _ in range(20):
    host.steps(10)
    host.ok(m.MSG_HEARTBEAT, {})
    app.hal.wall = 0
print(json.dumps(host.ok(m.MSG_STATUS, {})["run"]))
""")
    assert r["outcome"] == "complete" and r["flags"] == {} and r["done"] == 40
    assert r["amp_min"] == r["amp_max"] == 30000


def test_event_log_keeps_entries_until_acknowledged(firmware_image) -> None:
    (r,) = device(firmware_image, """
from stimfw.stim.eventlog import EventLog
pushed = []
log = EventLog(lambda: 7, lambda t, e: pushed.append(e["seq"]), slots=4)
for k in range(6):
    log.record("x", k=k)
a = log.request({})
b = log.request({"ack": 2})
for k in range(3):
    log.record("y")
c = log.request({"ack": 99})
print(json.dumps([a, b, c, pushed]))
""")
    a, b, c, pushed = r
    assert [e["seq"] for e in a["events"]] == [1, 2, 3, 4] and a["dropped"] == 2
    assert [e["seq"] for e in b["events"]] == [3, 4]
    assert c["events"] == [] and c["dropped"] == 3 and c["last_seq"] == 9
    assert pushed == list(range(1, 10))
    assert a["events"][0] == {"seq": 1, "t_ms": 7, "kind": "x", "k": 0}


def test_monitor_scan_allocates_nothing(firmware_image) -> None:
    (r,) = device(firmware_image, """
import micropython, board
from array import array
from stimfw.stim import delivery
buf = array("h", bytes(4 * board.MONITOR_MAX_SAMPLES))
for k in range(board.MONITOR_MAX_SAMPLES):
    buf[2 * k] = 32767
    buf[2 * k + 1] = 16000 if k % 2 else -16000
out = delivery.new_scan()
judge = delivery.Judge(board.OUTPUTS[0], board.LIMITS)
micropython.heap_lock()
try:
    delivery.scan(buf, board.MONITOR_MAX_SAMPLES, 1, out)
    f = judge.flags(board.MONITOR_MAX_SAMPLES, out, 1000000)
finally:
    micropython.heap_unlock()
print(json.dumps([list(out), f]))
""")
    out, f = r
    n = 1024
    # Largest sums a board can see stay inside a 31-bit small int.
    assert out == [32767, 16000, 32767 * n, 0]
    assert out[2] < 2**30
    # TC: 1.64 A is past 95 % of its 1.5 A current limit and 640 V is short of
    # the 1000 V set: current limiting.
    assert f == 4


def test_plan_holds_the_first_rows_for_pull_without_arming(firmware_image) -> None:
    (r,) = device(firmware_image, """
import struct
app, host = make_app()
d = host.ok(m.MSG_PLAN, {"type": "tcmep", "amp_mv": 300000, "width_us": 75})
rows = app.objects.get("plan")
d["rows_data"] = [struct.unpack_from(d["row_format"], rows, 36 * k) for k in range(d["rows"])]
d["state"] = app.supervisor.state
d["fires"] = len(app.hal.fires)
print(json.dumps(d))
""")
    assert r["state"] == "IDLE" and r["fires"] == 0
    assert r["rows"] == 5 and r["unit"] == ["mV"]
    assert r["rows_data"] == [[t, 0, 300000, 75, 0, 0, 0, 1, 2] for t in range(0, 15000, 3000)]
    assert r["figures"]["streams"][0]["charge_uc"] == 45.0  # 300 V / 500 ohm x 75 us


def test_an_exception_in_a_main_loop_task_ends_output_and_faults(firmware_image) -> None:
    # A task that raises mid-run (a firmware bug, the heap running out) is
    # caught by the main loop: output ends, the unit goes to FAULT with the
    # error in its event log, and it keeps answering the host.
    (r,) = device(firmware_image, """
app, host = armed(SSEP)
host.ok(m.MSG_START, {})
host.steps(5)

class Broken:
    def service(self):
        raise ValueError("task broke")

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
print(json.dumps({"state": st["state"], "outcome": st["run"]["outcome"],
                  "aborted": app.hal.aborts > aborts,
                  "kinds": [e["kind"] for e in log], "error": log[-1].get("error")}))
""")
    assert r["state"] == "FAULT" and r["outcome"] == "firmware_fault" and r["aborted"]
    assert r["kinds"][-1] == "firmware_fault" and r["error"] == "ValueError: task broke"
