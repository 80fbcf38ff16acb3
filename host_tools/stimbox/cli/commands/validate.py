"""stimbox validate: a unit into a phantom load, PASS/FAIL per check."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from stimbox.cli import output
from stimbox.cli.exitcodes import CheckFailed

NAME = "validate"


def add(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME, help="validate a unit into a phantom load: PASS/FAIL per check",
        description="Run the validation suite on a unit connected to a phantom load: every output's "
        "delivered amplitude, charge and width over a grid of settings, timing, biphasic charge "
        "balance, load faults, and the recording chain against a known signal. Prints each check "
        "(requested, measured, tolerance, PASS/FAIL/SKIP) and a verdict; exit status 1 on any FAIL; "
        "with -q only the failures and the verdict. See docs/VALIDATION.md.")
    p.add_argument("--out", type=Path, help="folder for summary.json and report.html")
    p.add_argument("--phantom", type=Path, metavar="FILE",
                   help="phantom file: the lab's loads and phantom box (default: the board's bench phantom)")
    p.add_argument("--load-ohm", type=float, metavar="OHMS", help="one resistor of OHMS on every output")
    p.add_argument("--tolerances", type=Path, metavar="FILE",
                   help="tolerance file (default: boards/<board>/validation.toml)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from stimbox.client import StimBox
    from stimbox.validation import run_validation
    from stimbox.validation.checks import Check, line

    failed: list[Check] = []

    def show(c: Check) -> None:
        if c.outcome == "FAIL":
            failed.append(c)
        if not args.quiet and not args.json:
            print(line(c), flush=True)

    notes: list[str] = []
    with StimBox.connect(args.port) as box:
        summary: dict[str, Any] = run_validation(box, args.phantom, args.out, load_ohm=args.load_ohm,
                                                 tolerance_file=args.tolerances, on_check=show, notes=notes)
    if args.json:
        output.emit_json(summary)
    else:
        if args.quiet:
            for c in failed:  # with their figures: a quiet run still says why
                print(line(c))
        u, n = summary["unit"], summary["counts"]
        print(f"{summary['outcome']}: unit {u['serial']} ({u['board']}, firmware {u['firmware']} build "
              f"{str(u['build'])[:16]}) into {summary['phantom']['name']}: {n['PASS']} PASS, {n['FAIL']} FAIL, "
              f"{n['SKIP']} SKIP in {summary['duration_s']:.1f} s"
              + (f"; record in {args.out}" if args.out else ""))
    for note in notes:
        print(f"stimbox: {note}", file=sys.stderr)
    if summary["outcome"] != "PASS":
        raise CheckFailed(f"validation {summary['outcome']}: {summary['counts']['FAIL']} checks failed")
    return 0
