"""A session's measurements as flat rows (one dict per row, the same keys in
every row of a table): what the CSV files hold and the case report's tables
and trend plots show. Every figure is the unit's own (its result records,
per-trial MEP records and alarm events); nothing is measured again here.

- measurements: per run, per recorded stream, per component (an averaged
  evoked potential's latency and amplitude), per muscle (a TcMEP's
  peak-to-peak, with its trials' median onset) and per muscle of a
  triggered-EMG threshold search;
- mep_trials: per TcMEP train, per muscle;
- baselines: per protocol, stream and measure, the averages the unit took
  as its baseline and their mean (the unit's baseline: docs/ALARMS.md, rule 1);
- alarms, events: with their case time.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from typing import Any

from stimbox.export.timeline import Timeline
from stimbox.store import Session

MEASUREMENT_COLUMNS = (
    "run", "t_s", "protocol", "type", "stream", "kind", "name", "ch", "lat_ms", "lat2_ms",
    "amp_uv", "noise_uv", "sweeps", "reliable", "trials", "present", "train_ms", "threshold_ma",
    "baseline_state", "baseline_run",
)
TRIAL_COLUMNS = ("run", "trial", "seq", "muscle", "ch", "present", "onset_ms", "pp_uv",
                 "area_uvms", "threshold_uv", "saturated", "train_ms")
BASELINE_COLUMNS = ("protocol", "stream", "kind", "name", "ch", "runs", "lat_ms", "amp_uv")
ALARM_COLUMNS = ("t_s", "seq", "run", "alarm", "modality", "stream", "name", "ch", "label",
                 "baseline_uv", "value_uv", "change_pct", "limit_pct", "baseline_ms", "value_ms",
                 "value_ma", "limit_ma", "averages", "cleared", "reason")
EVENT_COLUMNS = ("t_s", "seq", "source", "kind", "run", "detail")


def _round(v: Any, digits: int = 4) -> Any:
    return round(v, digits) if isinstance(v, float) else v


def _median(xs: Iterable[float]) -> float | None:
    xs = list(xs)
    return statistics.median(xs) if xs else None


def _results(session: Session) -> list[dict[str, Any]]:
    return sorted((r for r in session.results if isinstance(r.get("run"), int)), key=lambda r: r["run"])


def measurements(session: Session, timeline: Timeline | None = None) -> list[dict[str, Any]]:
    tl = timeline or Timeline(session)
    trials: dict[tuple[int, int], list[dict[str, Any]]] = {}
    trains: dict[int, list[float]] = {}
    for t in session.meps:
        if isinstance(t.get("train_ms"), int | float):
            trains.setdefault(int(t["run"]), []).append(float(t["train_ms"]))
        for m in t.get("muscles") or []:
            trials.setdefault((int(t["run"]), int(m["ch"])), []).append(m)
    rows: list[dict[str, Any]] = []
    for res in _results(session):
        run = int(res["run"])
        span = tl.run(run)
        base = {"run": run, "t_s": _round(span.start_s if span else None, 3),
                "protocol": span.name if span else res.get("protocol_name"),
                "type": span.type if span else res.get("type")}

        def add(base: dict[str, Any] = base, **fields: Any) -> None:
            row = dict.fromkeys(MEASUREMENT_COLUMNS)
            row.update(base)
            row.update({k: _round(v) for k, v in fields.items()})
            rows.append(row)

        for s in (res.get("recording") or {}).get("streams") or []:
            state = {"stream": s.get("stream"), "baseline_state": s.get("baseline_state"),
                     "baseline_run": s.get("baseline_run")}
            for c in s.get("components") or []:
                add(**state, kind="component", name=c.get("name"), ch=c.get("ch"),
                    lat_ms=c.get("lat_ms"), lat2_ms=c.get("lat2_ms"), amp_uv=c.get("amp_uv"),
                    noise_uv=c.get("noise_uv"), sweeps=c.get("sweeps"), reliable=c.get("reliable"))
            for m in s.get("mep") or []:
                ts = trials.get((run, int(m["ch"])), [])
                onsets = [float(t["onset_ms"]) for t in ts if t.get("present") and t.get("onset_ms") is not None]
                add(**state, kind="mep", name=m.get("name"), ch=m.get("ch"), amp_uv=m.get("pp_uv"),
                    lat_ms=_median(onsets), trials=len(ts) or None, train_ms=_median(trains.get(run, [])),
                    present=sum(1 for t in ts if t.get("present")) if ts else None)
        search = res.get("search")
        if isinstance(search, dict):
            proto = protocol_of(session, run)
            muscles = proto.get("muscles") or []
            chans = (proto.get("record") or {}).get("channels") or []
            for k, t in enumerate(search.get("thresholds") or []):
                add(kind="threshold", name=muscles[k] if k < len(muscles) else f"muscle {k}",
                    ch=chans[k] if k < len(chans) else None,
                    threshold_ma=None if t is None else float(t) / 1000)
    return rows


def protocol_of(session: Session, run: int) -> dict[str, Any]:
    """The protocol a run ran (as its session folder keeps it), or {}."""
    h = (session.runs.get(str(run)) or {}).get("protocol_hash")
    return dict((session.protocols.get(str(h)) or {}).get("protocol") or {})


def record_of(session: Session, run: int, stream: str) -> dict[str, Any]:
    """The record table a run's stream was recorded with: its site's (SSEP
    sides are streams named after their sites) or the protocol's."""
    proto = protocol_of(session, run)
    for site in proto.get("sites") or []:
        if site.get("site") == stream and isinstance(site.get("record"), dict):
            return dict(site["record"])
    return dict(proto.get("record") or {})


