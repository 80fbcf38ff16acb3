"""stimbox deploy: build, flash and verify the firmware."""

from __future__ import annotations

import argparse
import sys

from stimbox.cli import output

NAME = "deploy"


def add(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME,
        help="build, flash and verify the firmware",
        description="Compile the firmware with mpy-cross for the unit's board, copy it with "
        "mpremote, reboot the unit and check that it runs exactly that build.",
    )
    p.add_argument("--board", help="board folder name (default: what the unit reports)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from stimbox import discovery
    from stimbox.deploy import deploy

    port = discovery.resolve(args.port)
    quiet = args.quiet or args.json
    r = deploy(port, board=args.board, log=(lambda s: None) if quiet else (lambda s: print(s, file=sys.stderr)))
    if args.json:
        output.emit_json(dict(vars(r), verified=True))
    else:
        print(f"deployed build {r.slot} to {r.port} ({r.board}) in {r.seconds:.1f} s; build hash verified")
    return 0
