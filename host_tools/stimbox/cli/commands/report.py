"""`stimbox report DIR [-o FILE]`: a session folder's case report, one
self-contained HTML file (default DIR/report.html). Global options used:
--json."""

from __future__ import annotations

import argparse
from pathlib import Path

from stimbox.cli import output

NAME = "report"


def add(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME, help="write a session folder's case report (HTML)",
        description="Write the case report of a session folder: alarms, the unit, the case "
        "timeline, trends, TcMEP and free-run EMG plots, averaged traces, and tables of baselines, "
        "measurements, alarms and events, in one HTML file that needs nothing else to open.")
    p.add_argument("session", metavar="DIR", type=Path, help="the session folder")
    p.add_argument("-o", "--out", metavar="FILE", type=Path, help="the HTML file (default DIR/report.html)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from stimbox.casereport import write_report
    from stimbox.store import load_session

    session = load_session(args.session)
    path = write_report(session, args.out or args.session / "report.html")
    if args.json:
        output.emit_json({"report": str(path)})
    else:
        print(path)
    return 0
