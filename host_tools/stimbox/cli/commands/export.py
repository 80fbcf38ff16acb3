"""`stimbox export DIR [--edf FILE] [--csv DIR] [--plots DIR]`: a session
folder's averages and annotations as EDF+, its tables as CSV, its figures as
PNG (docs/EXPORT.md). Without any of the three, all of them under
DIR/export/. Global options used: --json."""

from __future__ import annotations

import argparse
from pathlib import Path

from stimbox.cli import output

NAME = "export"
DEFAULT_DIR = "export"


def add(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME, help="export a session folder as EDF+, CSV and PNG plots",
        description="Write a session folder's averaged traces with stimulus, alarm and event "
        "annotations as EDF+ (--edf), its measurements, baselines, MEP trials, alarms and events "
        "as CSV files (--csv) and its plots as PNG files (--plots). With none of them given, all "
        f"three go under DIR/{DEFAULT_DIR}/.")
    p.add_argument("session", metavar="DIR", type=Path, help="the session folder")
    p.add_argument("--edf", metavar="FILE", type=Path, help="the EDF+ file to write")
    p.add_argument("--csv", metavar="DIR", type=Path,
                   help="the folder for the CSV files (a path ending in .csv: the measurements alone)")
    p.add_argument("--plots", metavar="DIR", type=Path, help="the folder for the PNG plots")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from stimbox.display import write_plots
    from stimbox.export.csv import write_csv
    from stimbox.export.edf import write_edf
    from stimbox.store import load_session

    session = load_session(args.session)
    edf, csv, plots = args.edf, args.csv, args.plots
    if edf is None and csv is None and plots is None:
        out = args.session / DEFAULT_DIR
        edf, csv, plots = out / "case.edf", out / "csv", out / "plots"
    written: dict[str, list[str]] = {}
    if edf is not None:
        written["edf"] = [str(write_edf(session, edf))]
    if csv is not None:
        written["csv"] = [str(p) for p in write_csv(session, csv)]
    if plots is not None:
        written["plots"] = [str(p) for p in write_plots(session, plots)]
    if args.json:
        output.emit_json(written)
    else:
        for kind, paths in written.items():
            print(f"{kind}: {paths[0] if len(paths) == 1 else f'{len(paths)} files in {Path(paths[0]).parent}'}")
    return 0
