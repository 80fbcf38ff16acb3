"""The sim board's device-side declarations (board.py, simwire.py), read by
the simulator under CPython from the same files the firmware image carries."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from stimbox import resources

BOARD_DIR = resources.board_dir("sim")


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"stimbox_sim_{name}", BOARD_DIR / f"{name}.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


board = _load("board")
wire = _load("simwire")

OUTPUT_INDEX = {o["name"]: i for i, o in enumerate(board.OUTPUTS)}
