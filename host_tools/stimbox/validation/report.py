"""The validation report: one self-contained HTML file a lab can read, print
and sign. It names the unit, the phantom, the date and the outcome, lists
every check (requested, measured, tolerance, outcome, source; a FAIL marked,
a SKIP with its reason) and embeds the figures (plots.py) as PNG data URIs,
so the file needs nothing but itself: no scripts, fonts or images from
elsewhere.

    python -m stimbox.validation.report OUT_DIR_OR_SUMMARY_JSON [-o report.html]
"""

from __future__ import annotations

import argparse
import json
import sys
from html import escape
from pathlib import Path
from typing import Any

from stimbox.display.html import facts, figure, num, page, text
from stimbox.validation import plots

FAILS_LISTED = 8  # under the outcome; the table marks every one
GROUP_TITLES = {
    "output": "Output: amplitude, charge and width across each output's range",
    "timing": "Timing: onset, jitter, rate, train",
    "biphasic": "Biphasic charge balance",
    "faults": "Faults: open, short, compliance",
    "recording": "Recording chain: gain, latency, amplitude, noise, mains",
}

CSS = """
.outcome { display: inline-block; font-size: 2.6em; font-weight: bold; padding: 0.1em 0.6em;
  border: 4px solid; margin: 0.3em 0; letter-spacing: 0.05em; }
.outcome.PASS { color: #1a7f37; border-color: #1a7f37; }
.outcome.FAIL { color: #c62828; border-color: #c62828; }
.counts { font-size: 1.1em; margin-left: 1em; }
.fails { border-left: 4px solid #c62828; padding: 0.2em 1em; background: #fdf2f2; }
.fails ul { margin: 0.3em 0; padding-left: 1.2em; font-size: 0.9em; }
table.checks { width: 100%; font-size: 0.9em; }
table.checks tr.group td { background: #e8eef8; font-weight: bold; }
tr.FAIL td { background: #fde7e7; }
tr.FAIL td.res { color: #c62828; font-weight: bold; }
tr.SKIP td { color: #666; background: #f6f6f6; }
tr.PASS td.res { color: #1a7f37; }
.sign td { height: 2.4em; min-width: 16em; }
"""


def _band(c: dict[str, Any]) -> str:
    lo, hi, unit = c.get("lo"), c.get("hi"), str(c.get("unit") or "")
    if lo is None and hi is None:
        return ""
    lo_s = "−∞" if lo is None else f"{lo:.6g}"
    hi_s = "+∞" if hi is None else f"{hi:.6g}"
    return f'<br><span class="why">[{escape(lo_s)}, {escape(hi_s)}]{" " + escape(unit) if unit else ""}</span>'


def _unit_section(s: dict[str, Any]) -> str:
    u = s.get("unit") or {}
    t = s.get("tolerances") or {}
    dur = s.get("duration_s")
    return facts([
        ("Board", u.get("board")),
        ("Serial", u.get("serial")),
        ("Firmware", u.get("firmware")),
        ("Build", u.get("build")),
        ("Unit name", u.get("name")),
        ("Port", u.get("port")),
        ("Date (UTC)", s.get("date")),
        ("Duration", None if dur is None else f"{float(dur):.1f} s"),
        ("Tolerances", f"{t.get('file', '—')} (board {t.get('board', '—')})" if t else None),
    ])


def _load_text(spec: Any) -> str:
    """A load or calibrator as "kind, key value, ...": readable, and every field shown."""
    if not isinstance(spec, dict):
        return str(spec)
    head = [str(spec[k]) for k in ("kind", "mode", "source") if k in spec]
    rest = [f"{k} {v}" for k, v in spec.items() if k not in ("kind", "mode", "source")]
    return ", ".join(head + rest)


def _phantom_section(s: dict[str, Any]) -> str:
    ph = s.get("phantom") or {}
    loads = ph.get("loads") or {}
    cal = ph.get("calibrator")
    rows: list[tuple[str, Any]] = [("Phantom", ph.get("name")), ("File", ph.get("file"))]
    rows += [(f"Load on {out}", _load_text(load)) for out, load in loads.items()]
    rows.append(("Calibrator", _load_text(cal) if cal else "none"))
    return facts(rows)


def _failures(checks: list[dict[str, Any]]) -> str:
    """The failed checks in a short list under the outcome: what a reader must act on."""
    fails = [c for c in checks if c.get("outcome") == "FAIL"]
    if not fails:
        return ""
    items = "".join(
        f"<li>{text(c.get('name'))}: measured {num(c.get('measured'), str(c.get('unit') or ''))}"
        f"{', tolerance ' + escape(str(c['tolerance'])) if c.get('tolerance') else ''}"
        f"{' (' + escape(str(c['reason'])) + ')' if c.get('reason') else ''}</li>"
        for c in fails[:FAILS_LISTED])
    if len(fails) > FAILS_LISTED:
        items += f"<li>and {len(fails) - FAILS_LISTED} more, marked in the table</li>"
    return f'<div class="fails"><strong>{len(fails)} failed</strong><ul>{items}</ul></div>'


