"""stimbox impedance: electrode impedances, PASS/FAIL."""

from __future__ import annotations

import argparse

from stimbox.cli import output
from stimbox.cli.exitcodes import CheckFailed, UsageError

NAME = "impedance"


def add(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="electrode impedance check (kOhm, PASS/FAIL)",
                       description="Measure electrode impedances with the unit's test signal; "
                       "pass at or below --max-kohm, pairs pass at a mismatch at or below "
                       "--mismatch-kohm. Refused while a run is stimulating. Exit status 1 on a FAIL.")
    p.add_argument("electrodes", nargs="*", help="electrode names (default: every recording electrode)")
    p.add_argument("--pair", action="append", default=[], metavar="ACTIVE:REF",
                   help="check the mismatch of this pair (repeatable)")
    p.add_argument("--max-kohm", type=float, default=None, help="limit per electrode (default 5)")
    p.add_argument("--mismatch-kohm", type=float, default=None, help="limit per pair (default 1.5)")
    p.set_defaults(func=run)
    return p


def _pairs(text: list[str]) -> list[tuple[str, str]]:
    out = []
    for t in text:
        a, sep, b = t.partition(":")
        if not sep or not a or not b:
            raise UsageError(f"--pair {t!r}: write ACTIVE:REFERENCE")
        out.append((a, b))
    return out


def run(args: argparse.Namespace) -> int:
    from stimbox.client import StimBox

    pairs = _pairs(args.pair)
    with StimBox.connect(args.port) as box:
        r = box.impedance(args.electrodes or None, pairs, args.max_kohm, args.mismatch_kohm)
    failed = [el["electrode"] for el in r["electrodes"] if not el["pass"]]
    failed += ["-".join(p["pair"]) for p in r["pairs"] if not p["pass"]]
    if args.json:
        output.emit_json(r)
    else:
        for el in r["electrodes"]:
            print(f"{el['electrode']:<8} {el['kohm']:9.2f} kOhm  {'PASS' if el['pass'] else 'FAIL'}"
                  f"  (limit {el['max']} kOhm)")
        for p in r["pairs"]:
            print(f"{p['pair'][0] + '-' + p['pair'][1]:<14} mismatch {p['mismatch_kohm']:8.2f} kOhm  "
                  f"{'PASS' if p['pass'] else 'FAIL'}  (limit {p['max']} kOhm)")
        print("all PASS" if r["pass"] else "FAIL")
    if not r["pass"]:
        raise CheckFailed("impedance FAIL: " + (", ".join(failed) or "see above"))
    return 0
