"""Shared pieces of the stimulation tests: the sim board's declarations under
CPython and a runner for device scripts on the image's .mpy files."""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from mpy import executable, run_mp_file
from simunit.supervisor import DEFAULT_HEAP
from stimbox.build import Image, board_module, build_image

BOARD = board_module("sim")
# The whole app loaded (link, supervisor, sequencer, recording and its DSP
# arena) takes the simulated unit's heap (simunit.supervisor.DEFAULT_HEAP);
# these tests also keep their test HAL's records of every fire and every
# push in the same heap, so they get 64 KB on top. The compile memory test
# keeps 96k.
APP_HEAP = "%dk" % (int(DEFAULT_HEAP.rstrip("k")) + 64)
# The sim board's image is x64 code for the PyPI Unix port; the board-like
# 32-bit runtime loads native code built for x86.
ARCH = {"unix": None, "mcu32": "x86"}
_images: dict[str, Image] = {}


def image_for(runtime: str, image: Image) -> Image:
    """The sim board's image for runtime: the session's own for "unix", one
    built for the runtime's architecture (once per session) otherwise."""
    arch = ARCH[runtime]
    if arch is None:
        return image
    executable(runtime)  # skips the test where the runtime is absent
    if runtime not in _images:
        root = Path(tempfile.mkdtemp(prefix="stimbox-image-%s-" % runtime))
        atexit.register(shutil.rmtree, root, True)
        _images[runtime] = build_image("sim", root / "sim", arch=arch)
    return _images[runtime]


def run_image(image: Image, script: str, data: Any = None, *args: object,
              heap: str = APP_HEAP, runtime: str = "unix") -> list[Any]:
    """Run device script (under tests/device/) on the built firmware image
    (.mpy as on a unit), with data for devargs.data() and args in sys.argv;
    every line it prints is a JSON value."""
    out = run_mp_file("device/" + script, *args, data=data, heap=heap,
                      paths=(image_for(runtime, image).slot_dir,), runtime=runtime)
    return [json.loads(line) for line in out.splitlines() if line.strip()]
