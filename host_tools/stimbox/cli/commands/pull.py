"""`stimbox pull [--session DIR]`: store everything the unit still holds
into a session folder (docs/SESSIONS.md), e.g. after the host that was
writing it crashed. Global options used: --port, --json."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path

NAME = "pull"


def default_dir() -> Path:
    return Path(f"stimbox-session-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}")


def add(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME, help="store what the unit holds into a session folder",
        description="Fetch every journal record the unit still holds into a session folder, by "
        "sequence number (nothing twice), with the last run's averages, and acknowledge them. "
        "Say what is missing (gaps, records the unit lost).")
    p.add_argument("--session", metavar="DIR", type=Path, default=None,
                   help="the session folder to complete (made if absent; default: a new "
                   "./stimbox-session-<UTC date-time>/)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from stimbox.client import StimBox
    from stimbox.store import SessionFolder, pull_session

    path: Path = args.session or default_dir()
    with StimBox.connect(getattr(args, "port", "auto")) as box:
        folder = SessionFolder.open_or_create(path, box.info(), box.port)
        with folder:
            report = pull_session(box, folder)
    if getattr(args, "json", False):
        print(json.dumps(dict(report.as_dict(), session=str(path))))
    else:
        print(f"{path}: {report.line()}")
    return 0
