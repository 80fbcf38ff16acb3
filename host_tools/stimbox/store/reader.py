"""A session folder read back, read-only: what export, plots, the report
and the demo work from (docs/SESSIONS.md). Reading never changes the
folder, and works while a writer is still adding to it (a line it is
half-way through writing is not there yet)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from stimbox.store.folder import (
    AVERAGE_INDEX,
    AVERAGES,
    EMG,
    EVENTS,
    MEPS,
    PULSES,
    RESULTS,
    SEGMENTS,
    read_info,
    read_lines,
)


@dataclass(frozen=True)
class AverageRef:
    """One averaged channel stored in averages/: float32 uV samples at
    rate_hz, the first `pre` of them before the stimulus."""

    file: Path
    run: int
    stream: str
    split: str  # "a", "b" or "ab"
    channel: int  # amplifier channel number
    rate_hz: int
    pre: int
    baseline: bool

    def load(self) -> np.ndarray:
        return np.asarray(np.load(self.file), dtype=np.float32)

    def t_ms(self) -> np.ndarray:
        """Each sample's time from the stimulus, ms."""
        n = int(np.load(self.file, mmap_mode="r").shape[0])
        return (np.arange(n) - self.pre) * 1000.0 / self.rate_hz


@dataclass
class Session:
    path: Path
    info: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    pulses: list[dict[str, Any]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    meps: list[dict[str, Any]] = field(default_factory=list)
    emg: list[dict[str, Any]] = field(default_factory=list)
    segments: list[dict[str, Any]] = field(default_factory=list)
    averages: list[AverageRef] = field(default_factory=list)

    @property
    def protocols(self) -> dict[str, Any]:
        """By protocol hash: {"name", "type", "protocol"}."""
        return dict(self.info.get("protocols") or {})

    @property
    def runs(self) -> dict[str, dict[str, Any]]:
        """By str(run number), as in session.json: {"protocol_hash", "type",
        "name", "baseline", "started"}."""
        return dict(self.info.get("runs") or {})

    def result(self, run: int) -> dict[str, Any] | None:
        """The stored result of a run (None if it has none)."""
        for r in self.results:
            if r.get("run") == run:
                return r
        return None

    def pulses_of(self, run: int) -> list[dict[str, Any]]:
        return [p for p in self.pulses if p.get("run") == run]

    def averages_of(self, run: int, split: str = "ab") -> list[AverageRef]:
        return [a for a in self.averages if a.run == run and a.split == split]

    def journal_seqs(self) -> list[int]:
        """Every journal seq the folder holds a record of, once each, in order."""
        from stimbox.store.folder import covered

        seqs: set[int] = set()
        for lines in (self.events, self.pulses, self.results, self.meps, self.segments):
            for line in lines:
                seqs.update(covered(line))
        return sorted(seqs)


def load_session(path: str | Path) -> Session:
    """The session folder at path (StoreError if it is not one)."""
    p = Path(path)
    info = read_info(p)
    averages = [
        AverageRef(p / AVERAGES / str(a["file"]), int(a["run"]), str(a["stream"]), str(a["split"]),
                   int(a["channel"]), int(a["rate_hz"]), int(a["pre"]), bool(a.get("baseline")))
        for a in read_lines(p / AVERAGES / AVERAGE_INDEX)
    ]
    return Session(
        path=p, info=info, events=read_lines(p / EVENTS), pulses=read_lines(p / PULSES),
        results=read_lines(p / RESULTS), meps=read_lines(p / MEPS), emg=read_lines(p / EMG),
        segments=read_lines(p / SEGMENTS), averages=averages,
    )
