"""Time to validate and compile each example protocol on the device runtime
(MicroPython Unix port, firmware .mpy image) against the same code on CPython
in this run, and against the protocol's own duration; then the smallest heap
in which the largest protocol the limits allow still validates and compiles.

    .venv/bin/python bench/bench_compile.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from simunit.supervisor import DEFAULT_HEAP  # noqa: E402
from stimbox.build import board_module, build_image  # noqa: E402
from stimbox.protocols import examples, load  # noqa: E402
from stimfw.stim import compiler, limits, protocol  # noqa: E402
from stimfw.stim.timeline import Timeline  # noqa: E402

MICROPYTHON = str(Path(sys.executable).with_name("micropython"))
REPEAT = 5
LARGEST = {"type": "ssep", "count": 1250, "rate_hz": 20,
           "sites": [{"site": s} for s in ("l_median", "r_median", "l_tibial", "r_tibial")]}

WORK = """
def work(w, board):
    spec = protocol.normalise(w, board)
    limits.check(spec, board)
    protocol.spec_hash(spec, board.LIMITS["profile"])
    tl = Timeline(32)
    seg = compiler.Segmenter(spec)
    while seg.fill(tl) is not None:
        pass
"""

DEVICE = """
import json, time, board
from stimfw.stim import protocol
from stimfw.stim import limits
from stimfw.stim import compiler
from stimfw.stim.timeline import Timeline
""" + WORK + """
out = []
for w in DATA:
    work(w, board)
    t0 = time.ticks_us()
    for _ in range(REPEAT):
        work(w, board)
    out.append(time.ticks_diff(time.ticks_us(), t0) / REPEAT)
print(json.dumps(out))
"""

LARGEST_RUN = """
import json, gc, board
from stimfw.stim import protocol
from stimfw.stim import limits
from stimfw.stim import compiler
from stimfw.stim.timeline import Timeline
""" + WORK + """
gc.collect()
base = gc.mem_alloc()
work(DATA, board)
print(json.dumps(base))
"""


def mp(code: str, data: object, heap: str, slot: Path) -> subprocess.CompletedProcess[str]:
    src = (f"import sys\nsys.path.insert(0, {str(slot)!r})\nimport json\n"
           f"DATA = json.loads({json.dumps(json.dumps(data))})\nREPEAT = {REPEAT}\n" + code)
    return subprocess.run([MICROPYTHON, "-X", f"heapsize={heap}", "-c", src],
                          capture_output=True, text=True, timeout=300)


def main() -> None:
    board = board_module("sim")
    image = build_image("sim", Path(tempfile.mkdtemp(prefix="bench-compile-")) / "sim")
    wires = [load(p, board) for p in examples()]
    # All the examples at once (their record tables too) in the simulated
    # unit's heap, where the firmware runs them; the memory figure below is
    # for the largest protocol alone in the 96 KB MCU heap.
    r = mp(DEVICE, wires, DEFAULT_HEAP, image.slot_dir)
    if r.returncode:
        sys.exit(r.stdout + r.stderr)
    device_us = json.loads(r.stdout)
    ns: dict[str, object] = {"protocol": protocol, "limits": limits, "compiler": compiler,
                             "Timeline": Timeline}
    exec(WORK, ns)
    work = ns["work"]
    print(f"Validate + hash + compile, each example protocol (heap {DEFAULT_HEAP} on the device runtime)")
    print(f"{'protocol':10} {'pulses':>6} {'device ms':>10} {'CPython ms':>10} "
          f"{'ratio':>6} {'run s':>8} {'compile/run':>11}")
    for p, w, dev in zip(examples(), wires, device_us, strict=True):
        work(w, board)  # type: ignore[operator]
        t0 = time.perf_counter()
        for _ in range(REPEAT):
            work(w, board)  # type: ignore[operator]
        cpy = (time.perf_counter() - t0) / REPEAT * 1e6
        spec = protocol.normalise(w, board)
        run_us = compiler.duration_us(spec)
        print(f"{p.stem:10} {compiler.count_pulses(spec):6d} {dev / 1000:10.2f} "
              f"{cpy / 1000:10.2f} {dev / cpy:6.1f} {run_us / 1e6:8.2f} "
              f"{dev / max(run_us, 1):11.5f}")

    # Smallest heap (KB) in which the largest allowed protocol still goes through.
    lo, hi = 8, 96
    if mp(LARGEST_RUN, LARGEST, f"{hi}k", image.slot_dir).returncode:
        sys.exit("the largest protocol does not compile in 96k")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if mp(LARGEST_RUN, LARGEST, f"{mid}k", image.slot_dir).returncode == 0:
            hi = mid
        else:
            lo = mid
    base = json.loads(mp(LARGEST_RUN, LARGEST, "96k", image.slot_dir).stdout)
    spec = protocol.normalise(LARGEST, board)
    print()
    print(f"Largest allowed protocol ({compiler.count_pulses(spec)} pulses, SSEP 4 sites x 1250 "
          f"at 20 Hz): validates and compiles in a heap of {hi} KB (fails at {lo} KB) "
          f"of the 96 KB MCU heap; {base / 1024:.1f} KB of it is the loaded modules")


if __name__ == "__main__":
    main()
