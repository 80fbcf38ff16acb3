"""The session folder on disk and its one writer (docs/SESSIONS.md).

What a kill -9 at any moment must leave readable decides the shape:
every JSON Lines file grows by whole lines, each line one os.write() on
a file opened for appending, so a killed writer leaves at most one torn
last line, which readers ignore and the next writer cuts off. Journal
records are written in sequence order, so whatever a killed writer left
is every record up to the last one it wrote: last_seq() is where to go
on. JSON files are replaced whole (written aside, then os.replace).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from stimbox.errors import StimBoxError

FORMAT = "stimbox-session/1"
SESSION = "session.json"
EVENTS = "events.jsonl"
PULSES = "pulses.jsonl"
RESULTS = "results.jsonl"
MEPS = "meps.jsonl"
EMG = "emg.jsonl"
# Write-ahead records (what the unit was about to fire): kept so that every
# journal seq the unit handed over is somewhere in the folder.
SEGMENTS = "segments.jsonl"
AVERAGES = "averages"
AVERAGE_INDEX = "index.jsonl"
JOURNAL_FILES = (EVENTS, PULSES, RESULTS, MEPS, SEGMENTS)
LOCK = ".lock"


class StoreError(StimBoxError):
    """A session folder that cannot be opened, read or written as asked."""


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def read_lines(path: Path) -> list[dict[str, Any]]:
    """The whole lines of a JSON Lines file ([] if there is none); a last
    line without its newline is a write a kill cut short, and is ignored."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    end = data.rfind(b"\n")
    out = []
    for n, line in enumerate(data[: end + 1].splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            raise StoreError(f"{path}: line {n} is not JSON (the file was damaged)") from None
        if not isinstance(obj, dict):
            raise StoreError(f"{path}: line {n} is not a JSON object")
        out.append(obj)
    return out


def covered(line: dict[str, Any]) -> range:
    """The journal sequence numbers a stored line accounts for: its record
    and, for one that spanned several journal slots, their parts."""
    seq = line.get("seq")
    if not isinstance(seq, int):
        return range(0)
    return range(seq, seq + max(1, int(line.get("parts") or 1)))


def write_json(path: Path, obj: Any) -> None:
    """Replace path whole: a reader sees the old file or the new one."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "_"


def average_name(run: int, stream: str, split: str, channel: int) -> str:
    return f"run{run:04d}_{_safe(stream)}_{_safe(split)}_ch{channel}.npy"


class _Appender:
    """A batch of lines for the folder's JSON Lines files: one os.write per
    line, in the order given; close() makes them durable (fsync)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.fds: dict[str, int] = {}

    def add(self, name: str, *objs: dict[str, Any]) -> None:
        """objs as lines of file name, in one write (the lines of one
        journal record go together)."""
        fd = self.fds.get(name)
        if fd is None:
            fd = os.open(self.root / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            self.fds[name] = fd
        data = "".join(json.dumps(o, separators=(",", ":")) + "\n" for o in objs).encode()
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]

    def close(self) -> None:
        for fd in self.fds.values():
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        self.fds.clear()

    def __enter__(self) -> _Appender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _cut_torn_tail(path: Path) -> None:
    """Drop a last line a killed writer left without its newline, so that
    the next line appended starts a line of its own."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size == 0:
        return
    with open(path, "rb+") as f:
        data = f.read()
        end = data.rfind(b"\n") + 1
        if end != size:
            f.truncate(end)
            f.flush()
            os.fsync(f.fileno())


class SessionFolder:
    """A session folder opened for writing. One writer at a time: the
    folder is locked (flock on DIR/.lock, released when the writer's
    process ends, however it ends)."""

    def __init__(self, path: Path, info: dict[str, Any], lock_fd: int) -> None:
        self.path = path
        self.info = info
        self._lock_fd = lock_fd
        self._seqs: set[int] = set()
        # Pulse indices stored per per-pulse record: a writer killed while
        # writing a record's lines leaves some of them, and the rest are
        # stored when the record comes again.
        self._pulses: dict[int, set[int]] = {}
        self._averages: set[str] = set()
        self._outputs: list[dict[str, Any]] | None = None

    # --- opening ------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, unit_info: dict[str, Any], port: str) -> SessionFolder:
        """A new session folder at path (made with its parents); StoreError if
        path already holds a session (open it instead)."""
        p = Path(path)
        if (p / SESSION).exists():
            raise StoreError(f"{p} already holds a session (open it, or choose another folder)")
        try:
            p.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create the session folder {p}: {e.strerror or e}") from None
        now = utc_now()
        info: dict[str, Any] = {
            "format": FORMAT, "created": now, "updated": now, "unit": dict(unit_info),
            "port": str(port), "host": {"stimbox": _version()}, "protocols": {}, "runs": {},
            "acked_seq": None,
        }
        folder = cls(p, info, _lock(p))
        try:
            write_json(p / SESSION, info)
            (p / AVERAGES).mkdir(exist_ok=True)
        except BaseException:
            folder.close()
            raise
        return folder

    @classmethod
    def open(cls, path: str | Path) -> SessionFolder:
        """An existing session folder, to go on writing it."""
        p = Path(path)
        read_info(p)  # a session folder, before anything is made in it
        folder = cls(p, {}, _lock(p))
        try:
            folder.info = read_info(p)  # as the last writer left it
            for name in (*JOURNAL_FILES, EMG, f"{AVERAGES}/{AVERAGE_INDEX}"):
                _cut_torn_tail(p / name)
            for name in JOURNAL_FILES:
                for line in read_lines(p / name):
                    folder._seqs.update(covered(line))
                    if name == PULSES:
                        folder._pulses.setdefault(int(line["seq"]), set()).add(int(line["index"]))
            folder._averages = {str(a.get("file")) for a in read_lines(p / AVERAGES / AVERAGE_INDEX)}
            (p / AVERAGES).mkdir(exist_ok=True)
        except BaseException:
            folder.close()
            raise
        return folder

    @classmethod
    def open_or_create(cls, path: str | Path, unit_info: dict[str, Any], port: str) -> SessionFolder:
        """The session folder at path, made if there is none yet."""
        p = Path(path)
        if (p / SESSION).exists():
            return cls.open(p)
        return cls.create(p, unit_info, port)

    def close(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def __enter__(self) -> SessionFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- session.json ---------------------------------------------------------
    def _save(self) -> None:
        self.info["updated"] = utc_now()
        write_json(self.path / SESSION, self.info)

    def add_protocol(self, protocol: dict[str, Any], protocol_hash: str) -> None:
        if protocol_hash in self.info["protocols"]:
            return
        self.info["protocols"][protocol_hash] = {
            "name": protocol.get("name"), "type": protocol.get("type"), "protocol": protocol}
        self._save()

    def begin_run(self, run: int, protocol_hash: str, baseline: bool) -> None:
        p = self.info["protocols"].get(protocol_hash) or {}
        self.info["runs"][str(run)] = {
            "protocol_hash": protocol_hash, "type": p.get("type"), "name": p.get("name"),
            "baseline": bool(baseline), "started": utc_now()}
        self._save()

    def set_acked(self, seq: int) -> None:
        self.info["acked_seq"] = int(seq)
        self._save()

    # --- journal records --------------------------------------------------------
    def last_seq(self) -> int | None:
        """The highest journal seq stored (every record before it that the
        unit still had is stored too; that record itself may lack pulses
        if its writer was killed while writing it: read on from the seq
        before, resume_seq())."""
        return max(self._seqs) if self._seqs else None

    def resume_seq(self) -> int | None:
        """Where to read the journal on from: before the last record
        stored, which a killed writer may have left part-written."""
        last = self.last_seq()
        return None if last is None else last - 1

    def has(self, seq: int) -> bool:
        return seq in self._seqs

    def seqs(self) -> set[int]:
        return set(self._seqs)

    def store_records(self, records: list[dict[str, Any]]) -> int:
        """Store joined journal records (stimbox.client.join_parts) not stored
        yet, in seq order; returns how many were new. A "missing" record
        (lost on the unit) stores nothing: it stays a gap. The caller gives
        only records the unit will not rewrite (Recorder.sync)."""
        recs = sorted(records, key=lambda r: int(r["seq"]))
        heads = {int(r["seq"]) for r in recs if r.get("type") != "part"}
        tails: dict[int, int] = {}
        for r in recs:
            if r.get("type") == "part" and r.get("of") in heads:
                tails[int(r["of"])] = tails.get(int(r["of"]), 1) + 1
        new = 0
        with _Appender(self.path) as out:
            for r in recs:
                seq = int(r["seq"])
                kind = r.get("type")
                if kind == "pulses":
                    have = self._pulses.setdefault(seq, set())
                    todo = [x for x in self._pulse_lines(r) if x["index"] not in have]
                    if todo:
                        out.add(PULSES, *todo)
                        have.update(x["index"] for x in todo)
                        self._seqs.add(seq)
                        new += 1
                    continue
                if seq in self._seqs or kind in ("part", "missing"):
                    continue
                if kind == "result" and "incomplete" not in r:
                    out.add(RESULTS, self._result_line(r))
                elif kind == "mep" and "incomplete" not in r:
                    out.add(MEPS, dict(r))
                elif kind == "segment":
                    out.add(SEGMENTS, dict(r))
                else:
                    # Events, and records a crash left incomplete (their
                    # text unreadable), with the slots they spanned.
                    line = dict(r)
                    if "incomplete" in r:
                        line["parts"] = tails.get(seq, 1)
                    out.add(EVENTS, line)
                    r = line
                self._seqs.update(covered(r))
                new += 1
        return new

    def _board_outputs(self) -> list[dict[str, Any]]:
        if self._outputs is None:
            from stimbox.build import board_module

            self._outputs = list(board_module(str(self.info["unit"].get("board", "sim"))).OUTPUTS)
        return self._outputs

    def _pulse_lines(self, rec: dict[str, Any]) -> list[dict[str, Any]]:
        from stimbox.session import pulse_records

        run = int(rec["run"])
        return [dict({"seq": int(rec["seq"]), "run": run}, **asdict(p))
                for p in pulse_records(rec, self._board_outputs())]

    def _result_line(self, rec: dict[str, Any]) -> dict[str, Any]:
        line = dict(rec)
        meta = self.info["runs"].get(str(rec.get("run"))) or {}
        line["protocol_name"] = meta.get("name")
        line["type"] = meta.get("type")
        return line

    # --- host data ----------------------------------------------------------------
    def add_average(self, run: int, stream: str, split: str, channel: int, wave: Any,
                    rate_hz: int, pre: int, baseline: bool) -> Path:
        """One averaged channel (uV) as float32 .npy, listed once in the index
        (storing it again replaces the file)."""
        name = average_name(run, stream, split, channel)
        dest = self.path / AVERAGES / name
        tmp = dest.with_name(f".{name}.tmp")
        with open(tmp, "wb") as f:
            np.save(f, np.asarray(wave, dtype=np.float32))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
        if name not in self._averages:
            with _Appender(self.path / AVERAGES) as out:
                out.add(AVERAGE_INDEX, {"file": name, "run": int(run), "stream": stream,
                                        "split": split, "channel": int(channel),
                                        "rate_hz": int(rate_hz), "pre": int(pre),
                                        "baseline": bool(baseline)})
            self._averages.add(name)
        return dest

    def has_average(self, run: int, stream: str, split: str, channel: int) -> bool:
        return average_name(run, stream, split, channel) in self._averages

    def add_emg(self, detections: list[dict[str, Any]], t_s: float | None = None) -> None:
        """Free-run EMG as the unit pushed it (PUSH_EMG payloads), one line
        each, at case time t_s (seconds since the folder was created; None:
        each keeps its own "t_s")."""
        with _Appender(self.path) as out:
            for d in detections:
                line = dict(d, seq=None)
                if t_s is not None or "t_s" not in line:
                    line["t_s"] = float(self.case_time() if t_s is None else t_s)
                out.add(EMG, line)

    def note(self, kind: str, **fields: Any) -> None:
        """A host event (not from the unit's journal) in events.jsonl."""
        with _Appender(self.path) as out:
            out.add(EVENTS, dict(fields, kind=kind, source="host", seq=None, t=utc_now()))

    def case_time(self) -> float:
        """Seconds since the folder was created (the case's clock)."""
        t0 = datetime.fromisoformat(str(self.info["created"]).replace("Z", "+00:00"))
        return (datetime.now(timezone.utc) - t0).total_seconds()


def read_info(path: Path) -> dict[str, Any]:
    """session.json of a session folder; StoreError if path is not one."""
    f = path / SESSION
    try:
        info = json.loads(f.read_text())
    except FileNotFoundError:
        raise StoreError(f"{path} is not a session folder (no {SESSION})") from None
    except (OSError, ValueError) as e:
        raise StoreError(f"{f}: unreadable ({e})") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise StoreError(f"{f}: not a {FORMAT} session")
    return info


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("stimbox")
    except PackageNotFoundError:
        return "unknown"


def _lock(path: Path) -> int:
    fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise StoreError(f"{path} is being written by another program") from None
        raise
    return fd
