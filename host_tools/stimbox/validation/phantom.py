"""The phantom a unit is validated into: a load per output (a resistor on a
bench) and the source of known signals for the recording chain, either the
unit's own calibrator or a lab's phantom box wired to declared channels.

A phantom file (TOML):

    name = "lab bench A"
    [loads]
    P1 = { kind = "resistor", ohms = 1000 }    # one table per output used
    [calibrator]
    source = "box"          # "unit": the board's CALIBRATOR; "box": a phantom box
    channels = [0, 1, 2]    # box: the channels it is wired to
    trigger = "P1"          # whose pulses trigger the known signal
    waveform = "sine1"      # one cycle of a sine, freq_hz, amp_uv, delay_ms after the pulse
    freq_hz = 100.0
    amp_uv = 200.0
    delay_ms = 10.0
    mains_hz = 50.0         # unit only: shorted inputs and mains on command
    mains_uv = 100.0
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from stimbox.errors import StimBoxError
from stimbox.validation import tomlfile
from stimbox.validation.tolerances import BOARDS_DIR

CAL_KEYS = {"source": None, "channels": None, "trigger": "P1", "waveform": "sine1", "freq_hz": 100.0,
            "amp_uv": 200.0, "delay_ms": 10.0, "mains_hz": 50.0, "mains_uv": 100.0}


@dataclass(frozen=True)
class Phantom:
    name: str
    file: str | None
    loads: dict[str, dict[str, Any]]  # output -> {"kind": "resistor", "ohms": ...}
    calibrator: dict[str, Any] | None = field(default=None)

    def ohms(self, output: str) -> float | None:
        load = self.loads.get(output)
        return float(load["ohms"]) if load and load.get("kind") == "resistor" else None

    def with_load_ohm(self, ohms: float, outputs: list[str]) -> Phantom:
        """Every output on one resistor (--load-ohm)."""
        if not ohms > 0:
            raise StimBoxError(f"--load-ohm must be above 0, got {ohms:g}")
        loads = {o: {"kind": "resistor", "ohms": float(ohms)} for o in outputs}
        return replace(self, loads=loads, name=f"{self.name}, {ohms:g} ohm on every output")

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "file": self.file, "loads": self.loads, "calibrator": self.calibrator}


def default_file(board: str) -> Path:
    return BOARDS_DIR / board / "phantom.toml"


def load(path: str | Path) -> Phantom:
    """A phantom file; anything wrong with it is one line naming the file."""
    p = Path(path)
    data = tomlfile.read(p, "the phantom file")

    def bad(problem: str) -> StimBoxError:
        return StimBoxError(f"{p}: {problem}")

    unknown = set(data) - {"name", "loads", "calibrator"}
    if unknown:
        raise bad(f"unknown key(s) {sorted(unknown)}; known: name, loads, calibrator")
    loads = data.get("loads", {})
    if not isinstance(loads, dict):
        raise bad("loads must be a table of outputs")
    for out, ld in loads.items():
        if not isinstance(ld, dict) or ld.get("kind") != "resistor" or set(ld) != {"kind", "ohms"}:
            raise bad(f"loads.{out} must be {{ kind = \"resistor\", ohms = N }}")
        if isinstance(ld["ohms"], bool) or not isinstance(ld["ohms"], int | float) or ld["ohms"] <= 0:
            raise bad(f"loads.{out}.ohms must be a number above 0, got {ld['ohms']!r}")
    cal = data.get("calibrator")
    if cal is not None:
        if not isinstance(cal, dict):
            raise bad("calibrator must be a table")
        unknown = set(cal) - set(CAL_KEYS)
        if unknown:
            raise bad(f"calibrator: unknown key(s) {sorted(unknown)}; known: {', '.join(CAL_KEYS)}")
        if cal.get("source") not in ("unit", "box"):
            raise bad("calibrator.source must be \"unit\" (the board's calibrator) or \"box\" (a phantom box)")
        if cal["source"] == "box" and not (isinstance(cal.get("channels"), list) and cal["channels"]):
            raise bad("calibrator.channels: a phantom box names the channels it is wired to")
        cal = {k: cal.get(k, d) for k, d in CAL_KEYS.items()}
    return Phantom(str(data.get("name", p.stem)), str(p), dict(loads), cal)


def for_unit(board: str, path: str | Path | None, load_ohm: float | None, outputs: list[str]) -> Phantom:
    """The phantom named by the command line: a file, else the board's
    default bench phantom; --load-ohm puts one resistor on every output."""
    if path is None and default_file(board).exists():
        path = default_file(board)
    if path is not None:
        ph = load(path)
    elif load_ohm is None:
        raise StimBoxError(f"board {board} has no default phantom: give --phantom FILE or --load-ohm OHMS")
    else:
        ph = Phantom("resistor", None, {})
    return ph.with_load_ohm(load_ohm, outputs) if load_ohm is not None else ph
