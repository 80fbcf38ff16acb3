"""The case's clock: every event, run and alarm of a session folder in
seconds since the folder was created (case time).

The unit stamps its events with its own wall clock (ms, t_ms); the host
stamps what it writes (a run's start in session.json, free-run EMG lines'
t_s) with its own. The two are tied by the runs: each run's "started" event
on the unit and its start as the host noted it, a moment apart; the offset
is their median, so one run the host noted late does not move the rest."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stimbox.store import Session

# A run ends with the first of these events after its start.
RUN_END_KINDS = ("disarmed", "stopped", "estop", "heartbeat_lost", "firmware_fault", "fault")


def _iso_s(text: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@dataclass(frozen=True)
class RunSpan:
    run: int
    name: str
    type: str
    baseline: bool  # started as a baseline run
    start_s: float | None
    end_s: float | None
    outcome: str | None
    pulses: int


class Timeline:
    """Case time of a session's events and runs."""

    def __init__(self, session: Session) -> None:
        self.session = session
        created = _iso_s(session.info.get("created")) or 0.0
        started = {int(e["run"]): float(e["t_ms"]) for e in session.events
                   if e.get("kind") == "started" and isinstance(e.get("run"), int)
                   and isinstance(e.get("t_ms"), int | float)}
        offsets = []
        for run, meta in session.runs.items():
            host = _iso_s(meta.get("started"))
            if host is not None and int(run) in started:
                offsets.append(host - created - started[int(run)] / 1000)
        unit_ms = [float(e["t_ms"]) for e in session.events if isinstance(e.get("t_ms"), int | float)]
        if offsets:
            self.offset_s = statistics.median(offsets)
        elif unit_ms:
            self.offset_s = -min(unit_ms) / 1000  # no anchor: the first event starts the case
        else:
            self.offset_s = 0.0
        self.created = created
        self.runs = self._runs(started)

    def unit_s(self, t_ms: float) -> float:
        """Case time of a time on the unit's clock (ms)."""
        return t_ms / 1000 + self.offset_s

    def event_s(self, e: dict[str, Any]) -> float | None:
        """Case time of an events.jsonl line (the unit's or a host note's)."""
        if isinstance(e.get("t_ms"), int | float):
            return self.unit_s(float(e["t_ms"]))
        host = _iso_s(e.get("t")) if e.get("t") else None
        return None if host is None else host - self.created

    def _runs(self, started: dict[int, float]) -> list[RunSpan]:
        s = self.session
        results = {int(r["run"]): r for r in s.results if isinstance(r.get("run"), int)}
        counts: dict[int, int] = {}
        for p in s.pulses:
            counts[int(p["run"])] = counts.get(int(p["run"]), 0) + 1
        ends = sorted(float(e["t_ms"]) for e in s.events
                      if e.get("kind") in RUN_END_KINDS and isinstance(e.get("t_ms"), int | float))
        out = []
        numbers = sorted({int(r) for r in s.runs} | set(results) | set(started))
        for run in numbers:
            meta = s.runs.get(str(run)) or {}
            res = results.get(run) or {}
            t0 = started.get(run)
            if t0 is not None:
                start: float | None = self.unit_s(t0)
            else:
                host = _iso_s(meta.get("started"))
                start = None if host is None else host - self.created
            end = next((self.unit_s(t) for t in ends if t0 is not None and t >= t0), None)
            out.append(RunSpan(run, str(meta.get("name") or res.get("protocol_name") or f"run {run}"),
                               str(meta.get("type") or res.get("type") or ""), bool(meta.get("baseline")),
                               start, end, res.get("outcome"), counts.get(run, 0)))
        return out

    def run(self, run: int) -> RunSpan | None:
        return next((r for r in self.runs if r.run == run), None)

    def alarms(self) -> list[dict[str, Any]]:
        """The unit's alarm events, each with its case time ("t_s")."""
        return [dict(e, t_s=self.event_s(e)) for e in self.session.events if e.get("kind") == "alarm"]

    def end_s(self) -> float:
        """The last moment the case has anything at."""
        ts = [t for e in self.session.events if (t := self.event_s(e)) is not None]
        ts += [float(x["t_s"]) for x in self.session.emg if isinstance(x.get("t_s"), int | float)]
        ts += [r.end_s for r in self.runs if r.end_s is not None]
        return max(ts, default=0.0)
