"""stimbox events: the unit's journal since the last acknowledgement."""

from __future__ import annotations

import argparse
from typing import Any

from stimbox.cli import output

NAME = "events"


def add(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="show the unit's journal since the last acknowledgement, "
                       "and acknowledge it")
    p.add_argument("--keep", action="store_true", help="do not acknowledge: show them again next time")
    p.add_argument("--ack", action="store_true", help=argparse.SUPPRESS)  # the default now
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from stimbox.client import StimBox, join_parts
    from stimbox.errors import DeviceError

    refused = None
    with StimBox.connect(args.port) as box:
        first = box.records()
        recs = list(first.records)
        page = first
        while page.more:
            page = box.records(page.next)
            recs.extend(page.records)
        recs = join_parts(recs)
        # Acknowledge what was shown (and, with --json, printed): the unit
        # may then reuse its room. While another host holds the unit's
        # session, only that host may.
        acked = first.acked
        if recs and not args.keep:
            try:
                acked = box.ack(page.next)
            except DeviceError as e:
                if e.name != "not_owner":
                    raise
                refused = str(e)
    if args.json:
        output.emit_json({"records": recs, "acked": acked, "last_seq": page.last_seq,
                          "lost": page.lost, "ack_refused": refused})
        return 0
    for r in recs:
        print(record_line(r))
    print(f"{len(recs)} records since seq {first.acked}; acknowledged up to {acked}"
          + (f"; {page.lost} lost to an overflow since boot" if page.lost else ""))
    if refused:
        print(f"not acknowledged: {refused}")
    return 0


def record_line(r: dict[str, Any]) -> str:
    kind = r.get("type")
    if kind == "pulses":
        n = len(r["amp"])
        # Pulses the boot reconciliation added (fired, never read back) have no charge.
        unverified = sum(1 for q in r["q_nc"] if q is None)
        flagged = sum(1 for f in r["flags"] if f) - unverified
        return (f"{r['seq']:>6} pulses      run {r['run']} pulses {r['first']}..{r['first'] + n - 1}: "
                f"{sum(q for q in r['q_nc'] if q is not None) / 1000:.1f} uC"
                f"{f', {flagged} flagged' if flagged else ''}"
                f"{f', {unverified} unverified (fired, not read back)' if unverified else ''}")
    if kind == "result":
        return (f"{r['seq']:>6} result      run {r.get('run')}: {r.get('outcome')}, "
                f"{r.get('done')}/{r.get('total')} pulses, {r.get('charge_nc', 0) / 1000:.1f} uC"
                + (f", {r['unverified']} unverified" if r.get("unverified") else "")
                + (f" ({r['incomplete']})" if "incomplete" in r else ""))
    if kind == "segment":
        n = len(r["out"])
        return (f"{r['seq']:>6} segment     run {r['run']} pulses {r['first']}..{r['first'] + n - 1} "
                f"handed to the output stage")
    if kind == "part":
        return f"{r['seq']:>6} (part {r['part']} of the record at seq {r['of']})"
    if kind == "missing":
        return f"{r['seq']:>6} (missing: lost to a crash or an overflow of the ring)"
    rest = " ".join(f"{k}={v}" for k, v in sorted(r.items())
                    if k not in ("seq", "kind", "t_ms", "type") and v is not None)
    return f"{r['seq']:>6} {r.get('t_ms', 0) / 1000:10.3f} s  {r.get('kind', '?'):<16} {rest}"
