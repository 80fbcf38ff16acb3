"""EDF+ of a session's averaged evoked potentials, written with edfio
(docs/EXPORT.md).

EDF+ as the libraries write it (EDF+C) is one continuous stretch of time at
a fixed rate per signal; a case's averages are short sweeps minutes apart.
Storing them at their place in the case would mean hours of zeros at 5-10
kHz per channel, so the file is a sequence of epochs instead, one data
record per run that has averages, in run order:

- signals: one per recorded stream and amplifier channel ("l_median ch1"),
  at the stream's own rate, in uV; a record holds that run's average (the
  A+B average) with the stimulus at the same offset in every record (the
  longest pre-stimulus window: Layout.stim_s), zeros where the run did not
  record that channel;
- annotations, on the epochs' time axis: each record's run (its case time
  in the text), the stimulus (time zero of every average in the record),
  each alarm in the record of the run that raised it (at the alarmed
  latency where it has one), and every other event in the record of the run
  it belongs to, its case time in the text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from stimbox.export import ExportError, tables
from stimbox.export.timeline import RunSpan, Timeline
from stimbox.store import AverageRef, Session

SPLIT = "ab"  # the whole average; "a" and "b" are its halves
LABEL_MAX = 16  # EDF's signal label field
# Physical bounds are written in 8 characters; rounded outwards to 3 significant digits.
RANGE_DIGITS = 3


def _ceil_sig(x: float, digits: int = RANGE_DIGITS) -> float:
    if x <= 0 or not math.isfinite(x):
        return 1.0
    e = 10 ** (math.floor(math.log10(x)) - digits + 1)
    return math.ceil(x / e) * e


@dataclass(frozen=True)
class SignalKey:
    stream: str
    channel: int
    rate_hz: int
    # A stream recorded at more than one rate in the session (two protocols)
    # gets a signal per rate, the rate in its label.
    rate_in_label: bool = False

    def label(self) -> str:
        rate = f" {self.rate_hz / 1000:g}k" if self.rate_in_label else ""
        return f"{self.stream} ch{self.channel}"[:LABEL_MAX - len(rate)] + rate


@dataclass
class Layout:
    """Where everything goes: the runs (one record each), the signals, the
    record length and the stimulus's offset in each record (s)."""

    runs: list[int]
    signals: list[SignalKey]
    record_s: float
    stim_s: float
    averages: dict[tuple[int, SignalKey], AverageRef]

    def record_start(self, run: int) -> float:
        return self.runs.index(run) * self.record_s

    def stimulus(self, run: int) -> float:
        return self.record_start(run) + self.stim_s


def layout(session: Session) -> Layout:
    avs = [a for a in session.averages if a.split == SPLIT]
    if not avs:
        raise ExportError(f"{session.path}: no averaged traces to export (no run stored averages)")
    rates: dict[tuple[str, int], set[int]] = {}
    for a in avs:
        rates.setdefault((a.stream, a.channel), set()).add(a.rate_hz)
    keys: dict[tuple[int, SignalKey], AverageRef] = {}
    for a in sorted(avs, key=lambda a: (a.run, a.stream, a.channel)):
        keys[(a.run, SignalKey(a.stream, a.channel, a.rate_hz, len(rates[(a.stream, a.channel)]) > 1))] = a
    signals = list(dict.fromkeys(k for _, k in keys))
    labels = [s.label() for s in signals]
    if len(set(labels)) != len(labels):
        raise ExportError(f"{session.path}: two signals would share the EDF label of "
                          f"{sorted(x for x in labels if labels.count(x) > 1)[0]!r}")
    # Whole milliseconds: every rate the unit records at is a multiple of 1 kHz,
    # so offsets and record lengths are whole samples of every signal.
    stim_ms = math.ceil(max(1000 * a.pre / a.rate_hz for a in keys.values()))
    ends = []
    for a in keys.values():
        n = int(np.load(a.file, mmap_mode="r").shape[0])
        ends.append(stim_ms + 1000 * (n - a.pre) / a.rate_hz)
    record_ms = math.ceil(max(ends))
    for s in signals:
        if (record_ms * s.rate_hz) % 1000 or (stim_ms * s.rate_hz) % 1000:
            raise ExportError(f"{session.path}: {s.label()} at {s.rate_hz} Hz is not a whole number "
                              "of samples per millisecond")
    runs = sorted({run for run, _ in keys})
    return Layout(runs, signals, record_ms / 1000, stim_ms / 1000, keys)


def _signal_data(lay: Layout, key: SignalKey) -> np.ndarray:
    per = round(lay.record_s * key.rate_hz)
    data = np.zeros(per * len(lay.runs), dtype=np.float64)
    for i, run in enumerate(lay.runs):
        a = lay.averages.get((run, key))
        if a is None:
            continue
        wave = a.load().astype(np.float64)
        start = i * per + round(lay.stim_s * key.rate_hz) - a.pre
        data[start:start + len(wave)] = wave[: per * (i + 1) - start]
    return data


