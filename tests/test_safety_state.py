"""The safety supervisor's state machine and output supervision on MicroPython,
driven through the real link handlers by a test HAL whose clocks the test
moves and whose outputs drive resistor loads (tests/device/loadmodel.py)."""

from __future__ import annotations

from typing import Any

import pytest
from mpy import BOTH
from seq_common import run_image
from stimfw.link import messages as m

SCRIPT = "safety_state.py"  # tests/device/safety_state.py: one function per scenario


def device(image: Any, scenario: str, *params: Any, runtime: str = "unix") -> Any:
    (r,) = run_image(image, SCRIPT, list(params) or None, scenario, runtime=runtime)
    return r


@pytest.mark.parametrize("runtime", BOTH)
def test_arming_needs_the_interlock_and_the_validated_hash(firmware_image, runtime: str) -> None:
    r = device(firmware_image, "arming", runtime=runtime)
    assert r["no_interlock"][0] is False and r["no_interlock"][1]["code"] == m.ERR_INTERLOCK
    assert r["wrong_hash"][1]["code"] == m.ERR_NOT_FOUND
    assert r["no_hash"][1]["code"] == m.ERR_NOT_FOUND
    assert r["start_idle"][1]["code"] == m.ERR_STATE
    assert r["old_hash"][1]["code"] == m.ERR_NOT_FOUND
    assert r["arm"] == [True, r["arm"][1]] and r["arm"][1]["state"] == "ARMED"
    assert r["arm_twice"][1]["code"] == m.ERR_STATE
    assert r["disarm"][1]["state"] == "IDLE"
    # Every control request is logged (start and disarm included).
    assert r["events"] == ["arm_refused", "start_refused", "armed", "disarmed"]
    assert r["fires"] == 0


@pytest.mark.parametrize("runtime", BOTH)
def test_only_the_arming_session_controls_the_unit_but_anyone_can_stop(firmware_image, runtime: str) -> None:
    r = device(firmware_image, "sessions", runtime=runtime)
    tok = r["token"]
    assert isinstance(tok, str) and len(tok) == 16 and r["session"] == "s1"
    assert r["token2"] != tok and r["session2"] == "s2"  # a new token per session
    for what in ("arm", "start", "heartbeat", "disarm", "wrong_token_start"):
        ok, body = r[what]
        assert ok is False and body["code"] == m.ERR_NOT_OWNER, (what, body)
        age = body["detail"]["owner_age_ms"]
        assert body["detail"]["owner"] == "s1" and 300 <= age < 400  # the test HAL idles 1 ms a pass
        assert "session s1" in body["message"] and f"{age} ms" in body["message"]
    assert r["state_after_intrusion"] == "STIMULATING" and r["fires_before_stop"] >= 1
    assert r["stop"][0] is True and r["stop"][1]["state"] == "ARMED"
    ev = [e for e in r["events"] if e["kind"] != "boot"]  # the journal's boot event first
    # Each control request logged with its session's short id, never the token.
    assert [(e["kind"], e.get("session")) for e in ev] == [
        ("armed", "s1"), ("started", "s1"), ("arm_refused", None), ("start_refused", None),
        ("heartbeat_refused", None), ("disarm_refused", None), ("start_refused", None),
        ("stopped", None), ("disarmed", "s1"), ("armed", "s2"), ("disarmed", "s2")]
    assert all(tok not in str(e) for e in ev)
    assert r["heartbeats_refused"] == 3  # only the first is logged
    assert ev[7]["run"] == 1


@pytest.mark.parametrize("runtime", BOTH)
def test_a_heartbeat_handled_after_the_lapse_revives_nothing(firmware_image, runtime: str) -> None:
    r = device(firmware_image, "late_heartbeat", runtime=runtime)
    # Credited while fresh; refused credit once the limit had passed.
    assert r["fresh"] == "STIMULATING" and r["late_reply"] == "STIMULATING"
    assert r["after"] == "IDLE" and r["reason"] == "heartbeat_lost"


@pytest.mark.parametrize("runtime", BOTH)
def test_a_run_delivers_every_pulse_with_its_amplitude_and_charge(firmware_image, runtime: str) -> None:
    r = device(firmware_image, "full_run", runtime=runtime)
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


@pytest.mark.parametrize("runtime", BOTH)
def test_a_run_across_the_tick_wrap_delivers_the_same(firmware_image, runtime: str) -> None:
    # The timeline clock starts 1 s before it wraps (after 2**30 us on a
    # board): the 4.5 s run crosses the wrap mid-segment and must deliver,
    # read back and space its segments exactly as a run that does not.
    plain = device(firmware_image, "full_run", runtime=runtime)
    r = device(firmware_image, "full_run", 1000000, runtime=runtime)
    assert r["wrapped"] and not plain["wrapped"]
    assert r["fire_offsets"] == plain["fire_offsets"] == [0, 2500000]
    assert [rows for _, rows in r["fires"]] == [rows for _, rows in plain["fires"]]
    for key in ("state", "run", "pulses", "result"):
        assert r[key] == plain[key], key


