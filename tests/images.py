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
    shutil.copytree(b.STIMFW_DIR, src / "stimfw", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(b.BOARDS_DIR / "sim", src / "boards" / "sim", ignore=shutil.ignore_patterns("simunit"))
    ver = src / "stimfw" / "core" / "version.py"
    ver.write_text(ver.read_text().replace('"0.1.0"', '"0.0.9-old"'))
    orig = (b.STIMFW_DIR, b.BOARDS_DIR)
    b.STIMFW_DIR, b.BOARDS_DIR = src / "stimfw", src / "boards"
    try:
        return b.build_image("sim", tmp / "old-image", arch=arch)
    finally:
        b.STIMFW_DIR, b.BOARDS_DIR = orig
