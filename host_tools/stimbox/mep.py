"""Per-trial TcMEP measurements as the unit reports them: one record per
train with every recorded muscle's onset, peak-to-peak and rectified area
(stimfw.record.mep), pushed during the run (PUSH_MEP) and kept in the
unit's journal under a sequence number ("mep" records)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stimbox.client import StimBox


@dataclass(frozen=True)
class MuscleMep:
    ch: int
    present: bool  # an onset beyond the threshold inside the muscle's window
    saturated: bool  # the sweep sat on an ADC rail
    onset_ms: float | None  # after the train's last pulse
    pp_uv: float
    area_uvms: float
    threshold_uv: float  # k times the pre-stimulus noise
    name: str | None = None  # the muscle's name, where known


@dataclass(frozen=True)
class MepTrial:
    seq: int | None  # journal sequence number
    run: int
    trial: int  # train index in the run, from 0
    train_ms: float  # the train's last pulse after its first
    muscles: tuple[MuscleMep, ...]

    def muscle(self, ch: int) -> MuscleMep:
        for m in self.muscles:
            if m.ch == ch:
                return m
        raise KeyError(f"no channel {ch} in trial {self.trial} of run {self.run}")


def from_record(d: dict[str, Any]) -> MepTrial:
    """A trial from a PUSH_MEP payload or a journal "mep" record."""
    ms = tuple(MuscleMep(int(m["ch"]), bool(m["present"]), bool(m["saturated"]),
                         None if m["onset_ms"] is None else float(m["onset_ms"]),
                         float(m["pp_uv"]), float(m["area_uvms"]), float(m["threshold_uv"]),
                         m.get("name"))
               for m in d["muscles"])
    seq = d.get("seq")
    return MepTrial(None if seq is None else int(seq), int(d["run"]), int(d["trial"]),
                    float(d["train_ms"]), ms)


def run_trials(box: StimBox, run: int, since: int = 0) -> list[MepTrial]:
    """The trials of a run, read back from the unit's journal (records
    after seq since), in trial order. The journal keeps the run number as
    16 bits, as the per-pulse records do."""
    recs = box.all_records(since)
    out = [from_record(r) for r in recs if r.get("type") == "mep" and r.get("run") == run & 0xFFFF]
    return sorted(out, key=lambda t: t.trial)
