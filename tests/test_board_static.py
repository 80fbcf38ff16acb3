"""Every board proven without its hardware: `stimbox deploy --dry-run`
builds the board's image with the real mpy-cross for the board's declared
architecture and lists exactly what a deploy would copy; every .mpy in it
is code for that architecture; and the board's own modules type-check with
mypy against the MicroPython stubs of its port (machine, rp2, pyb, ... as the
port has them), so a call the port does not have fails here, not on the
bench.

The port stubs are read from a folder per port (tests/portstubs.py: two
ports' machine.pyi cannot share one site-packages).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import portstubs
import pytest
from stimbox import build, runtime

ROOT = Path(__file__).resolve().parents[1]
STIMBOX = str(Path(sys.executable).with_name("stimbox"))
BUILDABLE = [b for b in build.boards() if (build.BOARDS_DIR / b / "hal.py").exists()]
HARDWARE = [b for b in BUILDABLE if build.board_module(b).MPY_ARCH is not None]

# The MicroPython stubs of each hardware board's port and board variant.
PORT_STUBS = {
    "rp2_pico2": "micropython-rp2-rpi-pico2-stubs",
    "stm32_pybv11": "micropython-stm32-pybv11-stubs",
}
# A module mypy checks beside each board's: calls the port lacks must be
# errors, or a pass would prove nothing (stubs not found, names as Any).
PROBE = """\
import machine
import time

