"""The protocol argument of plan and run: a TOML file or an example name,
loaded and checked before (and against) the unit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stimbox.cli.exitcodes import UsageError


def example_names() -> list[str]:
    from stimbox import protocols

    return [p.stem for p in protocols.examples()]


def load(arg: str) -> dict[str, Any]:
    """The file's own errors, before any unit is needed. A bare word that
    is neither a file nor an example is a mistyped name: say which exist."""
    from stimbox import protocols

    p = Path(arg)
    if not p.exists() and not p.suffix and len(p.parts) == 1 and arg not in example_names():
        raise UsageError(f"no protocol {arg!r}: give a TOML file or an example: "
                         + ", ".join(example_names()))
    return protocols.load(arg)


def check_for(box: Any, proto: dict[str, Any], arg: str) -> str:
    """The protocol's shape against the connected unit's board; the board's name."""
    from stimbox import protocols
    from stimbox.build import board_module

    board = str(box.info()["board"])
    protocols.from_dict(proto, board_module(board), arg)
    return board
