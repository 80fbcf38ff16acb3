"""Storing a unit's journal into a session folder as it arrives
(docs/SESSIONS.md): what session.run_protocol drives during a run, and
what `stimbox pull` uses to complete a folder afterwards.

Only records the unit will not rewrite are stored. The per-pulse record of
the segment in progress is the journal's one open record: the unit hands
it out as it stands and goes on adding pulses to it under the same seq. It
is final once the unit has opened the next per-pulse record or written a
run result (the journal closes the open record first), or once no run is
in progress (a later run opens a record of its own). Everything from the
first record still open on is left for the next sync, so the folder's
last seq always has every record before it behind it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from stimfw.link import messages as m

from stimbox.client import Push, StimBox, join_parts
from stimbox.errors import DeviceError, ReplyTimeout, StimBoxError
from stimbox.store.folder import SessionFolder, StoreError

if TYPE_CHECKING:
    from stimbox.session import RunResult

SYNC_S = 1.0  # how often a run in progress is stored
# Journal pages one sync reads during a run. The heartbeat waits meanwhile
# (the unit gives up on a host after 1 s), and every page is work for the
# unit's main loop: a backlog is left for the end of the run, whose records
# the unit keeps until they are acknowledged.
TICK_PAGES = 8
# Free-run pushes come up to 100 a second: written (and fsynced) together.
EMG_BATCH_S = 0.5
SPLITS = ("ab", "a", "b")


def run_in_progress(box: StimBox) -> bool:
    run = box.status().get("run")
    return isinstance(run, dict) and run.get("outcome") == "running"


class Recorder:
    """Stores what box's unit journals into folder, acknowledging it."""

    def __init__(self, box: StimBox, folder: SessionFolder, interval_s: float = SYNC_S) -> None:
        self.box = box
        self.folder = folder
        self.interval_s = interval_s
        self.stored = 0  # journal records stored by this recorder
        self.lost = 0  # the unit's count of records its ring overwrote unacknowledged
        self.acked: int | None = folder.info.get("acked_seq")
        self.unit_first: int | None = None  # the oldest seq the unit still held
        self.unit_last: int | None = None
        self._last_sync = 0.0
        self._armed: str | None = None  # the protocol hash last armed, as journalled
        self._emg: list[dict[str, Any]] = []
        self._emg_flushed = time.monotonic()

    # --- a run ----------------------------------------------------------------
    def begin_run(self, protocol: dict[str, Any], protocol_hash: str, run: int, baseline: bool) -> None:
        self.folder.add_protocol(protocol, protocol_hash)
        self.folder.begin_run(run, protocol_hash, baseline)

    def tick(self) -> None:
        """During a run: sync() a few pages if the last sync was interval_s
        ago or more."""
        if time.monotonic() - self._last_sync >= self.interval_s:
            try:
                self.sync(max_pages=TICK_PAGES)
            except ReplyTimeout:
                # Slow or gone: the run's heartbeat decides which; what
                # was not stored now is next time, or at the end.
                pass

    def on_push(self, p: Push) -> None:
        """Free-run EMG pushes go to emg.jsonl; give it every push (outside
        run_protocol: box.on_push = recorder.on_push). They are written in
        batches, at most EMG_BATCH_S apart, and by every sync() and flush()."""
        if p.mtype == m.PUSH_EMG and isinstance(p.data, dict):
            self._emg.append(dict(p.data, t_s=round(self.folder.case_time(), 3)))
            if time.monotonic() - self._emg_flushed >= EMG_BATCH_S:
                self.flush()

    def flush(self) -> None:
        """Write the free-run EMG pushes held back."""
        self._emg_flushed = time.monotonic()
        if self._emg:
            batch, self._emg = self._emg, []
            self.folder.add_emg(batch)

    def after_run(self, result: RunResult) -> None:
        """The run's records, then its averages while the unit still holds
        them (it keeps those of its last run only)."""
        self.sync()
        self.store_averages(result.run, result.summary.get("recording"))

    def store_averages(self, run: int, recording: dict[str, Any] | None) -> int:
        """Every averaged channel of the unit's last run (run) not stored yet,
        each split; returns how many were stored."""
        if not recording:
            return 0
        meta = self.folder.info["runs"].get(str(run)) or {}
        baseline = bool(meta.get("baseline") or recording.get("baseline"))
        n = 0
        for s in recording.get("streams") or []:
            label = s.get("stream")
            rate, pre = s.get("rate_hz"), s.get("pre")
            if not isinstance(label, str) or rate is None or pre is None:
                continue
            for ch in s.get("channels") or []:
                for split in SPLITS:
                    if self.folder.has_average(run, label, split, int(ch)):
                        continue
                    try:
                        wave = self.box.average(label, split, int(ch))
                    except DeviceError:
                        continue  # an average this stream does not keep
                    if wave:
                        self.folder.add_average(run, label, split, int(ch), wave, int(rate), int(pre),
                                                baseline)
                        n += 1
        return n

    def end_run(self, salvage: bool) -> None:
        """On the way out of run_protocol. salvage: the run failed; store
        what can be stored, never letting a second failure hide the first."""
        if not salvage:
            self.flush()
            return
        try:
            self.sync()
            self.flush()
        except (StimBoxError, OSError):
            pass

    # --- the journal ------------------------------------------------------------
    def sync(self, since: int | None = None, settle: bool = False, max_pages: int = 0) -> int:
        """Store the journal records from the folder's last seq on (or after
        since, or after what the unit has acknowledged for a folder with
        none yet), then acknowledge them; returns how many were new.
        settle: the caller knows no run is in progress (skips asking);
        max_pages: read at most that many pages (0: all) unless none of
        them could be stored yet."""
        box = self.box
        self._last_sync = time.monotonic()
        self.flush()
        running = False if settle else run_in_progress(box)  # asked before reading: see above
        last = self.folder.last_seq()
        if since is None:
            since = self.folder.resume_seq()
        page = box.records(since)
        if last is not None and page.last_seq < last:
            raise StoreError(
                f"{self.folder.path}: the unit's journal ends at seq {page.last_seq}, before the "
                f"folder's {last}: its journal started afresh; store into a new session folder")
        self.unit_first = page.first_seq
        got = list(page.records)
        pages = 1
        while page.more:
            if max_pages and pages >= max_pages and final_upto(join_parts(got), running) > (since or 0):
                break
            page = box.records(page.next)
            got.extend(page.records)
            pages += 1
        self.lost = page.lost
        self.unit_last = page.last_seq
        recs = join_parts(got)
        upto = final_upto(recs, running)
        if page.more:
            upto = min(upto, cut_before(got))
        take = [r for r in recs if int(r["seq"]) <= upto]
        self._note_runs(take)
        self._describe_results(take)
        new = self.folder.store_records(take)
        self.stored += new
        stored = self.folder.last_seq()
        if stored is not None and stored > page.acked:
            self.acknowledge(stored)
        return new

    def acknowledge(self, seq: int) -> None:
        """Tell the unit it may reuse the room of records up to seq (refused
        while another host holds its session: then the unit keeps them)."""
        try:
            acked = self.box.ack(seq)
        except DeviceError as e:
            if e.name != "not_owner":
                raise
            return
        if acked != self.acked:
            self.acked = acked
            self.folder.set_acked(acked)

    def _note_runs(self, recs: list[dict[str, Any]]) -> None:
        """Runs the folder has not heard of (its writer was killed before it
        could note them, or another host ran them), from the journal's
        "armed" and "started" events: the hash of the protocol each ran."""
        for r in recs:
            if r.get("type") != "event":
                continue
            if r.get("kind") == "armed":
                self._armed = r.get("hash")
            elif r.get("kind") == "started" and isinstance(r.get("run"), int) and self._armed:
                if str(r["run"]) not in self.folder.info["runs"]:
                    self.folder.begin_run(int(r["run"]), self._armed, bool(r.get("baseline")))

    def _describe_results(self, recs: list[dict[str, Any]]) -> None:
        """A run result as the journal keeps it lacks its recording (the
        averages' measurements and alarms); the unit still gives it for its
        last run: fill it in where it can."""
        for i, r in enumerate(recs):
            if r.get("type") != "result" or "incomplete" in r or self.folder.has(int(r["seq"])):
                continue
            try:
                full = self.box.result(int(r["run"]))
            except (DeviceError, KeyError, TypeError, ValueError):
                continue
            if full.get("outcome") == r.get("outcome"):
                recs[i] = dict(full, **r)


def cut_before(raw: list[dict[str, Any]]) -> int:
    """For records read up to a page that was not the last: the highest
    seq before a record whose further slots are still unread."""
    if not raw:
        return 0
    end = int(raw[-1]["seq"])
    for r in reversed(raw):
        if "parts" in r and "text" in r and int(r["seq"]) + int(r["parts"]) - 1 > end:
            return int(r["seq"]) - 1
        if r.get("type") != "part":
            break
    return end


def final_upto(recs: list[dict[str, Any]], running: bool) -> int:
    """The highest seq up to which every record is final (see the module's
    docstring); recs joined and in seq order."""
    if not recs:
        return 0
    if running:
        # Only the last per-pulse record can be open, and only if no result
        # came after it.
        for r in reversed(recs):
            if r.get("type") == "pulses":
                return int(r["seq"]) - 1
            if r.get("type") == "result":
                break
    return int(recs[-1]["seq"])
