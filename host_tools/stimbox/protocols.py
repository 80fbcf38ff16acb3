"""Stimulus protocols from TOML files to the wire form the unit validates.

A protocol file is the wire form written as TOML: the same keys, the same
units (amplitudes as amp_ua on constant-current outputs, amp_mv on
constant-voltage ones, times in us, rates in Hz). Loading checks what a file
can get wrong on its own (TOML syntax, values JSON cannot carry, the size the
unit takes) and, with a board, the protocol's shape through the firmware's
own stimfw.stim.protocol, so a broken file names the file, the key and the
problem before anything reaches a unit. The unit still validates every
protocol and alone decides what is safe."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from stimfw.core.errors import ERR_BAD_PAYLOAD, Refused
from stimfw.link.endpoint import MAX_STAGED

from stimbox import resources
from stimbox.errors import StimBoxError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PROTOCOLS_DIR = resources.protocols_dir()


class ProtocolFileError(StimBoxError):
    """A protocol file that cannot become a wire-form protocol."""

    def __init__(self, file: str | Path, key: str, problem: str) -> None:
        self.file = str(file)
        self.key = key
        self.problem = problem
        where = f"{self.file}: {key}: " if key else f"{self.file}: "
        super().__init__(where + problem)


def _plain(value: Any, key: str, file: Path) -> Any:
    """TOML values as JSON values; dates and times have no wire form."""
    if isinstance(value, dict):
        return {k: _plain(v, f"{key}.{k}" if key else k, file) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, f"{key}.{i}", file) for i, v in enumerate(value)]
    if isinstance(value, bool | int | float | str):
        if isinstance(value, float) and value != value:
            raise ProtocolFileError(file, key, "nan is not a number the unit takes")
        return value
    raise ProtocolFileError(file, key, f"{type(value).__name__} values are not part of a protocol")


def wire_size(wire: dict[str, Any]) -> int:
    return len(json.dumps(wire, separators=(",", ":")).encode())


def from_dict(data: dict[str, Any], board: ModuleType | None = None,
              file: str | Path = "<protocol>") -> dict[str, Any]:
    """A protocol given as a dict (Python API) checked as a file would be."""
    wire = _plain(data, "", Path(str(file)))
    if "type" not in wire:
        raise ProtocolFileError(file, "type", "missing; one of tcmep, ssep, temg, scs, dwave, pulses")
    size = wire_size(wire)
    if size > MAX_STAGED:
        raise ProtocolFileError(
            file, "", f"{size} bytes as JSON, over the unit's {MAX_STAGED}; "
            "leave out keys that keep their default")
    if board is not None:
        from stimfw.stim import protocol

        try:
            protocol.normalise(wire, board)
        except Refused as e:
            if e.code != ERR_BAD_PAYLOAD:
                raise
            raise ProtocolFileError(file, e.detail["key"], e.detail["problem"]) from None
    return wire


def load(path: str | Path, board: ModuleType | None = None) -> dict[str, Any]:
    """Read a protocol file; a bare name is looked up in protocols/."""
    p = Path(path)
    if not p.exists() and not p.suffix and (PROTOCOLS_DIR / f"{p}.toml").exists():
        p = PROTOCOLS_DIR / f"{p}.toml"
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ProtocolFileError(p, "", f"cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ProtocolFileError(p, "", "not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ProtocolFileError(p, "", f"not valid TOML: {e}") from None
    return from_dict(data, board, p)


def examples() -> list[Path]:
    return sorted(PROTOCOLS_DIR.glob("*.toml"))
