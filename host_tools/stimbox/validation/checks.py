"""One validation check: what was requested, what was measured, the
tolerance it is judged against and the outcome (PASS, FAIL, or SKIP with
the reason), as summary.json carries it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from stimbox.validation.tolerances import Tolerance

GROUPS = ("output", "timing", "biphasic", "faults", "recording")


@dataclass
class Check:
    name: str
    group: str
    subject: str
    requested: float | str | None
    measured: float | str | None
    unit: str
    lo: float | None
    hi: float | None
    tolerance: str
    source: str
    outcome: str
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _round(x: float | None) -> float | None:
    return None if x is None else float(f"{x:.6g}")


def judge(name: str, subject: str, requested: float, measured: float | None, unit: str,
          tol: Tolerance, reason: str | None = None) -> Check:
    """A number against its tolerance; no measurement is a FAIL, with the reason."""
    lo, hi = tol.bounds(requested)
    ok = measured is not None and (lo is None or measured >= lo) and (hi is None or measured <= hi)
    return Check(name, name.split(".", 1)[0], subject, _round(requested), _round(measured), unit,
                 _round(lo), _round(hi), tol.text(), tol.source, "PASS" if ok else "FAIL",
                 reason if measured is None else None)


def flagged(name: str, subject: str, requested: str, measured: str, ok: bool, source: str,
            reason: str | None = None) -> Check:
    """A check whose outcome is an event, not a number (a fault flag raised)."""
    return Check(name, name.split(".", 1)[0], subject, requested, measured, "", None, None,
                 "flag raised and run ended", source, "PASS" if ok else "FAIL", reason)


def skip(name: str, subject: str, reason: str, requested: float | str | None = None,
         unit: str = "") -> Check:
    return Check(name, name.split(".", 1)[0], subject, requested, None, unit, None, None, "", "",
                 "SKIP", reason)


def counts(checks: list[Check]) -> dict[str, int]:
    return {k: sum(1 for c in checks if c.outcome == k) for k in ("PASS", "FAIL", "SKIP")}


def line(c: Check) -> str:
    """One printed line: name, requested, measured, tolerance, outcome."""
    def num(v: float | str | None) -> str:
        return "-" if v is None else (f"{v:g}" if isinstance(v, float | int) else str(v))

    unit = f" {c.unit}" if c.unit else ""
    text = f"{c.outcome:<4}  {c.name:<40} requested {num(c.requested)}{unit}, measured {num(c.measured)}{unit}"
    if c.tolerance:
        text += f", tolerance {c.tolerance}"
    if c.reason:
        text += f" ({c.reason})"
    return text
