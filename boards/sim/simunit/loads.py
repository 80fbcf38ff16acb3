"""What an output drives: the bench phantom (a resistor), an electrode-tissue
interface (Randles: series resistance, then charge-transfer resistance in
parallel with the double-layer capacitance), an open circuit or a short.

A load is a small immutable description; the output stage integrates it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# An open circuit still leaks through the output's own switches and cables.
OPEN_OHMS = 1e9
SHORT_OHMS = 1.0
# The impedance meter's test frequency and the largest value it reports.
TEST_HZ = 1000.0
METER_MAX_OHMS = 100_000_000

KINDS = ("resistor", "randles", "open", "short")


@dataclass(frozen=True)
class Load:
    kind: str
    rs: float  # series (or only) resistance, ohm
    rct: float = math.inf  # charge-transfer resistance, ohm (randles only)
    cdl: float = 0.0  # double-layer capacitance, F (randles only)

    def has_interface(self) -> bool:
        return self.kind == "randles"

    def impedance(self, hz: float = TEST_HZ) -> float:
        """|Z| at hz, as an impedance meter's small sine test signal sees it."""
        if self.kind != "randles":
            return self.rs
        w = 2 * math.pi * hz
        zc = complex(self.rct, 0) / complex(1.0, w * self.rct * self.cdl)
        return abs(self.rs + zc)

    def describe(self) -> dict[str, object]:
        d: dict[str, object] = {"kind": self.kind, "rs_ohm": self.rs}
        if self.kind == "randles":
            d.update(rct_ohm=self.rct, cdl_f=self.cdl)
        return d


def resistor(ohms: float) -> Load:
    if ohms <= 0:
        raise ValueError(f"resistor needs ohms > 0, got {ohms}")
    return Load("resistor", float(ohms))


def randles(rs: float, rct: float, cdl: float) -> Load:
    if rs <= 0 or rct <= 0 or cdl <= 0:
        raise ValueError(f"randles needs rs, rct, cdl > 0, got {rs}, {rct}, {cdl}")
    return Load("randles", float(rs), float(rct), float(cdl))


def open_circuit() -> Load:
    return Load("open", OPEN_OHMS)


def short() -> Load:
    return Load("short", SHORT_OHMS)


def from_spec(spec: dict[str, object]) -> Load:
    """A load from a scenario or sim request: {"kind": ..., "ohms" | "rs","rct","cdl"}."""
    kind = spec.get("kind")
    if kind == "resistor":
        return resistor(float(spec["ohms"]))  # type: ignore[arg-type]
    if kind == "randles":
        return randles(float(spec["rs"]), float(spec["rct"]), float(spec["cdl"]))  # type: ignore[arg-type]
    if kind == "open":
        return open_circuit()
    if kind == "short":
        return short()
    raise ValueError(f"unknown load kind {kind!r}; kinds: {', '.join(KINDS)}")
