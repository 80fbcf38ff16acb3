"""stimbox ports: the units this host can see."""

from __future__ import annotations

import argparse
import sys

from stimbox.cli import output

NAME = "ports"


def add(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="list the units this host can see",
                       description="List USB units (by the USB product or serial string, or own "
                       "VID:PID, their board's USB_MATCH declares) and running simulated units. "
                       "Does not open them.")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from stimbox import discovery

    found = discovery.candidates()
    if args.json:
        output.emit_json({"ports": [{"port": port, "what": what} for port, what in found]})
        return 0
    for port, what in found:
        print(f"{port}  {what}")
    if not found:
        print("no units found", file=sys.stderr)
    return 0