machine.Pin(0).no_such_call()
time.ticks_diff(time.ticks_us(), "later")
"""
PROBE_ERRORS = ('"Pin" has no attribute "no_such_call"', 'No overload variant of "ticks_diff"')
# Another port's module is not there (its stubs are not mixed in).
OTHER_PORT = {"rp2_pico2": "pyb", "stm32_pybv11": "rp2"}

# What mypy says that is not about the port's API, left out. The firmware is
# unannotated MicroPython, so mypy infers its types from first values:
# - assignment, type-var: the stubs type tick values as their own types
#   (_TicksMs, _TicksUs) that plain-int tick variables and ticks_add(int, ...)
#   do not match; an attribute first set to None is typed None.
DISABLED_CODES = ("assignment", "type-var")
# - the same None typing where the attribute is used, a list made as [None]
#   and filled later, the values of a dict of mixed values (object).
NOT_THE_PORT = re.compile(r'error: "None" has no attribute|error: Item "None" of .* has no attribute|'
                          r'No overload variant of "__setitem__" of "list"|'
                          r'Unsupported (left |right )?operand types? for .*"object"')
# Where the 1.29 stubs leave out what the port accepts: error text -> why
# it is not the board's.
STUB_GAPS = {
    '"DMA" has no attribute "channel"': "rp2.DMA has a channel attribute (rp2.DMA docs); the stubs lack it",
    'incompatible type "list[object]"; expected "_PIO_ASM_Program': (
        "rp2.StateMachine takes the program as the list @rp2.asm_pio returns; the stubs type it "
        "as an opaque class only asm_pio makes"),
    'Unexpected keyword argument "af"': (
        "pyb.Pin's af= is the legacy name of alt= that the stm32 port still accepts (pin.c); "
        "the stubs have only alt="),
}


def test_every_hardware_board_names_its_port_stubs() -> None:
    assert set(HARDWARE) <= set(PORT_STUBS), "add the board's MicroPython stubs to PORT_STUBS"


# --- the image: stimbox deploy --dry-run -----------------------------------------
@pytest.fixture(scope="session")
def dry_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], tuple[dict, Path]]:
    """board -> (the --json listing of `stimbox deploy --dry-run`, the image
    it kept with --out): each board built once per session."""
    done: dict[str, tuple[dict, Path]] = {}

    def get(board: str) -> tuple[dict, Path]:
        if board not in done:
            out = tmp_path_factory.mktemp("dry-run") / board
            r = subprocess.run([STIMBOX, "deploy", "--board", board, "--dry-run", "--json", "--out", str(out)],
                               capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
            assert r.returncode == 0, r.stderr
            done[board] = (json.loads(r.stdout), out)
        return done[board]

    return get


# The hardware boards: the simulated unit's image is built by every sim test.
@pytest.mark.parametrize("board", HARDWARE)
def test_dry_run_lists_every_file_a_deploy_copies_with_its_size_and_place(
        board: str, dry_run: Callable[[str], tuple[dict, Path]]) -> None:
    listing, image = dry_run(board)
    assert listing["board"] == board and listing["arch"] == build.board_arch(board)
    slot = listing["slot"]
    # What the image folder holds, laid out as the unit's flash.
    on_flash = {p.relative_to(image).as_posix(): p.stat().st_size for p in image.rglob("*") if p.is_file()}
    assert {f["target"]: f["size"] for f in listing["files"]} == on_flash
    assert listing["total"] == sum(on_flash.values())
    # Every device source becomes one .mpy in the slot, named by its source.
    sources = {f["source"]: f["target"] for f in listing["files"]}
    for src, rel in build.device_sources(board):
        name = ("stimfw/" + src.relative_to(build.STIMFW_DIR).as_posix() if rel.startswith("stimfw/")
                else f"boards/{board}/{src.name}")
        assert sources[name] == f"fw/{slot}/{rel[:-3]}.mpy"
    assert sources["loader/main.py"] == "main.py" and sources["loader/boot.py"] == "boot.py"
    manifest = json.loads((image / "fw" / slot / "manifest.json").read_text())
    assert manifest["build"] == listing["build"] and manifest["build"].startswith(slot)
    assert manifest["arch"] == listing["arch"] and manifest["board"] == board


def test_dry_run_needs_a_board_and_names_a_board_that_cannot_be_built(tmp_path: Path) -> None:
    r = subprocess.run([STIMBOX, "deploy", "--dry-run"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == "stimbox: --dry-run needs --board: without a unit there is no board to ask\n"
    r = subprocess.run([STIMBOX, "deploy", "--board", "nosuch", "--dry-run"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 7 and r.stderr.startswith("stimbox: unknown board 'nosuch'; boards: ")
    (tmp_path / "keep.txt").write_text("not the build's")
    r = subprocess.run([STIMBOX, "deploy", "--board", "sim", "--dry-run", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr == f"stimbox: --out {tmp_path}: not an empty folder\n"
    assert (tmp_path / "keep.txt").exists()


def mpy_arch(path: Path) -> str | None:
    """The native architecture a .mpy file's header names (None: bytecode
    only, which loads on any architecture)."""
    head = path.read_bytes()[:4]
    assert head[:2] == b"M\x06", f"{path}: not a .mpy v6 file"
    return runtime.MPY_ARCHES[head[2] >> 2]


@pytest.mark.parametrize("board", HARDWARE)
def test_the_image_is_compiled_for_the_board_s_declared_architecture(
        board: str, dry_run: Callable[[str], tuple[dict, Path]]) -> None:
    listing, image = dry_run(board)
    declared = build.board_module(board).MPY_ARCH
    archs = {p.relative_to(image).as_posix(): mpy_arch(p) for p in image.rglob("*.mpy")}
    assert len(archs) == len(build.device_sources(board))
    assert {a for a in archs.values() if a is not None} == {declared}
    # The firmware's native (viper) code is in it, for that architecture.
    assert archs[f"fw/{listing['slot']}/stimfw/dsp/fixed.mpy"] == declared


# --- type checks against the port stubs ---------------------------------------------
def mypy(board: str, typeshed: Path, probe_dir: Path) -> dict[str, list[str]]:
    """mypy on the board's device modules and the probes, with the port's
    stubs as the only library: file -> its error lines. The stubs' own
    complaints about themselves are not the board's and are left out."""
    modules = [src.stem for src, rel in build.device_sources(board) if not rel.startswith("stimfw/")]
    path = os.pathsep.join(str(p) for p in (typeshed, build.BOARDS_DIR / board, build.STIMFW_DIR.parent, probe_dir))
    cmd = [sys.executable, "-m", "mypy", "--config-file", "", "--custom-typeshed-dir", str(typeshed),
           "--no-site-packages", "--follow-imports", "silent", "--check-untyped-defs",
           "--cache-dir", str(probe_dir / ".mypy_cache"), "--no-error-summary", "--hide-error-context",
           "--show-error-codes", *(f"--disable-error-code={c}" for c in DISABLED_CODES)]
    for m in [*modules, "probe", "probe_port"]:
        cmd += ["-m", m]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=probe_dir,
                       env=dict(os.environ, MYPYPATH=path))
    assert r.returncode in (0, 1), r.stdout + r.stderr  # 2: mypy itself failed
    errors: dict[str, list[str]] = {}
    for line in r.stdout.splitlines():
        m = re.match(r"(.+?):\d+: error: ", line)
        if m and not NOT_THE_PORT.search(line) and not any(t in line for t in STUB_GAPS):
            where = (probe_dir / m.group(1)).resolve()
            if typeshed not in where.parents:
                errors.setdefault(where.name if probe_dir in where.parents else str(where), []).append(line)
    return errors


