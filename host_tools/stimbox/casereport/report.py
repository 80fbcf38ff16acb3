"""The case report: one self-contained HTML file of a session folder (PNG
data URIs, no scripts; the page parts of stimbox.display.html) that a
reader can open, print and file with the case record: the unit and the
case, the alarms first, the case timeline, the plots (stimbox.display),
then tables of baselines, measurements, alarms and events (stimbox.export
tables, the same rows as the CSV files)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from stimbox.display.figure import png
from stimbox.display.html import facts, figure, num, page, text
from stimbox.display.plots import case_figures
from stimbox.export import ExportError, tables
from stimbox.export.timeline import Timeline
from stimbox.store import Session

CSS = """
.alarms { border-left: 4px solid #c62828; padding: 0.2em 1em; background: #fdf2f2; }
.alarms ul { margin: 0.3em 0; padding-left: 1.2em; }
.quiet { border-left: 4px solid #1a7f37; padding: 0.4em 1em; background: #eef7ef; }
table.data { width: 100%; font-size: 0.85em; }
table.data td { overflow-wrap: anywhere; }
tr.alarm td { background: #fde7e7; }
"""
# Columns the report's tables show: (key, heading, unit).
MEASURE_COLS = (("run", "Run", ""), ("t_s", "Case time", "s"), ("protocol", "Protocol", ""),
                ("stream", "Stream", ""), ("name", "Measure", ""), ("ch", "Ch", ""),
                ("lat_ms", "Latency", "ms"), ("amp_uv", "Amplitude", "µV"),
                ("responses", "Trains with a response", ""), ("threshold_ma", "Threshold", "mA"),
                ("baseline_state", "Baseline", ""))
BASELINE_COLS = (("protocol", "Protocol", ""), ("stream", "Stream", ""), ("name", "Measure", ""),
                 ("ch", "Ch", ""), ("runs", "Runs", ""), ("lat_ms", "Latency", "ms"),
                 ("amp_uv", "Amplitude", "µV"))
ALARM_COLS = (("t_s", "Case time", "s"), ("run", "Run", ""), ("alarm", "Alarm", ""),
              ("stream", "Stream", ""), ("name", "Measure", ""), ("ch", "Ch", ""),
              ("baseline", "Baseline", ""), ("value", "Value", ""),
              ("change_pct", "Change", "%"), ("label", "Label", ""), ("reason", "Reason", ""))
DETAIL_CHARS = 160  # an event's other fields in the report; the CSV has them whole
EVENT_COLS = (("t_s", "Case time", "s"), ("seq", "Seq", ""), ("source", "Source", ""),
              ("kind", "Event", ""), ("run", "Run", ""), ("detail", "Detail", ""))


def _table(rows: Sequence[dict[str, Any]], cols: Sequence[tuple[str, str, str]], css: str = "data",
           marked: str | None = None) -> str:
    if not rows:
        return '<p class="why">None.</p>'
    head = "".join(f"<th>{escape(h)}{' (' + escape(u) + ')' if u else ''}</th>" for _, h, u in cols)
    body = []
    for r in rows:
        cls = f' class="{marked}"' if marked and r.get("kind") == marked else ""
        cells = "".join(f'<td class="num">{num(r.get(k), fmt=".4g")}</td>'
                        if isinstance(r.get(k), int | float) and not isinstance(r.get(k), bool)
                        else f"<td>{text(r.get(k))}</td>" for k, _, _ in cols)
        body.append(f"<tr{cls}>{cells}</tr>")
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _with_units(v: Any, unit: str) -> str | None:
    return None if not isinstance(v, int | float) else f"{v:.4g} {unit}"


def _alarm_rows(alarms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each alarm's baseline and value in the unit of its kind: µV, ms (a
    latency) or mA (a tEMG threshold against its limit)."""
    out = []
    for a in alarms:
        base = (_with_units(a.get("baseline_uv"), "µV") or _with_units(a.get("baseline_ms"), "ms")
                or (f"limit {a['limit_ma']:g} mA" if isinstance(a.get("limit_ma"), int | float) else None))
        value = (_with_units(a.get("value_uv"), "µV") or _with_units(a.get("value_ms"), "ms")
                 or _with_units(a.get("value_ma"), "mA"))
        out.append(dict(a, baseline=base, value=value))
    return out


def _measure_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [dict(r, responses=f"{r['present']}/{r['trials']}" if r.get("trials") else None) for r in rows]


def _short(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [dict(e, detail=e["detail"][:DETAIL_CHARS - 1] + "…") if len(e["detail"]) > DETAIL_CHARS else e
            for e in events]


def _alarm_line(a: dict[str, Any]) -> str:
    what = " ".join(str(a[k]) for k in ("alarm", "stream", "name") if a.get(k) is not None)
    change = f", {a['change_pct']:+.0f}%" if isinstance(a.get("change_pct"), int | float) else ""
    when = f"case {a['t_s']:.1f} s, " if isinstance(a.get("t_s"), int | float) else ""
    label = f" ({a['label']})" if a.get("label") else ""
    return escape(f"{what}{change}{label}: {when}run {a.get('run')}")


def _alarm_summary(alarms: list[dict[str, Any]]) -> str:
    if not alarms:
        return '<div class="quiet">No alarm was raised during the case.</div>'
    items = "".join(f"<li>{_alarm_line(a)}</li>" for a in alarms)
    return f'<div class="alarms"><strong>{len(alarms)} alarm{"s" * (len(alarms) != 1)}</strong><ul>{items}</ul></div>'


def _case_facts(session: Session, tl: Timeline) -> str:
    u = session.info.get("unit") or {}
    rt = u.get("runtime") or {}
    unit = facts([
        ("Board", u.get("board")), ("Serial", u.get("serial")), ("Firmware", u.get("fw")),
        ("Build", str(u.get("build") or "")[:16] or None), ("Runtime", rt.get("float") and
                                                            f"{rt.get('bits')}-bit, {rt.get('float')}"),
        ("Port", session.info.get("port")),
    ])
    runs = [r for r in tl.runs]
    case = facts([
        ("Session", session.path.name), ("Created (UTC)", session.info.get("created")),
        ("Updated (UTC)", session.info.get("updated")), ("Case length", f"{tl.end_s():.1f} s"),
        ("Runs", f"{len(runs)} ({', '.join(sorted({r.name for r in runs}))})" if runs else "none"),
        ("Pulses", len(session.pulses)), ("Host", (session.info.get("host") or {}).get("stimbox")),
    ])
    return (f'<div class="facts"><section><h2>Unit</h2>{unit}</section>'
            f"<section><h2>Case</h2>{case}</section></div>")


def report_runs(session: Session, rows: list[dict[str, Any]], alarms: list[dict[str, Any]]) -> list[int]:
    """Runs whose traces the report shows: per protocol the last run of its
    baseline, every run that raised an alarm, and its last run."""
    averaged = {a.run for a in session.averages if a.split == "ab"}
    by_protocol: dict[str, list[int]] = {}
    for r in rows:
        if r["run"] in averaged:
            by_protocol.setdefault(str(r["protocol"]), []).append(int(r["run"]))
    base = tables.baselines(session, rows)
    keep = {int(a["run"]) for a in alarms if isinstance(a.get("run"), int) and a["run"] in averaged}
    for protocol, runs in by_protocol.items():
        keep.add(max(runs))
        used = [int(x) for b in base if b["protocol"] == protocol for x in str(b["runs"]).split()]
        if used:
            keep.add(max(used))
    return sorted(keep)


def render(session: Session) -> str:
    tl = Timeline(session)
    rows = tables.measurements(session, tl)
    alarms = tables.alarms(session, tl)
    figs = list(case_figures(session, runs=report_runs(session, rows, alarms)))
    timeline = [f for f in figs if f.name == "timeline"]
    plots = [f for f in figs if f.name != "timeline" and not f.name.startswith("traces_")]
    traces = [f for f in figs if f.name.startswith("traces_")]

    def fig_html(fs: list[Any]) -> str:
        return "".join(figure(png(f.figure), f.title, f.caption) for f in fs)

    u = session.info.get("unit") or {}
    title = f"StimBox case report: {session.path.name} ({u.get('board', '?')} {u.get('serial', '?')})"
    body = (
        f"<h1>StimBox case report</h1><p>{escape(session.path.name)}</p>"
        f"{_alarm_summary(alarms)}{_case_facts(session, tl)}"
        f"<h2>Case timeline</h2>{fig_html(timeline)}"
        f"<h2>Trends and monitoring</h2>{fig_html(plots)}"
        f"<h2>Averaged traces</h2>"
        '<p class="why">Per protocol: the last run of its baseline, every run that raised an alarm, '
        "and its last run (every run's traces: <code>stimbox export</code>).</p>"
        f"{fig_html(traces)}"
        f"<h2>Baselines</h2>{_table(tables.baselines(session, rows), BASELINE_COLS)}"
        f"<h2>Measurements</h2>{_table(_measure_rows(rows), MEASURE_COLS)}"
        f"<h2>Alarms</h2>{_table(_alarm_rows(alarms), ALARM_COLS)}"
        f"<h2>Events</h2>{_table(_short(tables.events(session, tl)), EVENT_COLS, marked='alarm')}"
    )
    return page(title, CSS, body)


def write_report(session: Session, path: str | Path) -> Path:
    """The case report of session as one HTML file at path."""
    out = Path(path)
    html = render(session)
    try:
        out.write_text(html, encoding="utf-8")
    except OSError as e:
        raise ExportError(f"cannot write {out}: {e.strerror or e}") from None
    return out