def _check_row(c: dict[str, Any]) -> str:
    outcome = str(c.get("outcome", ""))
    unit = str(c.get("unit") or "")
    source = text(c.get("source")) if c.get("source") else ""
    reason = f'<br><span class="why">{escape(str(c["reason"]))}</span>' if c.get("reason") else ""
    mark = "✗ " if outcome == "FAIL" else ""
    return (
        f'<tr class="{escape(outcome)}"><td>{text(c.get("name"))}</td>'
        f'<td class="num">{num(c.get("requested"), unit)}</td>'
        f'<td class="num">{num(c.get("measured"), unit)}</td>'
        f'<td>{text(c.get("tolerance")) if c.get("tolerance") else ""}{_band(c)}</td>'
        f'<td class="res">{mark}{escape(outcome)}</td>'
        f"<td>{source}{reason}</td></tr>"
    )


def _checks_table(checks: list[dict[str, Any]]) -> str:
    groups: dict[str, list[dict[str, Any]]] = {}
    for c in checks:
        groups.setdefault(str(c.get("group", "")), []).append(c)
    body = []
    for g, cs in groups.items():
        fails = sum(1 for c in cs if c.get("outcome") == "FAIL")
        note = f" — {fails} FAIL" if fails else ""
        body.append(f'<tr class="group"><td colspan="6">{escape(GROUP_TITLES.get(g, g))}{escape(note)}</td></tr>')
        body += [_check_row(c) for c in cs]
    head = ("<tr><th>Check</th><th>Requested</th><th>Measured</th><th>Tolerance</th>"
            "<th>Outcome</th><th>Source / reason</th></tr>")
    return f'<table class="checks"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table>'


def _error_figures(s: dict[str, Any]) -> str:
    errs = plots.error_figures(s.get("checks") or [])
    if not errs:
        return ""
    return "<h2>Measured against tolerance</h2>" + "".join(
        figure(p, f"{g} errors against tolerance",
                f"{GROUP_TITLES.get(g, g)}: each measured figure's distance from the requested "
                "value in units of its tolerance; the shaded band passes. Red: FAIL.")
        for g, p in errs)


def _trace_figures(s: dict[str, Any]) -> str:
    parts = []
    traces = plots.trace_figures(s.get("traces") or [])
    if traces:
        parts.append("<h2>Delivered pulses</h2>")
        parts += [figure(p, f"{out} pulse traces",
                          f"{out}: the output monitor's trace of one pulse per grid cell (solid) and "
                          "the pulse as requested (dashed).")
                  for out, p in traces]
    av = plots.averages_figure(s.get("averages") or [])
    if av is not None:
        parts.append("<h2>Recording chain</h2>")
        parts.append(figure(av, "recording chain averages",
                             "Each channel's averaged response to the calibrator signal (solid) "
                             "and the signal as put in (dashed), stacked one channel under the next."))
    return "".join(parts)


def _sign_off() -> str:
    rows = "".join(f"<tr><th>{k}</th><td></td></tr>" for k in ("Checked by", "Date", "Signature"))
    return f'<h2>Sign-off</h2><table class="sign">{rows}</table>'


def render(summary: dict[str, Any]) -> str:
    """The report's HTML for a validation summary (summary.json's content)."""
    u = summary.get("unit") or {}
    outcome = str(summary.get("outcome", "?"))
    counts = summary.get("counts") or {}
    count_text = ", ".join(f"{counts.get(k, 0)} {k}" for k in ("PASS", "FAIL", "SKIP"))
    title = f"StimBox validation: {u.get('board', '?')} {u.get('serial', '?')}: {outcome}"
    checks = summary.get("checks") or []
    body = (
        "<h1>StimBox validation report</h1>"
        f'<div><span class="outcome {escape(outcome)}">{escape(outcome)}</span>'
        f'<span class="counts">{escape(count_text)}</span></div>'
        f"{_failures(checks)}"
        '<div class="facts">'
        f"<section><h2>Unit</h2>{_unit_section(summary)}</section>"
        f"<section><h2>Phantom</h2>{_phantom_section(summary)}</section></div>"
        f"{_error_figures(summary)}"
        f"<h2>Checks</h2>{_checks_table(checks)}"
        f"{_trace_figures(summary)}{_sign_off()}"
    )
    return page(title, CSS, body)


def write_html(summary: dict[str, Any], path: Path) -> None:
    """Render summary (as summary.json carries it) into one self-contained HTML file."""
    Path(path).write_text(render(summary), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m stimbox.validation.report",
                                description="Render a validation summary.json as an HTML report.")
    p.add_argument("summary", type=Path, help="summary.json, or the directory that holds it")
    p.add_argument("-o", "--out", type=Path, help="the HTML file (default: report.html beside summary.json)")
    args = p.parse_args(argv)
    src = args.summary / "summary.json" if args.summary.is_dir() else args.summary
    try:
        summary = json.loads(src.read_text(encoding="utf-8"))
    except OSError as e:
        print(f"error: cannot read {src}: {e.strerror or e}", file=sys.stderr)
        return 1
    except json.JSONDecodeError as e:
        print(f"error: {src} is not JSON: {e}", file=sys.stderr)
        return 1
    out = args.out or src.with_name("report.html")
    try:
        write_html(summary, out)
    except OSError as e:
        print(f"error: cannot write {out}: {e.strerror or e}", file=sys.stderr)
        return 1
    except (KeyError, TypeError, ValueError) as e:
        print(f"error: {src} is not a validation summary: {type(e).__name__} {e}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
