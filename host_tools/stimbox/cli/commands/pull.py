"""stimbox pull [--session DIR]: store everything the unit still holds into
a session folder (docs/SESSIONS.md), e.g. after the host that was writing
it crashed: by journal seq, nothing twice, what is missing said."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path

from stimbox.cli import output

NAME = "pull"


def default_dir() -> Path:
    return Path(f"stimbox-session-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}")


def add(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME, help="store what the unit holds into a session folder",
        description="Fetch every journal record the unit still holds into a session folder, by "
        "sequence number (nothing twice), with the last run's averages, and acknowledge them; "
        "say what is missing (gaps, records the unit lost). Completes the folder of a host that "
        "crashed mid-run.")
    p.add_argument("--session", metavar="DIR", type=Path, default=None,
                   help="the session folder to complete (made if absent; default: a new "
                   "./stimbox-session-<UTC date-time>/)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from stimbox.client import StimBox
    from stimbox.store import SessionFolder, pull_session

    path: Path = args.session or default_dir()
    with StimBox.connect(args.port) as box:
        with SessionFolder.open_or_create(path, box.info(), box.port) as folder:
            report = pull_session(box, folder)
    if args.json:
        output.emit_json(dict(report.as_dict(), session=str(path)))
    else:
        print(f"{path}: {report.line()}")
    return 0
