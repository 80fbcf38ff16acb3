"""Builds the firmware image for one board: every firmware module and the
board's own modules compiled with mpy-cross for the board's architecture,
plus the loader (main.py, boot.py) that stays source as a board expects.

A real board declares its architecture (board.py MPY_ARCH). The simulated
unit's is that of the MicroPython executable it runs on (x64 for the PyPI
Unix port, x86 for a 32-bit build): its board.py declares None, and the
caller passes the runtime's (stimbox.runtime), else the default runtime's.

Image layout, mirrored onto the unit's flash:

    main.py, boot.py           loader; picks the slot named by fw/active
    fw/<slot>/stimfw/**/*.mpy  firmware (layer subpackages)
    fw/<slot>/board.mpy        the board's declarations
    fw/<slot>/hal.mpy          the board's hardware layer
    fw/<slot>/manifest.json    file list and build hash

The slot name is the start of the build hash, so the same sources always give
the same slot and info() can prove which build runs.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from stimfw.core.buildinfo import MANIFEST, build_hash

from stimbox import resources, runtime, usbmatch
from stimbox.errors import BuildError
from stimbox.executables import find

# Installed package data (stimbox.resources); module attributes so that a
# test can build from a changed copy.
STIMFW_DIR = resources.firmware_dir()
LOADER_DIR = resources.loader_dir()
BOARDS_DIR = resources.boards_dir()
LOADER_FILES = ("main.py", "boot.py")
SLOT_LEN = 12

# What a board folder's board.py declares (docs/HAL.md); the HAL contract
# itself is stimfw/hal_api.py. The host reads the first set for every board
# (deploying, finding units); the firmware reads the second set too, so a
# board needs both, and a hal.py, to be built. A hardware board (one that
# declares MPY_ARCH; the simulated unit's is its runtime's) also declares the
# third: how the host finds it on USB (stimbox.usbmatch), the heap its
# MicroPython leaves the firmware, and its time.ticks_* period (2**30 on
# 32-bit ports).
BOARD_HOST_NAMES = ("NAME", "DESCRIPTION", "MPY_ARCH", "LIMITS_PROFILE")
BOARD_FIRMWARE_NAMES = ("OUTPUTS", "MONITOR_RATE_HZ", "MONITOR_MAX_SAMPLES", "MONITOR_PRE_SAMPLES",
                        "AMP_CHANNELS", "AMP_UV_PER_LSB", "AMP_RATES_HZ", "AMP_ELECTRODES",
                        "DSP_ARENA_BYTES", "JOURNAL_SLOTS", "JOURNAL_SLOT_BYTES", "JOURNAL_SYNC", "LIMITS",
                        "WATCHDOG_MS", "CALIBRATOR")
BOARD_HARDWARE_NAMES = ("USB_MATCH", "HEAP_BYTES", "TICKS_PERIOD")


@dataclass(frozen=True)
class Image:
    board: str
    arch: str  # mpy-cross -march of its native code
    root: Path  # folder laid out as the flash
    slot: str
    build: str  # full build hash
    files: tuple[str, ...]  # slot-relative files, in hash order

    @property
    def slot_dir(self) -> Path:
        return self.root / "fw" / self.slot


def boards() -> list[str]:
    return sorted(p.name for p in BOARDS_DIR.iterdir() if (p / "board.py").exists())


def board_module(board: str) -> ModuleType:
    """The board's declarations (board.py), read on the host."""
    path = BOARDS_DIR / board / "board.py"
    if not path.exists():
        raise BuildError(f"unknown board {board!r}; boards: {', '.join(boards())}")
    spec = importlib.util.spec_from_file_location(f"stimbox_board_{board}", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def declaration_problems(mod: ModuleType) -> list[str]:
    """What a board.py lacks or gets wrong of what the build and the host
    rely on (nothing: [])."""
    hardware = getattr(mod, "MPY_ARCH", None) is not None
    names = BOARD_HOST_NAMES + BOARD_FIRMWARE_NAMES + (BOARD_HARDWARE_NAMES if hardware else ())
    missing = [n for n in names if not hasattr(mod, n)]
    if missing:
        return [f"board.py does not declare {', '.join(missing)}"]
    if not hardware:
        return []
    out = usbmatch.problems(mod.USB_MATCH)
    heap, period = mod.HEAP_BYTES, mod.TICKS_PERIOD
    if not (isinstance(heap, int) and heap > 0):
        out.append(f"HEAP_BYTES must be a positive int, not {heap!r}")
    if not (isinstance(period, int) and period > 1 and period & (period - 1) == 0):
        out.append(f"TICKS_PERIOD must be a power of two (2**30 on a 32-bit port), not {period!r}")
    return out


def mpy_cross_executable() -> str:
    found = find("mpy-cross")
    if not found:
        raise BuildError("mpy-cross not found; install the mpy-cross package")
    return found


def device_sources(board: str) -> list[tuple[Path, str]]:
    """(source file, slot-relative .py path) for everything the slot holds."""
    out = []
    for src in sorted(STIMFW_DIR.rglob("*.py")):
        out.append((src, "stimfw/" + src.relative_to(STIMFW_DIR).as_posix()))
    # A board's top-level modules go onto the device; its subfolders (the
    # simulator's host side) and its MicroPython freeze manifest (a build
    # file) do not.
    for src in sorted((BOARDS_DIR / board).glob("*.py")):
        if src.name != "manifest.py":
            out.append((src, src.name))
    return out


def compile_file(src: Path, dst: Path, arch: str) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    # -s: tracebacks on the unit name the file as it sits in the package.
    inside = STIMFW_DIR in src.parents
    name = "stimfw/" + src.relative_to(STIMFW_DIR).as_posix() if inside else src.name
    cmd = [mpy_cross_executable(), f"-march={arch}", "-s", name, "-o", str(dst), str(src)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise BuildError(f"mpy-cross rejected {src}:\n{r.stderr.strip()}")


def board_arch(board: str) -> str:
    """The .mpy architecture of a board's firmware when nobody says: what
    its board.py declares, or for a board that runs on the host's MicroPython
    (the simulated unit) that of the default runtime."""
    arch = board_module(board).MPY_ARCH
    if arch is None:
        arch = runtime.probe().mpy_arch
        if arch is None:
            raise BuildError(f"{runtime.probe().path} runs no native code: cannot build for it")
    return str(arch)


def build_image(board: str, out: Path | None = None, arch: str | None = None) -> Image:
    """Compile the firmware for board into out (default: a new temporary
    folder), for arch (default: board_arch(board))."""
    mod = board_module(board)
    if not (BOARDS_DIR / board / "hal.py").exists():
        raise BuildError(f"board {board!r} has no hal.py yet: its firmware cannot be built")
    problems = declaration_problems(mod)
    if problems:
        raise BuildError(f"board {board!r}: " + "; ".join(problems))
    if arch is None:
        arch = board_arch(board)
    root = Path(out) if out else Path(tempfile.mkdtemp(prefix=f"stimbox-{board}-"))
    if root.exists():
        shutil.rmtree(root)
    staging = root / "fw" / "_staging"
    files = []
    for src, rel in device_sources(board):
        mpy = rel[:-3] + ".mpy"
        compile_file(src, staging / mpy, arch)
        files.append(mpy)
    build = build_hash(str(staging), files)
    slot = build[:SLOT_LEN]
    (staging / MANIFEST).write_text(
        json.dumps({"build": build, "board": board, "arch": arch, "files": files}, indent=1)
    )
    staging.rename(root / "fw" / slot)
    for name in LOADER_FILES:
        shutil.copy2(LOADER_DIR / name, root / name)
    return Image(board=board, arch=arch, root=root, slot=slot, build=build, files=tuple(files))


def install_offline(image: Image, flash: Path) -> None:
    """Write an image straight into a simulated unit's flash folder, as a
    factory programmer writes a board's flash; the same end state as deploy."""
    fw = flash / "fw"
    fw.mkdir(parents=True, exist_ok=True)
    dst = fw / image.slot
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(image.slot_dir, dst)
    for name in LOADER_FILES:
        shutil.copy2(image.root / name, flash / name)
    active = fw / "active"
    if active.exists() and active.read_text().strip() != image.slot:
        (fw / "previous").write_text(active.read_text())
    (fw / "active.new").write_text(image.slot + "\n")
    (fw / "active.new").replace(active)
