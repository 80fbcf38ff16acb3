"""Run time of `stimbox validate` on a default simulated unit (fast mode),
on each MicroPython runtime: the whole suite through the real CLI entry
point, the unit started beforehand (its start-up is not counted). Prints
the wall time, the checks by outcome and the runs' count per runtime; the
goal is under 60 s.

    .venv/bin/python bench/bench_validate.py [--runtime unix|mcu32|both]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from mpy import HAVE_MCU32, MCU32, MICROPYTHON, NO_MCU32  # noqa: E402
from simunit.supervisor import SimUnit  # noqa: E402
from stimbox.build import build_image, install_offline  # noqa: E402
from stimbox.cli import main  # noqa: E402

GOAL_S = 60.0


def one(runtime: str, exe: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["STIMBOX_SIM_HOME"] = str(Path(tmp) / "home")
        unit = SimUnit(micropython=exe)
        install_offline(build_image("sim", Path(tmp) / "image", arch=unit.runtime.mpy_arch), unit.flash)
        with unit:
            out = Path(tmp) / "out"
            t0 = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                status = main(["validate", "--port", unit.port, "--out", str(out), "-q"])
            wall = time.perf_counter() - t0
        s = json.loads((out / "summary.json").read_text())
    n = s["counts"]
    print(f"{runtime:>6}: {wall:5.1f} s wall ({s['duration_s']:.1f} s in the suite), "
          f"{s['outcome']} (exit {status}): {n['PASS']} PASS, {n['FAIL']} FAIL, {n['SKIP']} SKIP; "
          f"{len(s['traces'])} cell traces, {len(s['averages'])} averages; goal < {GOAL_S:.0f} s: "
          f"{'met' if wall < GOAL_S else 'MISSED'}", flush=True)


def run() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runtime", choices=("unix", "mcu32", "both"), default="both")
    args = ap.parse_args()
    if args.runtime in ("unix", "both"):
        one("unix", MICROPYTHON)
    if args.runtime in ("mcu32", "both"):
        if HAVE_MCU32:
            one("mcu32", MCU32)
        else:
            print(f" mcu32: skipped ({NO_MCU32})")


if __name__ == "__main__":
    run()