def _prefiltering(session: Session, lay: Layout, key: SignalKey) -> str:
    """The band the unit filtered the signal's sweeps with, in EDF+'s form
    ("HP:30Hz LP:1000Hz"), as its first run recorded it."""
    run = next((r for r, k in lay.averages if k == key), None)
    band = tables.record_of(session, run, key.stream).get("band") if run is not None else None
    if isinstance(band, list | tuple) and len(band) == 2:
        return f"HP:{band[0]:g}Hz LP:{band[1]:g}Hz"
    return ""


def _describe(e: dict[str, Any]) -> str:
    keep = ("stream", "name", "ch", "reason", "cause", "outcome")
    detail = ", ".join(f"{k} {e[k]}" for k in keep if e.get(k) is not None)
    return f"{e.get('kind')}{': ' + detail if detail else ''}"


def _alarm_text(a: dict[str, Any], t_s: float | None) -> str:
    what = " ".join(str(a[k]) for k in ("alarm", "stream", "name") if a.get(k) is not None)
    change = f" {a['change_pct']:+.0f}%" if isinstance(a.get("change_pct"), int | float) else ""
    cleared = " cleared" if a.get("cleared") else ""
    return f"ALARM {what}{change}{cleared} ({a.get('label', '')}) run {a.get('run')}{_at(t_s)}"


def _at(t_s: float | None) -> str:
    return "" if t_s is None else f" at case {t_s:.1f} s"


def _run_at(spans: list[RunSpan], t: float | None) -> int:
    if t is None:
        return spans[0].run
    for s in spans:
        if s.start_s is not None and s.start_s <= t and (s.end_s is None or t <= s.end_s):
            return s.run
    later = [s for s in spans if s.start_s is not None and s.start_s > t]
    return later[0].run if later else spans[-1].run


def edf_annotations(session: Session, lay: Layout, tl: Timeline) -> list[tuple[float, str]]:
    """(onset on the file's time axis, text), in time order."""
    out: list[tuple[float, str]] = []
    spans = {r.run: r for r in tl.runs}
    for k in lay.runs:
        span = spans.get(k)
        name = span.name if span else f"run {k}"
        pulses = f", {span.pulses} pulses" if span and span.pulses else ""
        out.append((lay.record_start(k), f"Run {k} {name}{pulses}{_at(span.start_s if span else None)}"))
        out.append((lay.stimulus(k), f"Stimulus run {k} {name}"))
    # An event belongs to the run it names, or else to the run in progress
    # at its case time, or the next to start (arming precedes a run), or the last.
    spans_in = sorted((r for r in tl.runs if r.start_s is not None and r.run in lay.runs),
                      key=lambda r: float(r.start_s or 0.0))
    for e in session.events:
        t = tl.event_s(e)
        named = e.get("run")
        if isinstance(named, int) and named in lay.runs:
            run = named
        else:
            run = _run_at(spans_in, t) if spans_in else lay.runs[0]
        if e.get("kind") == "alarm":
            lat = e.get("value_ms")
            at = lay.stimulus(run) + (float(lat) / 1000 if isinstance(lat, int | float)
                                      and 0 <= float(lat) / 1000 < lay.record_s - lay.stim_s else 0.0)
            out.append((at, _alarm_text(e, t)))
        elif e.get("kind") not in ("started",):  # "started" is the run's own annotation
            out.append((lay.record_start(run), f"{_describe(e)}{_at(t)}"))
    return sorted(out, key=lambda x: x[0])


def _start(session: Session) -> datetime | None:
    try:
        return datetime.fromisoformat(str(session.info.get("created")).replace("Z", "+00:00"))
    except ValueError:
        return None


def _code(v: Any) -> str:
    """An EDF+ recording field: no spaces, X for unknown."""
    s = "_".join(str(v).split()) if v not in (None, "") else "X"
    return s.encode("ascii", "replace").decode("ascii")


def write_edf(session: Session, path: str | Path) -> Path:
    """The session's averages and annotations as an EDF+ file at path."""
    from edfio import Edf, EdfAnnotation, EdfSignal, Recording

    out = Path(path)
    lay = layout(session)
    tl = Timeline(session)
    signals = []
    for key in lay.signals:
        data = _signal_data(lay, key)
        bound = _ceil_sig(float(np.max(np.abs(data))) if data.size else 0.0)
        signals.append(EdfSignal(data, key.rate_hz, label=key.label(), physical_dimension="uV",
                                 physical_range=(-bound, bound), prefiltering=_prefiltering(session, lay, key)))
    start = _start(session)
    unit = session.info.get("unit") or {}
    recording = Recording(startdate=start.date() if start else None,
                          equipment_code=_code(f"StimBox_{unit.get('board', 'X')}_{unit.get('serial', 'X')}"),
                          additional=[_code(f"build_{str(unit.get('build', 'X'))[:12]}")])
    edf = Edf(signals, recording=recording, starttime=start.time().replace(tzinfo=None) if start else None,
              data_record_duration=lay.record_s,
              annotations=[EdfAnnotation(t, None, text) for t, text in edf_annotations(session, lay, tl)])
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        edf.write(out)
    except OSError as e:
        raise ExportError(f"cannot write {out}: {e.strerror or e}") from None
    return out
