"""Shared pieces of the stimulation tests: the sim board's declarations under
CPython and a runner for device scripts (tests/device/) on the image's .mpy
files."""

from __future__ import annotations

import json
from typing import Any

from mpy import ram_firmware_heap, run_mp_file, runtime_for_arch
from stimbox.build import Image, board_module

BOARD = board_module("sim")


def app_heap(runtime: str) -> str:
    """The whole app loaded into RAM (link, supervisor, sequencer, recording
    and its DSP arena) takes ram_firmware_heap on that runtime; these tests
    also keep their test HAL's records of every fire and every push in the
    same heap, so they get 64 KB on top. The compile memory test keeps 96k."""
    return f"{int(ram_firmware_heap(runtime).rstrip('k')) + 64}k"


def run_image(image: Image, script: str, data: Any = None, *args: object,
              heap: str | None = None, runtime: str | None = None) -> list[Any]:
    """Run device script (under tests/device/) on the built firmware image
    (.mpy as on a unit, under the runtime its architecture is for), with data
    for devargs.data() and args in sys.argv; every line it prints is a JSON
    value. runtime, if given, must be the one the image was built for."""
    rt = runtime_for_arch(image.arch)
    assert runtime in (None, rt), f"an image for {image.arch} does not run on {runtime}"
    out = run_mp_file("device/" + script, *args, data=data, heap=heap or app_heap(rt),
                      paths=(image.slot_dir,), runtime=rt)
    return [json.loads(line) for line in out.splitlines() if line.strip()]
