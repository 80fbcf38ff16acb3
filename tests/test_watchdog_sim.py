"""The watchdog and the heartbeat rule against a stalled main loop, on the
simulated unit in real time (both runtimes): a test-only sim request makes
the firmware sleep inside one step."""

from __future__ import annotations

import json
import time

from simunit.supervisor import SimUnit
from stimbox import protocols
from stimbox.build import board_module, install_offline
from stimbox.client import StimBox
from stimfw.link import messages as m
from stimfw.stim import sequencer

BOARD = board_module("sim")
WATCHDOG_US = BOARD.WATCHDOG_MS * 1000
SEGMENT_SPAN_US = 2_000_000  # stimfw.stim.compiler.Segmenter's span_max_us


def ssep(count: int) -> dict:
    p = protocols.load("ssep", BOARD)
    p["count"] = count
    return p


def running_unit(new_unit, firmware_image) -> SimUnit:
    unit = new_unit(realtime=True)
    install_offline(firmware_image, unit.flash)
    return unit


def start_run(box: StimBox, unit: SimUnit) -> None:
    box.arm(box.check_protocol(ssep(400))["hash"])
    box.start()
    deadline = time.monotonic() + 5
    while unit.model.pulse_count < 4 and time.monotonic() < deadline:
        box.heartbeat()
        time.sleep(0.1)
    assert unit.model.pulse_count >= 4


def stall(box: StimBox, ms: int) -> None:
    # Sent without waiting: the reply comes after the stall, if at all.
    box.send(m.MSG_SIM, json.dumps({"stall_ms": ms}).encode())


def test_a_stalled_loop_stops_the_outputs_at_the_watchdog_and_resets_the_unit(firmware_image, new_unit) -> None:
    with running_unit(new_unit, firmware_image) as unit, StimBox.connect(unit.port) as box:
        start_run(box, unit)
        boots = unit.boots
        stall(box, BOARD.WATCHDOG_MS + 2000)
        t0 = time.monotonic()
        box.wait_boot(timeout=10)
        reset_after_s = time.monotonic() - t0
        model = unit.model
        began = model.stall_began_us
        assert began is not None and model.wdt_expiries == 1 and model.wdt_cut_us is not None
        off_after_us = model.wdt_cut_us - began
        after = [p for p in model.pulse_log if p["scheduled_us"] >= began]
        print(f"\nstall -> outputs off {off_after_us / 1000:.0f} ms; pulses after the stall "
              f"began {len(after)}; reset after {reset_after_s:.2f} s")
        # Outputs off within the watchdog's timeout of the stall; no pulse
        # starts after that, and at most one segment's pulses went out.
        assert 0 < off_after_us <= WATCHDOG_US
        assert all(p["scheduled_us"] <= model.wdt_cut_us for p in after)
        assert len(after) <= sequencer.SEGMENT_PULSES
        assert all(p["scheduled_us"] - began <= SEGMENT_SPAN_US + sequencer.LEAD_US for p in after)
        # The unit was reset by the watchdog, and knows why.
        assert unit.boots == boots + 1 and unit.reset_causes[-1] == "watchdog"
        assert box.status()["state"] == "IDLE"


def test_heartbeats_queued_during_a_stall_do_not_extend_the_run(firmware_image, new_unit) -> None:
    with running_unit(new_unit, firmware_image) as unit, StimBox.connect(unit.port) as box:
        start_run(box, unit)
        boots = unit.boots
        limit_ms = box.status()["heartbeat_ms"]
        stall_ms = (limit_ms + BOARD.WATCHDOG_MS) // 2  # over the limit, under the watchdog
        box.heartbeat()
        stall(box, stall_ms)
        hb = json.dumps({"token": box.token}).encode()
        t_end = time.monotonic() + stall_ms / 1000 + 0.3
        while time.monotonic() < t_end:  # the host keeps sending heartbeats
            box.send(m.MSG_HEARTBEAT, hb)
            time.sleep(0.1)
        st = box.status()
        assert st["state"] == "IDLE", st
        assert st["run"]["outcome"] == "heartbeat_lost"
        assert unit.boots == boots  # the heartbeat check ended it, not the watchdog
        ev = box.events()["events"]
        assert any(e["kind"] == "disarmed" and e["reason"] == "heartbeat_lost" for e in ev)
        # The unit says how long its longest pass took: the stall's, at least.
        assert stall_ms <= box.info()["loop_max_ms"] < BOARD.WATCHDOG_MS
