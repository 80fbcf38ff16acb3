"""A board's validation tolerances (boards/<board>/validation.toml): per
measured quantity a bound around the requested value, its unit and where
the figure comes from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stimbox import resources
from stimbox.errors import StimBoxError
from stimbox.validation import tomlfile

BOARDS_DIR = resources.boards_dir()
KINDS = ("pct", "abs", "max", "min")


@dataclass(frozen=True)
class Tolerance:
    kind: str  # one of KINDS
    value: float
    unit: str  # of value for abs/max/min; "%" for pct
    source: str

    def bounds(self, requested: float | None) -> tuple[float | None, float | None]:
        """lo, hi for a measurement of `requested` (None: unbounded)."""
        if self.kind == "max":
            return None, self.value
        if self.kind == "min":
            return self.value, None
        if requested is None:
            raise ValueError(f"a {self.kind} tolerance needs a requested value")
        d = abs(requested) * self.value / 100 if self.kind == "pct" else self.value
        return requested - d, requested + d

    def text(self) -> str:
        if self.kind == "pct":
            return f"±{self.value:g} %"
        if self.kind == "abs":
            return f"±{self.value:g} {self.unit}"
        return f"{'≤' if self.kind == 'max' else '≥'} {self.value:g} {self.unit}"


@dataclass(frozen=True)
class Tolerances:
    file: Path
    board: str
    items: dict[str, Tolerance]

    def __getitem__(self, name: str) -> Tolerance:
        try:
            return self.items[name]
        except KeyError:
            raise StimBoxError(f"{self.file}: no tolerance [{name}]") from None


def load(board: str, file: Path | None = None) -> Tolerances:
    """The board's tolerance file, or `file`; a malformed one is one line."""
    path = file or BOARDS_DIR / board / "validation.toml"
    data = tomlfile.read(path, "the validation tolerances")
    items = {}
    for name, t in data.items():
        if not isinstance(t, dict):
            continue
        kinds = [k for k in KINDS if k in t]
        if len(kinds) != 1 or not isinstance(t[kinds[0]], int | float) or not t.get("source"):
            raise StimBoxError(f"{path}: [{name}] needs one of {', '.join(KINDS)} (a number) and a source")
        kind = kinds[0]
        items[name] = Tolerance(kind, float(t[kind]), "%" if kind == "pct" else str(t.get("unit", "")),
                                str(t["source"]))
    return Tolerances(path, str(data.get("board", board)), items)
