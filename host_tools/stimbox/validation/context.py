"""What every step of the suite shares: the unit, its board, the phantom,
the tolerances, and where checks, traces and averages are gathered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from stimbox.client import StimBox
from stimbox.validation.checks import Check
from stimbox.validation.phantom import Phantom
from stimbox.validation.runs import Output, outputs
from stimbox.validation.tolerances import Tolerances


@dataclass
class Context:
    box: StimBox
    board: ModuleType
    info: dict[str, Any]
    phantom: Phantom
    tol: Tolerances
    simulated: bool  # the unit takes sim requests (loads, calibrator)
    on_check: Callable[[Check], None] | None = None
    checks: list[Check] = field(default_factory=list)
    traces: list[dict[str, Any]] = field(default_factory=list)
    averages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def outputs(self) -> list[Output]:
        return outputs(self.board)

    def add(self, c: Check) -> None:
        self.checks.append(c)
        if self.on_check is not None:
            self.on_check(c)

    def put_load(self, output: str) -> None:
        """The phantom's own load back on output (simulated unit only)."""
        ohms = self.phantom.ohms(output)
        load = {"kind": "resistor", "ohms": ohms} if ohms is not None else {"kind": "default"}
        self.box.sim(load=dict(load, output=output))