@pytest.mark.parametrize("runtime", BOTH)
def test_heartbeat_lapse_stops_disarms_and_logs(firmware_image, runtime: str) -> None:
    r = device(firmware_image, "heartbeat_lapse", runtime=runtime)
    assert r["kept"] == "STIMULATING" and r["still"] == "STIMULATING"
    assert r["state"] == "IDLE"
    assert r["run"]["outcome"] == "heartbeat_lost"
    assert r["aborts"] == 1 and r["offs"] >= 1
    assert r["events"] == ["armed", "started", "disarmed"]
    assert r["new_fires"] == 0


@pytest.mark.parametrize("runtime", BOTH)
@pytest.mark.parametrize("cause", ["estop", "interlock", "stop"])
def test_output_ends_at_once_on_estop_interlock_and_stop(firmware_image, cause: str, runtime: str) -> None:
    r = device(firmware_image, "output_ends", cause, runtime=runtime)
    assert r["aborts"] == 1
    # abort() came in the same pass, before the timeline clock moved on.
    assert r["abort_us"] == r["t_cause"]
    assert r["fires_after"] == r["fires"]
    want = {"estop": ("FAULT", "estop"), "interlock": ("IDLE", "interlock_open"),
            "stop": ("ARMED", "stop_command")}[cause]
    assert (r["state"], r["outcome"]) == want
    if cause == "estop":
        assert r["disarm_pressed"][1]["code"] == m.ERR_STATE
        assert r["events"] == ["armed", "started", "estop", "disarm_refused", "fault_cleared", "disarmed"]
    else:
        assert r["disarm_pressed"][0] is True
    if cause == "interlock":
        # the lapse, then the two DISARM requests
        assert r["events"] == ["armed", "started", "disarmed", "disarmed", "disarmed"]
    if cause == "stop":
        assert r["events"] == ["armed", "started", "stopped", "disarmed", "disarmed"]
    assert r["disarm"][1]["state"] == "IDLE"


@pytest.mark.parametrize("runtime", BOTH)
@pytest.mark.parametrize(
    "load, amp_ua, flag",
    [
        (None, 30000, "open"),  # no current path: voltage to compliance, no current
        (5, 30000, "short"),  # 5 Ohm: 150 mV for 30 mA
        (10000, 50000, "compliance"),  # 50 mA would need 500 V > 400 V: 40 mA delivered
    ],
)
def test_repeated_delivery_flags_abort_the_run(firmware_image, load, amp_ua, flag, runtime: str) -> None:
    r = device(firmware_image, "delivery_flags", load, amp_ua, runtime=runtime)
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


@pytest.mark.parametrize("runtime", BOTH)
def test_good_load_raises_no_flag(firmware_image, runtime: str) -> None:
    r = device(firmware_image, "good_load", runtime=runtime)
    assert r["outcome"] == "complete" and r["flags"] == {} and r["done"] == 40
    assert r["amp_min"] == r["amp_max"] == 30000


@pytest.mark.parametrize("runtime", BOTH)
def test_event_log_keeps_entries_until_acknowledged(firmware_image, runtime: str) -> None:
    r = device(firmware_image, "event_log", runtime=runtime)
    a, b, c, pushed, d, seq, acked = r
    assert [e["seq"] for e in a["events"]] == [1, 2, 3, 4, 5, 6] and a["dropped"] == 0
    assert [e["seq"] for e in b["events"]] == [3, 4, 5, 6] and b["acked"] == 2
    # Six more into 8 slots with 2 acknowledged: 4 unacknowledged entries
    # were overwritten, and the overflow is an entry of its own.
    kinds = [e["kind"] for e in c["events"]]
    assert c["dropped"] >= 4
    assert "journal_overflow" in kinds
    last = max((e for e in c["events"] if e["kind"] == "journal_overflow"), key=lambda e: e["seq"])
    assert 1 <= last["lost"] <= last["lost_total"] <= c["dropped"]
    assert [e["seq"] for e in c["events"]] == list(range(c["last_seq"] - 7, c["last_seq"] + 1))
    assert pushed == list(range(1, c["last_seq"] + 1))
    assert a["events"][0] == {"seq": 1, "t_ms": 7, "kind": "x", "k": 0, "type": "event"}
    # Reopened (a reboot): the sequence goes on, the ack is kept.
    assert seq == c["last_seq"] and acked == 2
    assert [e["seq"] for e in d["events"]] == [e["seq"] for e in c["events"]]


