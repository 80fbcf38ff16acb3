"""The validation's record: summary.json (and report.html) in the out folder."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from stimbox.validation.checks import counts
from stimbox.validation.context import Context


def build(ctx: Context, started: datetime, duration_s: float, serial: str | None,
          name: str | None) -> dict[str, Any]:
    info = ctx.info
    n = counts(ctx.checks)
    return {
        "unit": {"board": info.get("board"), "serial": info.get("serial") or serial,
                 "firmware": info.get("fw"), "build": info.get("build"), "port": info.get("port"),
                 "name": name},
        "phantom": ctx.phantom.as_dict(),
        "tolerances": {"file": str(ctx.tol.file), "board": ctx.tol.board},
        "date": started.astimezone(timezone.utc).isoformat(timespec="seconds"),
        "duration_s": round(duration_s, 2),
        "outcome": "FAIL" if n["FAIL"] else "PASS",
        "counts": n,
        "checks": [c.as_dict() for c in ctx.checks],
        "traces": ctx.traces,
        "averages": ctx.averages,
    }


def write(summary: dict[str, Any], out: Path) -> list[str]:
    """summary.json and report.html into out; returns notes for the user
    (a report that could not be written says why)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    try:
        from stimbox.validation.report import write_html
    except ImportError:
        return [f"report.html not written: this installation has no report writer "
                f"(stimbox.validation.report); the record is {out / 'summary.json'}"]
    write_html(summary, out / "report.html")
    return []


def now() -> datetime:
    return datetime.now(timezone.utc)
