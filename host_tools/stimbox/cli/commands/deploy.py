"""stimbox deploy: build, flash and verify the firmware."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stimbox.cli import output
from stimbox.cli.exitcodes import UsageError

NAME = "deploy"


def add(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME,
        help="build, flash and verify the firmware",
        description="Compile the firmware with mpy-cross for the unit's board, copy it with "
        "mpremote, reboot the unit and check that it runs exactly that build. With --dry-run: "
        "build for --board and list what would be copied, without a unit.",
    )
    p.add_argument("--board", help="board folder name (default: what the unit reports)")
    p.add_argument("--dry-run", action="store_true",
                   help="build for --board and list what would be copied (file, size, target "
                   "path on the unit), without a unit")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="with --dry-run: keep the built image in DIR, laid out as the unit's flash")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    if args.dry_run or args.out:
        return run_dry(args)
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


def run_dry(args: argparse.Namespace) -> int:
    from stimbox.deploy import dry_run

    if args.out and not args.dry_run:
        raise UsageError("--out goes with --dry-run (a deploy copies its build to the unit)")
    if not args.board:
        raise UsageError("--dry-run needs --board: without a unit there is no board to ask")
    if args.out and args.out.exists() and any(args.out.iterdir()):
        # The build replaces its output folder: never someone's files.
        raise UsageError(f"--out {args.out}: not an empty folder")
    r = dry_run(args.board, out=args.out)
    if args.json:
        output.emit_json(dict(vars(r), total=r.total))
        return 0
    width = max(len(f.source) for f in r.files)
    for f in r.files:
        print(f"{f.source:<{width}}  {f.size:>7}  :{f.target}")
    kept = f"; image kept in {args.out}" if args.out else ""
    print(f"{len(r.files)} files, {r.total} bytes: build {r.slot} for board {r.board} ({r.arch}); "
          f"nothing copied (dry run){kept}")
    return 0
