"""The firmware's layers: each module imports only from its own layer or the
ones below it, so a reader can trust the architecture the paths show.

    link (codec, endpoint, handlers)  ->  stim, amp  ->  record  ->  dsp  ->  core

app.py builds and wires everything, so it may import from any layer;
hal_api.py (the board contract) and frontend (the analogue front-end drivers
that a board's HAL builds) sit at the bottom with core."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

FIRMWARE = Path(__file__).resolve().parents[1] / "firmware"
PACKAGE = FIRMWARE / "stimfw"

RANK = {"core": 0, "hal_api": 0, "frontend": 0, "dsp": 1, "record": 2, "stim": 3, "amp": 3, "link": 4, "app": 5}
# Board modules (board.py, hal.py) are outside stimfw: only app.py, which
# builds the HAL, and modules that read the board's declarations may name them.


def layer_of(module: str) -> str:
    parts = module.split(".")
    assert parts[0] == "stimfw", module
    if len(parts) == 1 or parts[1] == "__init__":
        return "core"  # the package itself imports nothing
    return parts[1]


def stimfw_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every stimfw import in a file, at any depth (lazy
    imports inside functions count too)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("stimfw"):
            if node.module == "stimfw":
                out.extend((node.lineno, f"stimfw.{a.name}") for a in node.names)
            else:
                out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out.extend((node.lineno, a.name) for a in node.names if a.name.startswith("stimfw"))
    return out


MODULES = sorted(PACKAGE.rglob("*.py"))


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(FIRMWARE).with_suffix("").parts)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_module_imports_only_from_its_layer_or_below(path: Path) -> None:
    me = module_name(path)
    mine = RANK[layer_of(me)]
    upward = [
        f"{path.relative_to(FIRMWARE)}:{line} imports {mod} ({layer_of(mod)} is above {layer_of(me)})"
        for line, mod in stimfw_imports(path)
        if RANK[layer_of(mod)] > mine
    ]
    assert not upward, "\n".join(upward)


def test_every_firmware_module_is_in_a_layer() -> None:
    unknown = {layer_of(module_name(p)) for p in MODULES} - set(RANK)
    assert not unknown


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    # The rule is only worth having if a violation is caught: a dsp module
    # that reaches up into the link layer, lazily inside a function.
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from stimfw.link import messages as m\n    return m\n")
    assert stimfw_imports(bad) == [(2, "stimfw.link")]
    assert RANK[layer_of("stimfw.link")] > RANK[layer_of("stimfw.dsp.fixed")]
