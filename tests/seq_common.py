"""Shared pieces of the stimulation tests: the sim board's declarations under
CPython and a runner for firmware code on the image's .mpy files."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from mpy import run_mp
from stimbox.build import board_module

BOARD = board_module("sim")
TESTS = Path(__file__).resolve().parent
# The whole stimulation side loaded (app, link, supervisor, sequencer): on the
# 64-bit Unix port every object is twice its size on a 32-bit MCU, so the app
# tests get a heap twice the MCU's; the compile memory test keeps 96k.
APP_HEAP = "192k"


def run_image(image: Any, code: str, data: Any = None, heap: str = APP_HEAP) -> list[Any]:
    """Run code on the built firmware image (.mpy as on a unit) with the test
    models importable and `data` as DATA; every line it prints is a JSON value."""
    prelude = "import json\nDATA = json.loads(" + repr(json.dumps(data)) + ")\n"
    out = run_mp(prelude + textwrap.dedent(code), heap=heap, paths=(image.slot_dir, TESTS))
    return [json.loads(line) for line in out.splitlines() if line.strip()]
