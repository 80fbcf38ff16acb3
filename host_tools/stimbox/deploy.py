"""Deploying firmware: build, copy with mpremote, switch, reboot, verify.

The same steps serve a USB board and the simulated unit; only the board name
and the mpy-cross architecture differ: a board's is in its board.py, a
simulated unit's is that of the MicroPython executable it runs on (from its
registry entry, else asked of the unit). The unit's flash is never left
half-written:

1. upload: the new slot is copied as fw/<slot>.new; a cut here leaves only a
   stray folder that no loader reads.
2. switch: one small script on the unit renames fw/<slot>.new to fw/<slot>,
   replaces main.py/boot.py through .new files and renames, then records the
   running slot as fw/previous and the new one as fw/active (a rename, which
   littlefs and POSIX do atomically).
3. reboot and verify: the unit restarts into the new slot; info() must report
   the build hash the host computed, recomputed by the unit from its files.

If the new slot fails to import, the loader starts fw/previous instead.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stimfw.core.buildinfo import MANIFEST

from stimbox import build, runtime
from stimbox.build import LOADER_FILES, Image, board_arch, board_module, build_image, device_sources
from stimbox.client import StimBox
from stimbox.errors import DeployError, LinkError
from stimbox.executables import find

# Runs on the unit (through mpremote exec) in front of both scripts below.
_COMMON = """
import os
def _rm(p):
    try:
        for e in os.ilistdir(p):
            q = p + '/' + e[0]
            if e[1] == 0x4000:
                _rm(q)
            else:
                os.remove(q)
        os.rmdir(p)
    except OSError:
        pass
"""

# Before the upload: make room.
_PREPARE = _COMMON + """
try:
    os.mkdir('fw')
except OSError:
    pass
_rm('fw/{slot}.new')
"""

# After a complete upload: make the new slot the active one.
_SWITCH = _COMMON + """
def _read(p):
    try:
        with open(p) as f:
            return f.read().strip()
    except OSError:
        return None
def _replace(new, dst):
    try:
        os.rename(new, dst)
    except OSError:  # FAT will not rename over an existing file
        os.remove(dst)
        os.rename(new, dst)
slot = '{slot}'
old = _read('fw/active')
if old != slot:
    _rm('fw/' + slot)
    os.rename('fw/' + slot + '.new', 'fw/' + slot)
else:
    _rm('fw/' + slot + '.new')
for name in {loader!r}:
    try:
        os.stat(name + '.new')
        _replace(name + '.new', name)
    except OSError:
        pass
if old and old != slot:
    with open('fw/previous.new', 'w') as f:
        f.write(old + '\\n')
    _replace('fw/previous.new', 'fw/previous')
with open('fw/active.new', 'w') as f:
    f.write(slot + '\\n')
_replace('fw/active.new', 'fw/active')
keep = (slot, old, _read('fw/previous'))
for e in os.ilistdir('fw'):
    if e[1] == 0x4000 and e[0] not in keep:
        _rm('fw/' + e[0])