@pytest.mark.parametrize("runtime", BOTH)
def test_monitor_scan_allocates_nothing(firmware_image, runtime: str) -> None:
    r = device(firmware_image, "monitor_scan", runtime=runtime)
    out, f, fig, out2, f2, fig2 = r
    n = 1024
    # Largest sums a board can see stay inside a 31-bit small int; a
    # current on from the first sample crosses half at once, never back.
    assert out == [32767, 16000, 32767 * n, 0, 0, 16000, 0, -1, -1, -1]
    assert out[2] < 2**30
    # TC: 1.64 A is past 95 % of its 1.5 A current limit and 640 V is short of
    # the 1000 V set: current limiting.
    assert f == 4 and fig[0] == 640000
    # 2 us x 50 uA x 32767 x 1024 samples, in nC (floored)
    assert fig[1] == 32767 * n * 50 * 2 // 1000
    # The biphasic pulse: half-way edge samples put each half crossing on
    # a sample (x 64 in 1/64 sample), so the widths are exact.
    assert out2[:6] == [2500, 1250, 2500 * 48 + 1250 * 2, 1250 * 98 + 625 * 2, 1250, 625]
    assert out2[6:] == [8 * 64, 57 * 64, 63 * 64, 162 * 64]
    assert f2 == 0
    # amp, q nC, amp2, q2 nC, w1, w2, gap, onset (ns)
    assert fig2 == [10000, 2500 * 48 * 4 * 2 // 1000 + 20, 5000, 1250 * 98 * 4 * 2 // 1000 + 10,
                    98000, 198000, 12000, 0]


@pytest.mark.parametrize("runtime", BOTH)
def test_a_pulse_read_back_in_the_sequencer_allocates_nothing(firmware_image, runtime: str) -> None:
    k, recs = device(firmware_image, "readback_heap", runtime=runtime)
    assert k >= 2
    out, flags, an, ca, amp, q, amp2, q2, w1, w2, gap, onset = recs  # stimfw.stim.pulselog.KEYS
    # 30 mA for 300 us into 1 kohm on P1 (output 1), anode P1+, cathode P1-,
    # its edges on samples: exact widths, and the rising edge read half a
    # sample (1 us) before the scheduled start.
    assert out == [1] * k and an == [1] * k and ca == [2] * k
    assert amp == [30000] * k and q == [9000] * k and flags == [0] * k
    assert amp2 == q2 == w2 == gap == [0] * k
    assert w1 == [300000] * k and onset == [-1000] * k


@pytest.mark.parametrize("runtime", BOTH)
def test_plan_holds_the_first_rows_for_pull_without_arming(firmware_image, runtime: str) -> None:
    r = device(firmware_image, "plan_rows", runtime=runtime)
    assert r["state"] == "IDLE" and r["fires"] == 0
    assert r["rows"] == 5 and r["unit"] == ["mV"]
    assert r["rows_data"] == [[t, 0, 300000, 75, 0, 0, 0, 1, 2] for t in range(0, 15000, 3000)]
    assert r["figures"]["streams"][0]["charge_uc"] == 45.0  # 300 V / 500 ohm x 75 us


@pytest.mark.parametrize("runtime", BOTH)
def test_an_exception_in_a_main_loop_task_ends_output_and_faults(firmware_image, runtime: str) -> None:
    # A task that raises mid-run (a firmware bug, the heap running out) is
    # caught by the main loop: output ends, the unit goes to FAULT with the
    # error in its event log, and it keeps answering the host.
    r = device(firmware_image, "task_exception", runtime=runtime)
    assert r["state"] == "FAULT" and r["outcome"] == "firmware_fault" and r["aborted"]
    assert r["kinds"][-1] == "firmware_fault" and r["error"] == "ValueError: task broke"


@pytest.mark.parametrize("runtime", BOTH)
def test_a_failure_closing_a_run_still_ends_it_for_the_host(firmware_image, runtime: str) -> None:
    # Measuring a run's recording can fail as it closes (a firmware bug, the
    # heap running out). The host must still get the run's end, and its
    # result must be on record: before, the unit went to FAULT without
    # either and a host waited out its timeout.
    r = device(firmware_image, "closing_exception", runtime=runtime)
    assert r["fires"] > 0
    assert len(r["ends"]) == 1
    end = r["ends"][0]
    assert end["outcome"] == "firmware_fault" and end["error"] == "KeyError: pp_uv"
    assert end["done"] == end["total"] == 40
    assert r["result"]["outcome"] == "firmware_fault"
    assert r["state"] == "FAULT" and r["kinds"][-1] == "firmware_fault"
