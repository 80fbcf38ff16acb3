"""Every firmware module compiles for the real boards' architectures and
imports under the real MicroPython."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from mpy import BOTH, FIRMWARE, ram_firmware_heap, run_mp_file
from stimbox import build

FIRMWARE_FILES = sorted(FIRMWARE.rglob("*.py"))
BOARD_FILES = sorted(p for b in build.boards() for p in (build.BOARDS_DIR / b).glob("*.py"))
# The ulab backend needs a board with ulab, which the PyPI Unix port lacks;
# the board-like runtime has it.
NEEDS_ULAB = {"stimfw.dsp.ulab"}
MODULES = sorted(
    {
        p.relative_to(FIRMWARE).with_suffix("").as_posix().replace("/", ".")
        for p in (FIRMWARE / "stimfw").rglob("*.py")
    }
    - NEEDS_ULAB
)


@pytest.mark.parametrize("arch", ["armv6m", "armv7emsp", "x64"])
def test_all_firmware_compiles_with_mpy_cross(arch: str, tmp_path: Path) -> None:
    bad = []
    for src in FIRMWARE_FILES + BOARD_FILES:
        r = subprocess.run(
            [build.mpy_cross_executable(), f"-march={arch}", "-o", str(tmp_path / "x.mpy"), str(src)],
            capture_output=True, text=True,
        )
        if r.returncode:
            bad.append(f"{src}: {r.stderr.strip()}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("runtime", BOTH)
def test_every_firmware_module_imports_under_micropython(firmware_image, runtime: str) -> None:
    # All of them at once, from the compiled image's .mpy files, loaded into
    # RAM (a unit runs them from ROMFS: tests/test_memory_bounds_sim.py). The
    # board-like runtime has ulab, so there the ulab backend imports too.
    assert "stimfw.link.codec" in MODULES and "stimfw.app" in MODULES
    names = MODULES + sorted(NEEDS_ULAB) if runtime == "mcu32" else MODULES
    out = run_mp_file("device/import_all.py", data=names, runtime=runtime, heap=ram_firmware_heap(runtime),
                      paths=(firmware_image.slot_dir,))
    assert out.split().count("ok") == len(names)


def test_image_layout_and_hash_are_reproducible(tmp_path: Path) -> None:
    a = build.build_image("sim", tmp_path / "a")
    b = build.build_image("sim", tmp_path / "b")
    assert a.build == b.build and a.slot == a.build[:12]
    assert (a.root / "main.py").exists() and (a.slot_dir / "manifest.json").exists()
    assert "board.mpy" in a.files and "hal.mpy" in a.files
    assert not any("simunit" in f for f in a.files)  # the sim's host side stays home
