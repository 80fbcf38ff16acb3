"""Firmware images the deploy tests and the fault bench need besides the
current one."""

from __future__ import annotations

import shutil
from pathlib import Path

from stimbox import build as b


def older_build(tmp: Path, arch: str) -> b.Image:
    """A second, different image: the same firmware with another version
    string, built from a copy of the sources."""
    src = tmp / "src"
    shutil.copytree(b.FIRMWARE_DIR, src / "firmware")
    shutil.copytree(b.BOARDS_DIR / "sim", src / "boards" / "sim", ignore=shutil.ignore_patterns("simunit"))
    ver = src / "firmware" / "stimfw" / "core" / "version.py"
    ver.write_text(ver.read_text().replace('"0.1.0"', '"0.0.9-old"'))
    orig = (b.FIRMWARE_DIR, b.BOARDS_DIR)
    b.FIRMWARE_DIR, b.BOARDS_DIR = src / "firmware", src / "boards"
    try:
        return b.build_image("sim", tmp / "old-image", arch=arch)
    finally:
        b.FIRMWARE_DIR, b.BOARDS_DIR = orig