def muscle_names(session: Session, run: int) -> dict[int, str]:
    """Channel -> muscle of a TcMEP run's record table (the journal's MEP
    records give channels alone)."""
    rec = protocol_of(session, run).get("record") or {}
    names = (rec.get("mep") or {}).get("muscles") or []
    return {int(c): str(n) for c, n in zip(rec.get("channels") or [], names, strict=False)}


def mep_trials(session: Session) -> list[dict[str, Any]]:
    rows = []
    names: dict[int, dict[int, str]] = {}
    for t in sorted(session.meps, key=lambda t: (int(t["run"]), int(t["trial"]))):
        run = int(t["run"])
        if run not in names:
            names[run] = muscle_names(session, run)
        for m in t.get("muscles") or []:
            rows.append({"run": t["run"], "trial": t["trial"], "seq": t.get("seq"),
                         "muscle": m.get("name") or names[run].get(int(m["ch"])), "ch": m.get("ch"), "present": m.get("present"),
                         "onset_ms": m.get("onset_ms"), "pp_uv": m.get("pp_uv"),
                         "area_uvms": m.get("area_uvms"), "threshold_uv": m.get("threshold_uv"),
                         "saturated": m.get("saturated"), "train_ms": t.get("train_ms")})
    return rows


def baselines(session: Session, rows: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Per protocol and stream, the runs that made its baseline (from the run
    that started it to the first whose stream says "set") and, per measure,
    their mean: what the unit compares later runs with."""
    rows = measurements(session) if rows is None else rows
    by_stream: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
    for r in rows:
        if r["kind"] in ("component", "mep"):
            by_stream.setdefault((r["protocol"], r["stream"]), []).append(r)
    out = []
    for (protocol, stream), rs in by_stream.items():
        runs = sorted({r["run"] for r in rs})
        sets = [r for r in rs if r["baseline_state"] == "set" and r["baseline_run"] is not None]
        if not sets:
            continue
        first = min(sets, key=lambda r: r["run"])
        used = [run for run in runs if first["baseline_run"] <= run <= first["run"]]
        measures: dict[tuple[Any, Any, Any], list[dict[str, Any]]] = {}
        for r in rs:
            if r["run"] in used:
                measures.setdefault((r["kind"], r["name"], r["ch"]), []).append(r)
        for (kind, name, ch), ms in measures.items():
            lats = [m["lat_ms"] for m in ms if m["lat_ms"] is not None]
            amps = [m["amp_uv"] for m in ms if m["amp_uv"] is not None]
            out.append({"protocol": protocol, "stream": stream, "kind": kind, "name": name, "ch": ch,
                        "runs": " ".join(str(m["run"]) for m in ms),
                        "lat_ms": _round(statistics.fmean(lats)) if lats else None,
                        "amp_uv": _round(statistics.fmean(amps)) if amps else None})
    return out


def alarms(session: Session, timeline: Timeline | None = None) -> list[dict[str, Any]]:
    tl = timeline or Timeline(session)
    return [{k: _round(a.get(k), 3 if k == "t_s" else 4) for k in ALARM_COLUMNS} for a in tl.alarms()]


def events(session: Session, timeline: Timeline | None = None) -> list[dict[str, Any]]:
    tl = timeline or Timeline(session)
    skip = {"t_ms", "t", "seq", "source", "kind", "run", "type"}
    rows = []
    for e in session.events:
        detail = {k: v for k, v in e.items() if k not in skip}
        t = tl.event_s(e)
        rows.append({"t_s": None if t is None else round(t, 3), "seq": e.get("seq"),
                     "source": e.get("source") or "unit", "kind": e.get("kind") or e.get("type"),
                     "run": e.get("run"),
                     "detail": json.dumps(detail, separators=(",", ":"), sort_keys=True) if detail else ""})
    return rows
