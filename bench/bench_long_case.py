"""The long case (stimbox.longcase): hours of monitoring on a simulated unit,
on each runtime: free-run EMG on 16 channels throughout, median and tibial
SSEP every 3 min, TcMEP every 5 min over 40 distinct amplitudes, a pedicle
screw tEMG search every 30 min, one host kill and reconnect in the middle.
Prints the heap after the runs and its slope over the second half, the
largest free block (at the start, the least after a run, after the last), the
journal's sequence numbers, results per run, pulses delivered vs recorded,
wall time against the virtual time covered, and the CPU time of the
firmware's process and of the simulator's.

    .venv/bin/python bench/bench_long_case.py [--hours 4] [--runtime unix|mcu32|both]
        [--heap-mcu32 192k] [--heap-unix 320k] [--verbose]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from mpy import HAVE_MCU32, MCU32, MICROPYTHON, NO_MCU32  # noqa: E402
from simunit.supervisor import SimUnit  # noqa: E402
from stimbox import runtime  # noqa: E402
from stimbox.build import build_image, install_offline  # noqa: E402
from stimbox.client import StimBox  # noqa: E402
from stimbox.longcase import CaseConfig, CaseReport, LongCase  # noqa: E402


def one(label: str, exe: str, heap: str | None, cfg: CaseConfig, verbose: bool) -> CaseReport | None:
    rt = runtime.probe(exe)
    # The tick counter starts a minute before it wraps (2**30 us on the
    # 32-bit runtime, which then wraps every 17.9 min; 2**62 on the 64-bit
    # port), so every case crosses a wrap early on.
    ticks_start_us = rt.ticks_period - 60_000_000
    with tempfile.TemporaryDirectory() as tmp:
        image = build_image("sim", Path(tmp) / "image", arch=rt.mpy_arch)
        unit = SimUnit(flash=Path(tmp) / "flash", micropython=exe, heap=heap, seed=1,
                       ticks_start_us=ticks_start_us)
        install_offline(image, unit.flash)
        print(f"\n{label}: {exe}, heap {unit.heap}", flush=True)
        # CPU time, which other work on the machine changes far less than
        # wall time: the firmware's process (a child, counted once it has
        # ended) and this one (model, its server, the host).
        own0, child0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        with unit:
            case = LongCase(unit, cfg, say=(lambda s: print("  " + s, flush=True)) if verbose else None)
            try:
                rep = case.run()
            except Exception as e:
                print(f"  FAILED after {len(case.report.runs)} runs: {type(e).__name__}: {e}")
                for ev in case.report.events()[-8:]:
                    print(f"    event (stored) {ev}")
                try:
                    with StimBox.connect(unit.port) as box:
                        for ev in [r for r in box.all_records(case.stored) if r["type"] == "event"][:12]:
                            print(f"    event {ev}")
                except Exception as e2:  # the unit may be unreachable
                    print(f"    (no events: {type(e2).__name__}: {e2})")
                return None
    own1, child1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    fw = child1.ru_utime + child1.ru_stime - child0.ru_utime - child0.ru_stime
    sim = own1.ru_utime + own1.ru_stime - own0.ru_utime - own0.ru_stime
    for line in rep.summary().splitlines():
        print("  " + line)
    print(f"  CPU: firmware process {fw:.1f} s, simulator process (model, host) {sim:.1f} s, "
          f"from the unit's start to its stop")
    bad = rep.verdict()
    print("  verdict: " + ("PASS (nothing lost, heap flat)" if not bad else "FAIL"))
    for b in bad:
        print(f"    failed: {b}")
    return rep if not bad else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=4.0)
    ap.add_argument("--runtime", choices=("unix", "mcu32", "both"), default="both")
    ap.add_argument("--heap-mcu32", default="192k", help="the board heap (the firmware runs from ROMFS)")
    ap.add_argument("--heap-unix", default=None, help="default: the unit's (384k)")
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    cfg = CaseConfig(duration_s=args.hours * 3600, freerun_channels=args.channels)
    print(f"case: {args.hours} h, {cfg}")
    ok = True
    if args.runtime in ("mcu32", "both"):
        if HAVE_MCU32:
            ok &= one("board-like (32-bit, float32, ulab)", MCU32, args.heap_mcu32, cfg, args.verbose) is not None
        else:
            print(NO_MCU32)
    if args.runtime in ("unix", "both"):
        ok &= one("PyPI Unix port (64-bit)", MICROPYTHON, args.heap_unix, cfg, args.verbose) is not None
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