print('switched', old, '->', slot)
"""


@dataclass
class DeployReport:
    port: str
    board: str
    arch: str
    slot: str
    build: str
    previous: str | None
    seconds: float


@dataclass
class PlannedFile:
    source: str  # what it is built from: stimfw/..., boards/<board>/..., the loader, or the build
    size: int  # bytes copied
    target: str  # path on the unit's flash


@dataclass
class DryRun:
    board: str
    arch: str
    slot: str
    build: str
    files: list[PlannedFile]

    @property
    def total(self) -> int:
        return sum(f.size for f in self.files)


def dry_run(board: str, arch: str | None = None, out: Path | None = None) -> DryRun:
    """What deploy would copy to a unit of this board, built as it would
    build it (arch: the board's, or for the simulated unit the default
    runtime's), without a unit. The image is kept in out, if given, laid out
    as the unit's flash."""
    if arch is None:
        arch = board_arch(board)
    image = build_image(board, out=out, arch=arch)
    try:
        sources = {rel[:-3] + ".mpy": src for src, rel in device_sources(board)}
        files = []
        for rel in (*image.files, MANIFEST):
            src = sources.get(rel)
            files.append(PlannedFile(
                source=_source_name(src, board) if src else "(generated: file list and build hash)",
                size=(image.slot_dir / rel).stat().st_size,
                target=f"fw/{image.slot}/{rel}",
            ))
        for name in LOADER_FILES:
            files.append(PlannedFile(source=f"loader/{name}", size=(image.root / name).stat().st_size,
                                     target=name))
    finally:
        if out is None:
            shutil.rmtree(image.root, ignore_errors=True)
    return DryRun(board=board, arch=arch, slot=image.slot, build=image.build, files=files)


def _source_name(src: Path, board: str) -> str:
    if build.STIMFW_DIR in src.parents:
        return "stimfw/" + src.relative_to(build.STIMFW_DIR).as_posix()
    return f"boards/{board}/" + src.relative_to(build.BOARDS_DIR / board).as_posix()


def mpremote_executable() -> str:
    found = find("mpremote")
    if not found:
        raise DeployError("mpremote not found; install the mpremote package")
    return found


def mpremote(port: str, *args: str, timeout: float = 120) -> str:
    """Run the real mpremote CLI against port without a reset (`resume`):
    it interrupts the running firmware, which turns its outputs off and hands
    the REPL over."""
    cmd = [mpremote_executable(), "connect", port, "resume", *args]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DeployError(f"mpremote did not finish within {timeout:.0f} s") from None
    if r.returncode != 0:
        text = (r.stderr.strip() or r.stdout.strip()).splitlines()
        raise DeployError(f"mpremote failed: {text[-1] if text else r.returncode}")
    return r.stdout


def upload(port: str, image: Image) -> None:
    """Step 1: copy the slot as fw/<slot>.new and the loader as *.new."""
    with tempfile.TemporaryDirectory(prefix="stimbox-upload-") as tmp:
        staged = Path(tmp) / f"{image.slot}.new"
        shutil.copytree(image.slot_dir, staged)
        args = ["exec", _PREPARE.format(slot=image.slot), "+", "cp", "-r", str(staged), ":fw/"]
        for name in LOADER_FILES:
            args += ["+", "cp", str(image.root / name), f":{name}.new"]
        mpremote(port, *args)


def switch(port: str, image: Image) -> str:
    """Step 2: make the uploaded slot the active one."""
    return mpremote(port, "exec", _SWITCH.format(slot=image.slot, loader=LOADER_FILES))


def reboot_and_verify(port: str, image: Image) -> dict:
    """Step 3: restart the unit and check it runs exactly this build."""
    # take_control: the unit sits at the REPL after mpremote; reboot it.
    with StimBox.connect(port, take_control=True) as box:
        info = box.info()
    if info.get("build") != image.build or not info.get("build_ok"):
        raise DeployError(
            f"unit runs build {str(info.get('build'))[:12]} (files intact: "
            f"{info.get('build_ok')}), expected {image.build[:12]}"
        )
    return info


def current_board(port: str) -> str | None:
    """The board the unit says it is, if it runs the firmware."""
    try:
        with StimBox.connect(port, timeout=1.0, take_control=False) as box:
            return str(box.info()["board"])
    except LinkError:
        return None


def unit_arch(port: str, board: str) -> str:
    """The mpy-cross architecture for the unit on port: its board's, or for a
    board without one (the simulated unit) its runtime's."""
    declared = board_module(board).MPY_ARCH
    if declared:
        return str(declared)
    entry = _sim_entry(port)
    rt = entry.get("runtime") if entry else None
    if isinstance(rt, dict) and rt.get("mpy_arch"):
        return str(rt["mpy_arch"])
    # Not in the registry (another machine's unit, an older supervisor): ask it.
    out = mpremote(port, "exec", "import sys\nprint(getattr(sys.implementation, '_mpy', 0))", timeout=30)
    try:
        arch = runtime.arch_name(int(out.strip().splitlines()[-1]))
    except (ValueError, IndexError):
        raise DeployError(f"{port}: cannot tell the unit's native architecture ({out.strip()!r})") from None
    if arch is None:
        raise DeployError(f"{port}: the unit's MicroPython runs no native code")
    return arch


def deploy(
    port: str,
    board: str | None = None,
    log: Callable[[str], None] = lambda s: None,
    arch: str | None = None,
) -> DeployReport:
    t0 = time.monotonic()
    if board is None:
        board = current_board(port) or _sim_board(port)
        if board is None:
            raise DeployError(
                f"{port}: the unit runs no StimBox firmware; say which board it is with --board"
            )
    if arch is None:
        arch = unit_arch(port, board)
    log(f"building firmware for board {board!r} ({arch})")
    image = build_image(board, arch=arch)
    try:
        log(f"uploading slot {image.slot} ({len(image.files)} files) with mpremote")
        upload(port, image)
        log("switching to the new slot")
        out = switch(port, image).strip()
        previous = out.split()[1] if out.startswith("switched") else None
        log("rebooting and verifying the build hash")
        reboot_and_verify(port, image)
    finally:
        shutil.rmtree(image.root, ignore_errors=True)
    return DeployReport(
        port=port,
        board=board,
        arch=arch,
        slot=image.slot,
        build=image.build,
        previous=None if previous in (None, "None") else previous,
        seconds=time.monotonic() - t0,
    )


def _sim_entry(port: str) -> dict[str, object] | None:
    """The registry entry of the running simulated unit on port, if any."""
    from simunit import registry

    return next((u for u in registry.running() if u.get("port") == port), None)


def _sim_board(port: str) -> str | None:
    return "sim" if _sim_entry(port) is not None else None
