"""The simulated unit's ROMFS partition: firmware bytecode run in place, as
a board runs it from flash.

A board does not load its firmware's bytecode into RAM: it freezes the
modules into its firmware or keeps them in a ROMFS partition
(docs.micropython.org, "Working with ROMFS"), where MicroPython executes
.mpy bytecode and reads constants in place; importing a module leaves in
RAM only its objects (module dictionary, functions, classes, the qstr and
constant tables). Native (viper) code is the exception: a board copies it
into its heap when the module is imported.

At every boot the supervisor packs the firmware slots the loader may run
(fw/active, fw/previous) into a ROMFS image (mpremote's format) outside
the flash folder, and the boot ROM (rom.py) mounts it at /rom with
vfs.VfsRom, which the Unix port supports like a board. The Unix port has no
flash to map, so the image has to sit in the process's heap: the process
gets a larger heap, and rom.py then holds back exactly what makes the free
heap the board's (docs/SIMULATOR.md, Heap):

    free heap after the mount = the board heap's free heap at that point
                                - native code a board would copy to its heap

The native-code term is an upper bound: the .mpy files of the modules that
hold native code, whole (their native code compiled for the simulated
runtime, larger than for armv6m or armv7emsp). rom.py reports what it
held in `rom.json` beside the image (SimUnit.rom()).
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mpremote import romfs

# Room for what the image's own objects and the mount take beyond the
# image's bytes (a few blocks) and for the allocation table of the larger
# heap; rom.py gives back what is not needed.
_SLACK = 4096


@dataclass(frozen=True)
class RomImage:
    path: Path
    size: int  # bytes of the image
    native: int  # bytes held back for native code (the bound above)
    slots: tuple[str, ...]


def heap_bytes(heap: str) -> int:
    """A -X heapsize value ("192k", "1M", "200000") in bytes."""
    m = re.fullmatch(r"(\d+)([kKmM]?)", heap.strip())
    if not m:
        raise ValueError(f"heap size {heap!r} is not N, Nk or NM")
    return int(m.group(1)) * {"": 1, "k": 1024, "m": 1024 * 1024}[m.group(2).lower()]


@functools.lru_cache(maxsize=None)
def usable_heap(exe: str, heap: str) -> int:
    """gc.mem_alloc() + gc.mem_free() of `exe -X heapsize=heap`: the bytes
    of a heap that size, less its allocation tables."""
    r = subprocess.run([exe, "-X", f"heapsize={heap}", "-c",
                        "import gc\ngc.collect()\nprint(gc.mem_alloc() + gc.mem_free())"],
                       capture_output=True, text=True, timeout=30, check=True)
    return int(r.stdout.split()[-1])


def _slots(flash: Path) -> list[str]:
    out = []
    for which in ("active", "previous"):
        try:
            slot = (flash / "fw" / which).read_text().strip()
        except OSError:
            continue
        if slot and slot not in out and (flash / "fw" / slot).is_dir():
            out.append(slot)
    return out


def _has_native(mpy: Path) -> bool:
    # Byte 2 of a .mpy header carries the native architecture; 0 = none.
    with mpy.open("rb") as f:
        head = f.read(4)
    return len(head) == 4 and head[0] == ord("M") and head[2] >> 2 != 0


def build(flash: Path, out: Path) -> RomImage | None:
    """The ROMFS image of the slots the loader may run, written to out;
    None when the flash holds no firmware."""
    slots = _slots(flash)
    if not slots:
        return None
    staging = out.with_suffix(".d")
    if staging.exists():
        shutil.rmtree(staging)
    native = 0
    for slot in slots:
        src = flash / "fw" / slot
        for f in sorted(src.rglob("*")):
            if f.is_file():
                dst = staging / "fw" / slot / f.relative_to(src)
                dst.parent.mkdir(parents=True, exist_ok=True)
                dst.write_bytes(f.read_bytes())
                if f.suffix == ".mpy" and _has_native(f):
                    native += f.stat().st_size
    with contextlib.redirect_stdout(io.StringIO()):  # it lists every file
        data = romfs.make_romfs(str(staging), mpy_cross=False)
    shutil.rmtree(staging)
    out.write_bytes(data)
    return RomImage(out, len(data), native, tuple(slots))


def process_heap(board_heap: str, image: RomImage | None) -> str:
    """-X heapsize for the firmware process: the board's heap plus room for
    the image."""
    if image is None:
        return board_heap
    return str(heap_bytes(board_heap) + image.size + _SLACK)


def env(exe: str, board_heap: str, image: RomImage | None, report: Path) -> dict[str, str]:
    """What rom.py needs to mount the image and pin the free heap."""
    if image is None:
        return {}
    return {
        "STIMBOX_SIM_ROM": str(image.path),
        "STIMBOX_SIM_ROM_NATIVE": str(image.native),
        "STIMBOX_SIM_BOARD_HEAP": str(usable_heap(exe, board_heap)),
        "STIMBOX_SIM_ROM_REPORT": str(report),
    }


def read_report(report: Path) -> dict[str, int] | None:
    try:
        return dict(json.loads(report.read_text()))
    except (OSError, ValueError):
        return None



def board_total(heap_free: int, heap_used: int, report: dict[str, int] | None) -> int:
    """heap_free + heap_used as a board of the unit's heap would report
    them: without the image and what rom.py held back beyond the
    native-code bound (a board's heap holds that code)."""
    if report is None:
        return heap_free + heap_used
    return heap_free + heap_used - report["image_heap"] - report["held"] + report["native"]
