"""python -m stimbox.demo [--out DIR]: the same as `stimbox demo`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stimbox.demo.case import run_demo
from stimbox.errors import StimBoxError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m stimbox.demo", description=__doc__)
    ap.add_argument("--out", type=Path, default=Path("demo-out"), help="output folder (default demo-out)")
    args = ap.parse_args(argv)
    try:
        return run_demo(args.out)
    except StimBoxError as e:
        print(f"stimbox: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # before the case began, or while it was being exported
        print("stimbox: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
