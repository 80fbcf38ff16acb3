"""Heap figures of the whole firmware, on each runtime in one run:

0. the simulated unit as it runs (the firmware in its ROMFS partition, the
   board's heap): free heap and largest free block at boot, and what the
   ROM mount took and held back (simunit/romflash.py);
1. where the heap goes at boot with the modules loaded into RAM instead (the DSP arena, each layer's modules, the
   objects App() builds), from bench/device/boot_heap.py run against the
   firmware image compiled for that runtime, with the sim HAL's model;
2. the .mpy bytes of the modules loaded at boot: what freezing the firmware
   into a board's flash could move out of RAM at most;
3. the smallest -X heapsize at which the demo's opening session (deploy with
   mpremote, info, plan, a median SSEP run averaged on the unit) completes,
   searched in 8 KB steps.

The board-like runtime (32-bit, float32, real ulab) is the one whose figures
speak for a board; the PyPI Unix port (64-bit objects) is the reference.

    .venv/bin/python bench/bench_memory.py [--no-search]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from mpy import HAVE_MCU32, MCU32, MICROPYTHON  # noqa: E402
from simunit.model import HardwareModel  # noqa: E402
from simunit.modelserver import ModelServer, socket_path  # noqa: E402
from simunit.supervisor import SimUnit  # noqa: E402
from stimbox import runtime  # noqa: E402
from stimbox.build import Image, build_image, install_offline  # noqa: E402
from stimbox.client import StimBox  # noqa: E402
from stimbox.demo.quick import session  # noqa: E402
from stimbox.errors import StimBoxError  # noqa: E402

BOOT_SCRIPT = ROOT / "bench" / "device" / "boot_heap.py"
STEP_KB = 8
RP2040_KB = 192  # an RP2040's free heap: the goal on the board-like runtime


def boot_heap(exe: str, image: Image, heap_kb: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        server = ModelServer(HardwareModel(seed=1), socket_path(Path(tmp)))
        with server:
            env = dict(os.environ, STIMBOX_SIM_MODEL=str(server.path))
            r = subprocess.run([exe, "-X", f"heapsize={heap_kb}k", str(BOOT_SCRIPT),
                                str(image.slot_dir)], capture_output=True, env=env,
                               timeout=60)
    # App() pushes its boot frame (binary) onto stdout before the figures.
    out = r.stdout.decode("utf-8", "replace")
    if r.returncode:
        raise SystemExit(f"{exe}: boot_heap.py failed:\n{out}{r.stderr.decode('utf-8', 'replace')}")
    return json.loads(out.strip().splitlines()[-1])


def rom_boot(exe: str, heap_kb: int) -> dict:
    """The simulated unit as it runs: the firmware in its ROMFS partition
    (simunit/romflash.py) and the board's heap; the free heap and its
    largest block once booted, and what the ROM mount held back."""
    with tempfile.TemporaryDirectory() as tmp:
        rt = runtime.probe(exe)
        image = build_image("sim", Path(tmp) / "image", arch=rt.mpy_arch)
        unit = SimUnit(flash=Path(tmp) / "flash", seed=1, micropython=exe, heap=f"{heap_kb}k")
        install_offline(image, unit.flash)
        with unit, StimBox.connect(unit.port) as box:
            info = box.info()
            rom = unit.rom()
    assert rom is not None
    return {"rom": rom, "free": info["heap_free"], "largest": info["heap_largest"]}


def mpy_bytes(image: Image, loaded: list[str]) -> int:
    total = 0
    for name in loaded:
        rel = name.replace(".", "/")
        for cand in (image.slot_dir / f"{rel}.mpy", image.slot_dir / rel / "__init__.mpy"):
            if cand.exists():
                total += cand.stat().st_size
                break
    return total


def session_runs(exe: str, heap_kb: int) -> bool:
    """The demo's opening session on a fresh unit with an empty flash at this heap."""
    sink = io.StringIO()
    try:
        with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(sink):
            with SimUnit(flash=Path(tmp) / "flash", seed=1, micropython=exe,
                         heap=f"{heap_kb}k") as unit:
                return session(unit, say=lambda s: None) == 0
    except (StimBoxError, OSError, TimeoutError):
        return False


def smallest_heap(exe: str, lo_kb: int, hi_kb: int) -> int | None:
    """Smallest heap in lo..hi (STEP_KB steps) at which the session runs,
    assuming that more heap never hurts."""
    if not session_runs(exe, hi_kb):
        return None
    while hi_kb - lo_kb > STEP_KB:
        mid = (lo_kb + hi_kb) // 2 // STEP_KB * STEP_KB
        if mid <= lo_kb:
            break
        if session_runs(exe, mid):
            hi_kb = mid
        else:
            lo_kb = mid
    return hi_kb


def kb(n: int) -> str:
    return f"{n / 1024:6.1f} KB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-search", action="store_true", help="skip the smallest-heap search")
    args = ap.parse_args()
    # (label, executable, the board heap the unit runs with, the heap the
    # modules are loaded into RAM in for the per-layer figures)
    runtimes = [("PyPI Unix port (64-bit)", MICROPYTHON, 320, 320)]
    if HAVE_MCU32:
        runtimes.insert(0, ("board-like (32-bit, float32, ulab)", MCU32, RP2040_KB, 320))
    else:
        print(f"board-like runtime absent ({MCU32}): its rows are skipped")
    with tempfile.TemporaryDirectory() as tmp:
        for label, exe, board_kb, heap_kb in runtimes:
            rt = runtime.probe(exe)
            image = build_image("sim", Path(tmp) / label.split()[0], arch=rt.mpy_arch)
            r = rom_boot(exe, board_kb)
            rom = r["rom"]
            print(f"\n{label}: {exe}")
            print(f"  as the simulated unit runs: firmware in ROMFS, board heap {board_kb} KB")
            print(f"    ROMFS image {rom['image']} B, in the sim's heap {rom['image_heap']} B "
                  f"(the process heap is larger by that much; residual {rom['residual']} B)")
            print(f"    held back for native code (bound) {rom['native']} B")
            print(f"    free at boot {kb(r['free'])}, largest free block {kb(r['largest'])}")
            b = boot_heap(exe, image, heap_kb)
            frozen = mpy_bytes(image, b["loaded"])
            print(f"  modules loaded into RAM instead (heap {heap_kb} KB), in stimfw.app's order:")
            print(f"  before the firmware (loader, REPL): {kb(b['before_firmware'])}")
            print(f"  DSP arena (data)                    {kb(b['arena'])}")
            for layer in ("core", "hal", "dsp", "record", "stim", "amp", "link", "app"):
                print(f"  modules: {layer:<8}                    {kb(b['modules'][layer])}")
            print(f"  modules, all ({len(b['loaded'])} loaded)              {kb(b['modules_total'])}")
            print(f"  objects App() builds (data)         {kb(b['app_objects'])}")
            print(f"  used at boot {kb(b['used_at_boot'])}, free {kb(b['free_at_boot'])}")
            print(f"  .mpy bytes of the loaded modules    {kb(frozen)}  (at most what freezing moves to flash)")
            if not args.no_search:
                least = smallest_heap(exe, 64, 384)
                verdict = "never, up to 384 KB" if least is None else f"{least} KB"
                goal = f" (goal {RP2040_KB} KB: {'met' if least and least <= RP2040_KB else 'NOT met'})" \
                    if exe == MCU32 else ""
                print(f"  smallest heap for the demo's opening session: {verdict}{goal}")


if __name__ == "__main__":
    main()
