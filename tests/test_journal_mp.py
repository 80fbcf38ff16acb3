"""The journal's long records and the boot reconciliation under the real
MicroPython (both runtimes), with test HALs whose output stage the test
knows exactly (tests/device/books.py): a record longer than a slot comes
back whole through the host's join, and a run whose firmware died is
closed at the next boot with every pulse its output stage counted, or,
where the HAL keeps no count, with an explicit upper bound."""

from __future__ import annotations

from typing import Any

import pytest
from mpy import BOTH
from seq_common import run_image
from stimbox.client import join_parts
from stimfw.core.journal import MAX_PARTS

SCRIPT = "books.py"


def device(image: Any, scenario: str, *params: Any, runtime: str) -> Any:
    (r,) = run_image(image, SCRIPT, list(params) or None, scenario, runtime=runtime)
    return r


def joined(pages: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return join_parts([r for page in pages for r in page])


@pytest.mark.parametrize("runtime", BOTH)
def test_a_record_longer_than_a_slot_spans_slots_and_comes_back_whole(firmware_image, runtime: str) -> None:
    r = device(firmware_image, "long_records", runtime=runtime)
    seq = r["seq"]
    # Pages stay bounded: the record's slots come one by one, over pages.
    assert len(r["flash"]) > 1 and all(len(str(p)) < 1536 + 2 * r["payload_max"] for p in r["flash"])
    for where in ("queued", "flash"):
        recs = joined(r[where])
        # One gap-free series: the record's further slots stay as parts.
        assert [x["seq"] for x in recs] == list(range(1, len(recs) + 1)), where
        (whole,) = [x for x in recs if x["seq"] == seq]
        assert whole["type"] == "result" and whole["run"] == 3 and whole["outcome"] == "complete"
        assert whole["search"]["trace"] == r["trace"], where  # not a character lost
        parts = whole["parts"]
        assert parts > 2 and [x for x in recs if x["type"] == "part"][: parts - 1] == [
            {"seq": seq + k, "type": "part", "of": seq, "part": k} for k in range(1, parts)]
        assert [x["kind"] for x in recs if x["type"] == "event"] == ["short", "after"]
    # Beyond MAX_PARTS slots the largest value goes, and the record says so.
    (huge,) = [x for x in joined(r["flash"]) if x["seq"] == r["huge"]]
    assert huge["dropped"] == ["big"] and huge["small"] == [1, 2] and huge["run"] == 4
    assert len(str(list(range(1000)))) > MAX_PARTS * r["payload_max"]
    # Events alone: the long result is not among them.
    assert [e["kind"] for e in r["events"]["events"]] == ["short", "after"]
    # A page that starts inside the record has only its parts: nothing to join.
    inside = join_parts(r["inside"])
    assert inside[0] == {"seq": seq + 2, "type": "part", "of": seq, "part": 2}
    assert all(x["seq"] != seq for x in inside)
    # A part lost to a crash mid-write: the record says it is incomplete.
    torn = join_parts(r["torn"])
    (head,) = [x for x in torn if x["seq"] == seq]
    assert head["type"] == "result" and head["incomplete"].startswith("3 of ")
    assert {"seq": seq + 3, "type": "missing"} in torn


@pytest.mark.parametrize("runtime", BOTH)
def test_a_run_cut_by_a_reset_is_closed_at_boot_with_every_pulse_the_output_stage_counted(
        firmware_image, runtime: str) -> None:
    r = device(firmware_image, "crashed_run", True, runtime=runtime)
    recs = r["records"]
    pulses = [x for x in recs if x["type"] == "pulses"]
    index = [k for x in pulses for k in range(x["first"], x["first"] + len(x["out"]))]
    # Every pulse the output stage fired, once, in order: those read back
    # measured, the rest (fired while the firmware was dead) unverified.
    assert index == list(range(r["fired"]))
    flags = [f for x in pulses for f in x["flags"]]
    charges = [q for x in pulses for q in x["q_nc"]]
    read = [k for k, f in enumerate(flags) if not f & 16]
    assert 0 < len(read) < r["fired"] and read == list(range(len(read)))
    assert all(f == 16 for f in flags[len(read):]) and all(q is None for q in charges[len(read):])
    assert all(q is not None and q > 0 for q in charges[: len(read)])
    # Each pulse's output is the one the write-ahead record says it was handed.
    ahead = [o for x in recs if x["type"] == "segment" for o in x["out"]]
    assert [o for x in pulses for o in x["out"]] == ahead[: r["fired"]]
    (result,) = [x for x in recs if x["type"] == "result"]
    assert result["outcome"] == "watchdog" and result["done"] == r["fired"]
    assert result["read_back"] == len(read) and result["unverified"] == r["fired"] - len(read)
    assert result["charge_nc"] == sum(charges[: len(read)])
    assert r["state"] == "IDLE" and r["run_seq"] == 0  # the books are closed
    assert [x["seq"] for x in recs] == list(range(1, len(recs) + 1))


@pytest.mark.parametrize("runtime", BOTH)
def test_without_a_pulse_count_the_boot_records_an_upper_bound(firmware_image, runtime: str) -> None:
    r = device(firmware_image, "crashed_run", False, runtime=runtime)
    recs = r["records"]
    read = sum(len(x["out"]) for x in recs if x["type"] == "pulses")
    assert all(f == 0 for x in recs if x["type"] == "pulses" for f in x["flags"])
    (ev,) = [x for x in recs if x["type"] == "event" and x["kind"] == "unverified_pulses"]
    seg_end = sum(r["seg_pulses"])
    assert ev["first"] == read and ev["at_most"] == seg_end - read and ev["run"] == 1
    assert "keeps no pulse count" in ev["reason"]
    assert read <= r["fired"] <= seg_end  # the bound holds what really fired
    (result,) = [x for x in recs if x["type"] == "result"]
    assert result["outcome"] == "crash" and result["done"] == read and result["at_most"] == seg_end
    assert r["run_seq"] == 0


@pytest.mark.parametrize("runtime", BOTH)
def test_an_unsynced_journal_is_in_the_file_for_the_next_boot(firmware_image, runtime: str) -> None:
    # The simulated unit commits its journal without an fsync (a host disk
    # flush stalled the main loop for up to 1.2 s): every record must still
    # be in the file, read back by a second journal while the first is open.
    r = device(firmware_image, "unsynced", runtime=runtime)
    assert r["board_sync"] is False
    assert r["written"] == 5
    assert r["read"] == [[k + 1, "step", k] for k in range(5)]
