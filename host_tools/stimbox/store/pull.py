"""Completing a session folder from the unit (`stimbox pull`): after a
host crashed, or to keep whatever a unit still holds. Everything the unit
still has after the folder's last seq is stored, by seq (nothing twice),
with the averages of its last run if the folder lacks them, and
acknowledged; what is missing is reported by sequence number and by the
unit's own count of records its ring overwrote."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from stimbox.client import StimBox
from stimbox.errors import DeviceError
from stimbox.store.folder import SessionFolder
from stimbox.store.recorder import Recorder, run_in_progress

# A run a killed host left going ends when the unit's heartbeat watchdog
# fires (1 s); its last records are final only then.
SETTLE_S = 10.0


@dataclass
class PullReport:
    stored: int  # journal records stored by this pull
    first_seq: int | None  # the folder's first and last journal seq after it
    last_seq: int | None
    gaps: list[tuple[int, int]]  # seqs missing from the folder, (first, last) inclusive
    lost: int  # records the unit's ring overwrote before they were acknowledged (its count)
    acked: int | None  # the unit's acknowledged seq afterwards
    running: bool = False  # a run was still going: its open record was left for later

    def line(self) -> str:
        seqs = f"seq {self.first_seq}..{self.last_seq}" if self.first_seq is not None else "no records"
        gaps = ", ".join(f"{a}..{b}" if a != b else str(a) for a, b in self.gaps) or "none"
        text = (f"stored {self.stored} records, {seqs}, gaps {gaps}, lost {self.lost}, "
                f"acked {self.acked}")
        if self.running:
            text += " (a run is in progress: pull again once it has ended)"
        return text

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["gaps"] = [list(g) for g in self.gaps]
        return d


def gaps_in(seqs: set[int]) -> list[tuple[int, int]]:
    """Ranges of seqs missing between the lowest and the highest of seqs."""
    out: list[tuple[int, int]] = []
    prev: int | None = None
    for s in sorted(seqs):
        if prev is not None and s > prev + 1:
            out.append((prev + 1, s - 1))
        prev = s
    return out


def wait_for_run_end(box: StimBox, timeout_s: float = SETTLE_S) -> bool:
    """True once no run is in progress (False if one still is after timeout_s)."""
    deadline = time.monotonic() + timeout_s
    while run_in_progress(box):
        if time.monotonic() > deadline:
            return False
        box.poll(0.1)
    return True


def pull_session(box: StimBox, folder: SessionFolder, wait_s: float = SETTLE_S) -> PullReport:
    """Store into folder every journal record the unit still holds after
    the folder's last seq (all it holds, for a folder with none), the last
    run's averages if the folder lacks them, and acknowledge them. A run a
    killed host left going is given wait_s to end first."""
    settled = wait_for_run_end(box, wait_s)
    rec = Recorder(box, folder)
    # A folder with nothing yet takes all the unit holds, acknowledged or not.
    stored = rec.sync(since=0 if folder.last_seq() is None else None, settle=settled)
    if settled:
        _last_averages(box, rec)
    seqs = folder.seqs()
    page = box.records(folder.last_seq())
    return PullReport(stored, min(seqs) if seqs else None, max(seqs) if seqs else None,
                      gaps_in(seqs), page.lost, page.acked, running=not settled)


def _last_averages(box: StimBox, rec: Recorder) -> None:
    run = box.status().get("run")
    if not isinstance(run, dict) or not isinstance(run.get("run"), int):
        return
    try:
        full = box.result(int(run["run"]))
    except DeviceError:
        return
    rec.store_averages(int(run["run"]), full.get("recording"))
