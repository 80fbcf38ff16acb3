"""The journal on the simulated unit: events, per-pulse records and run
results by sequence number after an interrupt and after a crash mid-run,
checked against the pulses the hardware model delivered; an event log far
beyond its old 32 entries; and a host that notices a reboot within 2 s."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from simunit.supervisor import SimUnit
from stimbox import protocols
from stimbox.build import board_module
from stimbox.client import StimBox
from stimbox.errors import UnitReset
from stimbox.session import RunResult, run_protocol
from stimfw.link import messages as m

STIMBOX = str(Path(sys.executable).with_name("stimbox"))
BOARD = board_module("sim")


def ssep(count: int) -> dict[str, Any]:
    p = protocols.load("ssep", BOARD)
    p["count"] = count
    return p


def pulses_of(records: list[dict[str, Any]], run: int) -> list[tuple[int, int, int]]:
    """(index, delivered amplitude, charge nC) of every pulse of run, in order."""
    out = []
    for r in records:
        if r["type"] == "pulses" and r["run"] == run:
            out.extend(zip(range(r["first"], r["first"] + len(r["amp"])), r["amp"], r["q_nc"], strict=True))
    return out


def check_against_truth(unit: SimUnit, pulses: list[tuple[int, int, int]], slack: int) -> None:
    truth = unit.model.ground_truth()["pulses"]
    # Every pulse of the run, in order, none twice.
    assert [p[0] for p in pulses] == list(range(len(pulses)))
    # The hardware delivered them all; the journal lacks at most `slack`
    # (pulses the killed firmware had no pass left to read back or write).
    assert truth["count"] - slack <= len(pulses) <= truth["count"]
    real = truth["recent"][: len(pulses)] if truth["count"] <= len(truth["recent"]) else []
    for (_k, _amp, q), d in zip(pulses, real, strict=False):
        assert abs(q / 1000 - d["charge1_uC"]) <= 0.05


def run_until(box: StimBox, pulses: int) -> int:
    """Start an SSEP and keep it going until the unit reported `pulses`."""
    h = box.validate(ssep(300))["hash"]
    box.arm(h)
    run = box.start()
    seen = 0
    deadline = time.monotonic() + 30
    while seen < pulses:
        assert time.monotonic() < deadline
        for p in box.poll(0.05):
            if p.mtype == m.PUSH_PULSE:
                seen += len(p.data["amp"])
        box.heartbeat()
    return run


def test_pulses_and_events_survive_an_interrupt_mid_run(sim_unit: SimUnit, box: StimBox) -> None:
    run = run_until(box, 40)
    box.transport.write(b"\x03")  # the host interrupts the firmware: REPL follows
    time.sleep(0.3)
    box.reboot_from_repl()
    records = box.all_records(0)
    pulses = pulses_of(records, run)
    check_against_truth(sim_unit, pulses, slack=0)
    events = [r for r in records if r["type"] == "event"]
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "boot" and "interrupted" in kinds
    boot = events[-1]
    assert boot["kind"] == "boot" and boot["cause"] == "interrupt"
    assert boot["before"] == f"STIMULATING run {run}"
    # The run's result was closed at the interrupt, with every pulse.
    (result,) = [r for r in records if r["type"] == "result" and r["run"] == run]
    assert result["outcome"] == "interrupted" and result["done"] == len(pulses)
    # Sequence numbers are one unit-wide series across the reboot.
    seqs = [r["seq"] for r in records]
    assert seqs == list(range(1, len(seqs) + 1))
    assert box.last_boot is not None and box.last_boot["seq"] == seqs[-1]  # its own boot event


def test_a_crash_mid_run_ends_run_protocol_within_2s_naming_the_cause(
    sim_unit: SimUnit, box: StimBox
) -> None:
    killed: list[float] = []

    def during(b: StimBox, r: RunResult) -> None:
        if len(r.pulses) >= 40 and not killed:
            killed.append(time.monotonic())
            sim_unit.crash()

    with pytest.raises(UnitReset) as e:
        run_protocol(box, ssep(300), during=during)
    assert time.monotonic() - killed[0] < 2.0
    assert e.value.cause == "crash" and "SIGKILL" in str(e.value)
    assert "crash (killed by SIGKILL), was STIMULATING run 1" in str(e.value)
    records = box.all_records(0)
    check_against_truth(sim_unit, pulses_of(records, 1), slack=2)
    boot = [r for r in records if r["type"] == "event" and r["kind"] == "boot"][-1]
    assert boot["cause"] == "crash" and boot["detail"] == "killed by SIGKILL"


def test_the_event_log_far_beyond_32_entries_never_fails_a_reply(box: StimBox) -> None:
    box.sim(interlock=False)
    h = box.validate(ssep(10))["hash"]
    for _ in range(120):
        with pytest.raises(Exception, match="interlock"):
            box.arm(h)
    page = box.request(m.MSG_EVENTS)  # one page: bounded, not all 120
    assert page["more"] and 0 < len(page["events"]) < 120
    assert len(box.events()["events"]) == 121  # every page: the boot and 120 refusals
    events = box.all_records(0)
    assert [e["kind"] for e in events].count("arm_refused") == 120
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert box.info()["heap_free"] > 0


def test_stimbox_events_shows_what_is_new_and_acknowledges_it(sim_unit: SimUnit, box: StimBox) -> None:
    box.sim(interlock=False)
    h = box.validate(ssep(10))["hash"]
    for _ in range(3):
        with pytest.raises(Exception, match="interlock"):
            box.arm(h)
    box.close()

    def events(*extra: str) -> str:
        r = subprocess.run([STIMBOX, "events", "--port", sim_unit.port, *extra],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        return r.stdout

    kept = events("--keep")
    assert kept.count("arm_refused") == 3 and "boot" in kept
    first = events()
    assert first.count("arm_refused") == 3
    assert "0 records since" in events()
