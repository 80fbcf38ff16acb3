"""Short runs of test pulses (protocol type "pulses") for the suite: each
brought within the unit's limits by the unit itself, then run, its pulses
read back and the last pulse's monitor trace fetched."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from stimbox.client import StimBox
from stimbox.errors import LimitError, StimBoxError, limit_text
from stimbox.session import PulseRecord, RunResult, run_protocol

RUN_TIMEOUT_S = 60.0
FIT_TRIES = 6


@dataclass
class Output:
    """One stimulator output as the board declares it, in display units."""

    name: str
    kind: str  # "CC" or "CV"
    max: int
    res: int
    widths: tuple[int, int]
    decl: dict[str, Any] = field(repr=False)

    @property
    def amp_key(self) -> str:
        return "amp_mv" if self.kind == "CV" else "amp_ua"

    @property
    def unit(self) -> str:
        return "V" if self.kind == "CV" else "mA"

    def show(self, amp: float) -> float:
        """uA or mV as mA or V."""
        return amp / 1000

    def cell(self, amp: int, width: int) -> str:
        return f"{self.show(amp):g}{self.unit}/{width}us"


def outputs(bd: ModuleType) -> list[Output]:
    return [Output(o["name"], o["kind"], o["max"], o["res"], tuple(o["width_us"]), o)
            for o in getattr(bd, "OUTPUTS", ())]


def pulses(out: Output, amp: int, width: int, **kw: Any) -> dict[str, Any]:
    """A wire-form "pulses" protocol on out."""
    p: dict[str, Any] = {"type": "pulses", "name": f"validate {out.name}", "out": out.name,
                         out.amp_key: amp, "width_us": width}
    p.update(kw)
    return p


def _admits(box: StimBox, proto: dict[str, Any]) -> LimitError | None:
    try:
        box.check_protocol(proto)
    except LimitError as e:
        return e
    return None


def fit(box: StimBox, proto: dict[str, Any], out: Output) -> tuple[dict[str, Any], str | None]:
    """The protocol at the largest amplitude the unit admits. A refusal
    names the limit's value and its allowed range: the amplitude is scaled
    down by their ratio (to the output's resolution), which lands on the
    largest admitted one for a limit that grows with the amplitude in
    proportion (amplitude, charge, density); where it does not (energy,
    the Shannon criterion), the unit is asked between the last admitted and
    refused amplitudes until they are one step apart. The unit alone does
    the limit arithmetic. Returns the protocol and, when no amplitude
    helps, the refusal."""
    key = out.amp_key
    refused = _admits(box, proto)
    if refused is None:
        return proto, None
    hi = int(proto[key])  # refused
    amp = hi
    for _ in range(FIT_TRIES):
        d = refused.detail if isinstance(refused.detail, dict) else {}
        value, top = d.get("value"), d.get("max")
        if not isinstance(value, int | float) or not isinstance(top, int | float) or not 0 < top < value:
            return proto, limit_text(refused)  # not a limit that a lower amplitude meets
        amp = int(amp * top / value) // out.res * out.res
        if amp < out.res:
            return proto, limit_text(refused)
        e = _admits(box, dict(proto, **{key: amp}))
        if e is None:
            break
        hi, refused = amp, e
    else:
        amp = out.res
        if _admits(box, dict(proto, **{key: amp})) is not None:
            return proto, limit_text(refused)
    lo = amp  # admitted; anything from hi up refused
    if lo + out.res < hi and _admits(box, dict(proto, **{key: lo + out.res})) is not None:
        hi = lo + out.res  # the ratio landed on the largest: the usual case
    while hi - lo > out.res:
        mid = (lo + hi) // 2 // out.res * out.res
        if _admits(box, dict(proto, **{key: mid})) is None:
            lo = mid
        else:
            hi = mid
    return dict(proto, **{key: lo}), None


@dataclass
class Run:
    proto: dict[str, Any]
    result: RunResult
    trace: dict[str, Any] | None

    @property
    def pulses(self) -> list[PulseRecord]:
        return self.result.pulses


def run(box: StimBox, proto: dict[str, Any], trace: bool = False) -> Run:
    """Run proto to its end (or the unit's end of it); trace: also fetch
    the last pulse's monitor trace."""
    try:
        r = run_protocol(box, proto, timeout_s=RUN_TIMEOUT_S)
    except TimeoutError as e:
        raise StimBoxError(f"{box.port}: {e}") from None
    return Run(proto, r, box.trace() if trace else None)


def trace_arrays(tr: dict[str, Any]) -> dict[str, list[float]]:
    """A unit's monitor trace as t_us (from the scheduled start), uA, mV."""
    rate = float(tr["rate_hz"])
    pre = int(tr["pre"])
    return {"t_us": [round((k - pre) * 1e6 / rate, 3) for k in range(len(tr["i"]))],
            "current_ua": [x * tr["ua_lsb"] for x in tr["i"]],
            "voltage_mv": [x * tr["mv_lsb"] for x in tr["v"]]}


def isi_for(bd: ModuleType, width: int, gap: int = 0, width2: int = 0) -> int:
    """A pulse-to-pulse interval inside a train: the least the limits allow,
    or twice the pulse's length, in whole ms."""
    need = max(int(bd.LIMITS["isi_min_us"]), 2 * (width + gap + width2))
    return -(-need // 1000) * 1000


def top_rate_hz(bd: ModuleType, out: Output) -> float:
    """The highest repetition rate the limits profile allows on out."""
    rate = bd.LIMITS["rate_max_mhz"] / 1000
    gap = bd.LIMITS["outputs"].get(out.name, {}).get("train_gap_min_us", 0)
    if gap:
        rate = min(rate, 1e6 / gap)
    return float(rate)
