"""Shared pieces of the stimulation tests: the sim board's declarations under
CPython and a runner for firmware code on the image's .mpy files."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from mpy import run_mp, runtime_for_arch, unit_heap
from stimbox.build import board_module

BOARD = board_module("sim")
TESTS = Path(__file__).resolve().parent


def app_heap(runtime: str) -> str:
    """The whole app loaded (link, supervisor, sequencer, recording and its
    DSP arena) takes the simulated unit's heap on that runtime; these tests
    also keep their test HAL's records of every fire and every push in the
    same heap, so they get 64 KB on top. The compile memory test keeps 96k."""
    return "%dk" % (int(unit_heap(runtime).rstrip("k")) + 64)


def run_image(image: Any, code: str, data: Any = None, heap: str | None = None) -> list[Any]:
    """Run code on the built firmware image (.mpy as on a unit, under the
    runtime its architecture is for) with the test models importable and
    `data` as DATA; every line it prints is a JSON value."""
    runtime = runtime_for_arch(image.arch)
    prelude = "import json\nDATA = json.loads(" + repr(json.dumps(data)) + ")\n"
    out = run_mp(prelude + textwrap.dedent(code), heap=heap or app_heap(runtime),
                 paths=(image.slot_dir, TESTS), runtime=runtime)
    return [json.loads(line) for line in out.splitlines() if line.strip()]