@pytest.mark.parametrize("board", HARDWARE)
def test_board_modules_type_check_against_their_port_stubs(board: str, tmp_path: Path) -> None:
    typeshed = portstubs.folder(PORT_STUBS[board]).resolve()
    probe_dir = tmp_path.resolve()
    (probe_dir / "probe.py").write_text(PROBE)
    (probe_dir / "probe_port.py").write_text(f"import {OTHER_PORT[board]}\n")
    errors = mypy(board, typeshed, probe_dir)
    probe, other = errors.pop("probe.py", []), errors.pop("probe_port.py", [])
    assert all(any(e in line for line in probe) for e in PROBE_ERRORS), probe
    assert any(f'module named "{OTHER_PORT[board]}"' in line for line in other), other
    assert errors == {}, "\n".join(line for lines in errors.values() for line in lines)


@pytest.mark.parametrize("board", HARDWARE)
def test_the_board_has_validation_tolerances_within_what_its_firmware_flags(board: str) -> None:
    from stimbox.validation import tolerances

    tol, limits = tolerances.load(board), build.board_module(board).LIMITS
    assert tol.board == board
    # validate judges tighter than the unit's own per-pulse flags, or a unit
    # that flags pulses could pass.
    assert tol["width"].value < limits["width_tol_us"] and tol["onset"].value < limits["timing_tol_us"]
    assert tol["amplitude"].value < limits["amp_tol_pct"]


# --- the bring-up guide ----------------------------------------------------------------
@pytest.mark.parametrize("board", HARDWARE)
def test_the_bring_up_guide_has_the_board_s_pins_and_declarations(board: str) -> None:
    text = (ROOT / "docs" / "BRINGUP.md").read_text()
    mod = build.board_module(board)
    table = re.search(rf"^### {board}\n\n((?:\|.*\n)+)", text, re.M)
    assert table, f"docs/BRINGUP.md has no pin table for {board}"
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+?) \|", table.group(1), re.M)
    assert dict(rows) == {name: str(pin) for name, pin in mod.PINS.items()}
    row = re.search(rf"^\| `{board}` \|.*$", text, re.M)
    assert row, f"docs/BRINGUP.md's boards table has no row for {board}"
    assert f"`{mod.MPY_ARCH}`" in row.group(0) and f"{mod.HEAP_BYTES // 1024} KB" in row.group(0)
    for key, value in mod.USB_MATCH.items():
        assert f"{key} {value!r}" in row.group(0) or f"{key} 0x{value:04X}" in row.group(0)
