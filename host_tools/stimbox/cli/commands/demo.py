"""stimbox demo: a whole case on a fresh simulated unit, into one folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from stimbox.cli import output

NAME = "demo"


def add(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME, help="a whole case on a simulated unit: session folder, EDF+, CSV, plots, report",
        description="Start a simulated unit with an empty flash and run a whole case on it: deploy "
        "and verify the firmware, an impedance check, SSEP and TcMEP baselines, free-run EMG "
        "throughout, a pedicle-screw tEMG search with one breached screw, an SCS lead's laterality, "
        "and a cord ischaemia whose MEP and SSEP alarms show as they come. Everything goes into "
        "--out: the session folder, EDF+, CSV, plots and report.html. Exit status 1 when the case "
        "did not come out as its scenario says it must.")
    p.add_argument("--out", type=Path, default=Path("demo-out"), metavar="DIR",
                   help="output folder (default: demo-out; the demo's own files in it are replaced)")
    p.add_argument("--seed", type=int, default=1, help="the simulated patient's random seed (default 1)")
    p.add_argument("--micropython", metavar="PATH",
                   help="MicroPython executable the unit runs on (default: the Unix port beside this Python)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from stimbox.demo.case import demo_case
    from stimbox.demo.summary import summary_lines

    outcome = demo_case(args.out, micropython=args.micropython, seed=args.seed,
                        quiet=args.json or args.quiet)
    if args.json:
        output.emit_json(outcome.as_dict())
    else:
        for line in summary_lines(outcome):
            print(line, flush=True)
    return outcome.exit_code
