"""The session folder without a unit (host only): known journal records
stored by seq once however often they are given, a torn last line ignored
by readers and cut off by the next writer, one writer at a time, and clear
one-line errors for what is not a session folder. Storing from a real unit
and completing a folder after a host crash: tests/test_store_sim.py."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from stimbox.build import board_module
from stimbox.session import pulse_records
from stimbox.store import SessionFolder, StoreError, load_session
from stimbox.store.pull import gaps_in

UNIT = {"board": "sim", "build": "0" * 64, "fw": "0.1.0"}


def pulses(seq: int, run: int, first: int, n: int) -> dict[str, Any]:
    """A per-pulse journal record as the unit hands it out (records())."""
    return {"seq": seq, "type": "pulses", "run": run, "first": first,
            "out": [1] * n, "flags": [0] * n, "an": [1] * n, "ca": [2] * n,
            "amp": [25000 + k for k in range(n)], "q_nc": [5000] * n, "amp2": [0] * n,
            "q2_nc": [0] * n, "w1_ns": [200000] * n, "w2_ns": [0] * n, "gap_ns": [0] * n,
            "onset_ns": [-1000] * n}


def journal() -> list[dict[str, Any]]:
    """Seqs 1..8: events, two per-pulse records, a result spanning three
    slots (its head joined, the two parts as join_parts leaves them), an event."""
    return [
        {"seq": 1, "type": "event", "kind": "boot", "t_ms": 10},
        {"seq": 2, "type": "event", "kind": "armed", "hash": "h1", "t_ms": 20},
        pulses(3, 1, 0, 9),
        pulses(4, 1, 9, 3),
        {"seq": 5, "type": "result", "run": 1, "outcome": "complete", "done": 12, "parts": 3},
        {"seq": 6, "type": "part", "of": 5, "part": 1},
        {"seq": 7, "type": "part", "of": 5, "part": 2},
        {"seq": 8, "type": "event", "kind": "disarmed", "t_ms": 30},
    ]


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_records_are_stored_by_seq_once_however_often_they_come(tmp_path: Path) -> None:
    recs = journal()
    with SessionFolder.create(tmp_path / "s", UNIT, "/dev/null") as f:
        f.add_protocol({"type": "ssep", "name": "SSEP median L/R"}, "h1")
        f.begin_run(1, "h1", baseline=True)
        assert f.store_records(recs[:4]) == 4
        assert f.last_seq() == 4
        # Again, overlapping, out of order: only seqs 5 and 8 are new
        # (6 and 7 are the result's further slots).
        assert f.store_records(list(reversed(recs))) == 2
        assert f.store_records(recs) == 0
        assert f.last_seq() == 8
    s = load_session(tmp_path / "s")
    assert s.journal_seqs() == list(range(1, 9))
    assert [e["kind"] for e in s.events] == ["boot", "armed", "disarmed"]
    outputs = board_module("sim").OUTPUTS
    want = [dict({"seq": r["seq"], "run": 1}, **asdict(p))
            for r in recs[2:4] for p in pulse_records(r, outputs)]
    assert s.pulses == want
    assert [p["index"] for p in s.pulses] == list(range(12))
    (res,) = s.results
    assert (res["seq"], res["run"], res["outcome"], res["type"], res["protocol_name"]) == (
        5, 1, "complete", "ssep", "SSEP median L/R")
    assert s.runs["1"]["baseline"] is True and s.protocols["h1"]["type"] == "ssep"


def test_a_torn_last_line_is_ignored_and_cut_off_by_the_next_writer(tmp_path: Path) -> None:
    d = tmp_path / "s"
    recs = journal()
    with SessionFolder.create(d, UNIT, "/dev/null") as f:
        f.store_records(recs[:3])
    whole = lines(d / "pulses.jsonl")
    # A writer killed half-way through a line.
    with open(d / "pulses.jsonl", "a") as fh:
        fh.write(json.dumps({"seq": 4, "run": 1, "index": 9})[:17])
    with open(d / "events.jsonl", "a") as fh:
        fh.write('{"seq": 4, "ty')
    s = load_session(d)
    assert len(s.pulses) == len(whole) == 9 and len(s.events) == 2
    with SessionFolder.open(d) as f:
        assert f.last_seq() == 3
        assert f.store_records(recs) == 3  # seqs 4, 5 (with its parts 6, 7) and 8
    s = load_session(d)
    assert [p["index"] for p in s.pulses] == list(range(12))
    assert s.journal_seqs() == list(range(1, 9))
    for name in ("pulses.jsonl", "events.jsonl", "results.jsonl"):
        assert all(json.loads(x) for x in lines(d / name))  # every line whole


def test_a_record_whose_writer_was_killed_part_way_is_completed_when_it_comes_again(
        tmp_path: Path) -> None:
    d = tmp_path / "s"
    recs = journal()
    with SessionFolder.create(d, UNIT, "/dev/null") as f:
        f.store_records(recs[:3])
    # Killed after 4 of the 9 lines of seq 3's pulses.
    (d / "pulses.jsonl").write_text("".join(x + "\n" for x in lines(d / "pulses.jsonl")[:4]))
    with SessionFolder.open(d) as f:
        assert f.last_seq() == 3 and f.resume_seq() == 2  # read again from seq 3
        assert f.store_records(recs[2:]) == 4  # the rest of seq 3, then 4, 5 and 8
        assert f.store_records(recs) == 0
    s = load_session(d)
    assert [p["index"] for p in s.pulses] == list(range(12))
    assert [p["seq"] for p in s.pulses] == [3] * 9 + [4] * 3


def test_averages_and_host_lines_read_back(tmp_path: Path) -> None:
    wave = np.linspace(-5, 5, 350)
    with SessionFolder.create(tmp_path / "s", UNIT, "/dev/null") as f:
        for _ in range(2):  # stored again: replaced, listed once
            f.add_average(3, "l_median", "ab", 1, wave, rate_hz=5000, pre=50, baseline=True)
        f.add_emg([{"t_ms": 12.5, "events": [{"ch": 2}]}], t_s=4.0)
        f.note("operator", text="screw L4 placed")
        assert f.last_seq() is None  # host lines carry no journal seq
    s = load_session(tmp_path / "s")
    (a,) = s.averages
    assert (a.run, a.stream, a.split, a.channel, a.rate_hz, a.pre, a.baseline) == (
        3, "l_median", "ab", 1, 5000, 50, True)
    assert a.file.name == "run0003_l_median_ab_ch1.npy"
    assert a.load().dtype == np.float32 and np.allclose(a.load(), wave, atol=1e-6)
    assert a.t_ms()[0] == pytest.approx(-10.0) and a.t_ms()[50] == 0.0
    assert s.emg == [{"t_ms": 12.5, "events": [{"ch": 2}], "t_s": 4.0, "seq": None}]
    (note,) = s.events
    assert note["kind"] == "operator" and note["source"] == "host" and note["seq"] is None


def test_one_writer_at_a_time_and_clear_errors(tmp_path: Path) -> None:
    d = tmp_path / "s"
    with SessionFolder.create(d, UNIT, "/dev/null"):
        with pytest.raises(StoreError, match="being written by another program"):
            SessionFolder.open(d)
    with pytest.raises(StoreError, match="already holds a session"):
        SessionFolder.create(d, UNIT, "/dev/null")
    with pytest.raises(StoreError, match="is not a session folder"):
        load_session(tmp_path)
    SessionFolder.open(d).close()  # the lock went with the writer


def test_gaps_are_the_missing_ranges() -> None:
    assert gaps_in({1, 2, 3}) == [] and gaps_in(set()) == []
    assert gaps_in({1, 2, 5, 6, 8}) == [(3, 4), (7, 7)]
