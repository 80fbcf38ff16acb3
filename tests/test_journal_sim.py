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
from stimbox.build import board_module, install_offline
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


def pulses_of(records: list[dict[str, Any]], run: int) -> list[tuple[int, int | None, int | None]]:
    """(index, delivered amplitude, charge nC) of every pulse of run, in
    order; None for a pulse that fired and was never read back."""
    out = []
    for r in records:
        if r["type"] == "pulses" and r["run"] == run:
            out.extend(zip(range(r["first"], r["first"] + len(r["amp"])), r["amp"], r["q_nc"], strict=True))
    return out


def check_against_truth(unit: SimUnit, pulses: list[tuple[int, int | None, int | None]]) -> None:
    truth = unit.model.ground_truth()["pulses"]
    # Every pulse of the run, in order, none twice, and every pulse the
    # hardware delivered: the count is the model's.
    assert [p[0] for p in pulses] == list(range(len(pulses)))
    assert len(pulses) == truth["count"]
    real = truth["recent"][: len(pulses)] if truth["count"] <= len(truth["recent"]) else []
    for (_k, _amp, q), d in zip(pulses, real, strict=False):
        if q is not None:  # measured: the charge the model delivered
            assert abs(q / 1000 - d["charge1_uC"]) <= 0.05


def check_write_ahead(records: list[dict[str, Any]], run: int, pulses: list[Any]) -> None:
    """Every pulse of run was in a write-ahead record before it fired, with
    the output its per-pulse record names."""
    ahead: dict[int, int] = {}
    for r in records:
        if r["type"] == "segment" and r["run"] == run:
            ahead.update(zip(range(r["first"], r["first"] + len(r["out"])), r["out"], strict=True))
    outs = [o for r in records if r["type"] == "pulses" and r["run"] == run for o in r["out"]]
    assert [ahead.get(k) for k, _a, _q in pulses] == outs


def run_until(box: StimBox, pulses: int) -> int:
    """Start an SSEP and keep it going until the unit reported `pulses`."""
    h = box.check_protocol(ssep(300))["hash"]
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
    check_against_truth(sim_unit, pulses)
    check_write_ahead(records, run, pulses)
    # The firmware closed the books itself: every pulse read back, none
    # left for the next boot to add.
    assert all(q is not None for _k, _a, q in pulses)
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
    pulses = pulses_of(records, 1)
    # Every pulse the hardware delivered, by count: those the killed
    # firmware read back and wrote, and those the next boot found in the
    # output stage's count (unverified, no charge).
    check_against_truth(sim_unit, pulses)
    check_write_ahead(records, 1, pulses)
    boot = [r for r in records if r["type"] == "event" and r["kind"] == "boot"][-1]
    assert boot["cause"] == "crash" and boot["detail"] == "killed by SIGKILL"
    # The boot closed the run's books, naming the cause.
    (result,) = [r for r in records if r["type"] == "result" and r["run"] == 1]
    assert result["outcome"] == "crash" and result["detail"] == "killed by SIGKILL"
    assert result["done"] == len(pulses) == sim_unit.model.pulse_count
    unverified = sum(1 for _k, _a, q in pulses if q is None)
    assert result["unverified"] == unverified and result["read_back"] == len(pulses) - unverified
    assert result["seq"] > boot["seq"]
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))


def test_a_run_result_longer_than_a_slot_comes_back_whole(firmware_image, new_unit) -> None:
    # A threshold search that climbs to the screw's threshold (intact
    # screws: 14-20 mA in 0.5 mA steps): its trace outgrows a journal slot.
    with new_unit(seed=1) as unit:
        install_offline(firmware_image, unit.flash)
        with StimBox.connect(unit.port) as box:
            r = run_protocol(box, protocols.load("temg", BOARD))
            records = box.all_records(0)
    assert r.outcome == "complete" and r.summary["search"]["steps"] > 20
    (result,) = [x for x in records if x["type"] == "result"]
    assert result["parts"] > 1  # it spans slots...
    # ... and nothing of it is lost: the run's result as the unit reports it
    # (RESULT, which adds the recording).
    assert {k: result[k] for k in r.summary if k != "recording"} == {
        k: v for k, v in r.summary.items() if k != "recording"}
    assert result["recorded"] == len(r.summary["recording"]["streams"])
    assert [x["seq"] for x in records] == list(range(1, len(records) + 1))
    parts = [x for x in records if x["type"] == "part"]
    assert [p["of"] for p in parts] == [result["seq"]] * (result["parts"] - 1)


def test_the_event_log_far_beyond_32_entries_never_fails_a_reply(box: StimBox) -> None:
    box.sim(interlock=False)
    h = box.check_protocol(ssep(10))["hash"]
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
    h = box.check_protocol(ssep(10))["hash"]
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
