"""Load faults group: each output into an open circuit, a short and a load
beyond its compliance (current limit on a constant-voltage output), put on
by sim load requests; a check passes when the unit raises the fault's flag
and ends the run. The phantom's own load goes back after each. A phantom
that cannot switch loads (a unit that is not simulated): SKIP."""

from __future__ import annotations

from typing import Any

from stimbox.validation import runs
from stimbox.validation.checks import flagged, skip
from stimbox.validation.context import Context
from stimbox.validation.runs import Output

FAULTS = ("open", "short", "compliance")
PULSES = 6
SOURCE = "StimBox design target (output supervision, docs/SAFETY.md)"
# Beyond the compliance by this much, so the output delivers well under the
# shortfall the firmware flags.
OVER = 1.25


def fault_load(ctx: Context, out: Output, fault: str) -> tuple[dict[str, Any], int]:
    """The sim load for a fault and the amplitude that shows it, from the
    output's declared compliance and the board's open/short thresholds: a
    load between them, driven OVER past what the output can deliver."""
    lim = ctx.board.LIMITS
    amp = max(out.res, round(out.max * 0.1 / out.res) * out.res)
    if fault != "compliance":
        return {"kind": fault}, amp
    if out.kind == "CC":
        ohms = 0.75 * lim["open_ohm"]
        need = OVER * out.decl["compliance"] * 1000 / ohms  # uA
    else:
        ohms = 5.0 * lim["short_ohm"]
        need = OVER * out.decl["current_limit"] * ohms / 1000  # mV
    amp = min(out.max, -(-int(need) // out.res) * out.res)
    return {"kind": "resistor", "ohms": ohms}, amp


def run(ctx: Context) -> None:
    for out in ctx.outputs:
        for fault in FAULTS:
            name = f"faults.{out.name}.{fault}"
            if not ctx.simulated:
                ctx.add(skip(name, out.name, "the phantom cannot switch loads (only a simulated unit's can)"))
                continue
            load, amp = fault_load(ctx, out, fault)
            proto = runs.pulses(out, amp, out.widths[0], rate_hz=runs.top_rate_hz(ctx.board, out),
                                count=PULSES)
            proto, refused = runs.fit(ctx.box, proto, out)
            if refused:
                ctx.add(skip(name, out.name, refused))
                continue
            ctx.box.sim(load=dict(load, output=out.name))
            try:
                r = runs.run(ctx.box, proto)
            finally:
                ctx.put_load(out.name)
            raised = sorted({f for p in r.pulses for f in p.flags})
            ended = r.result.outcome != "complete" and len(r.pulses) < PULSES
            measured = (f"flags {','.join(raised) or 'none'}; run {r.result.outcome} "
                        f"after {len(r.pulses)} of {PULSES} pulses")
            ctx.add(flagged(name, out.name, f"{fault} flag, run ended", measured, fault in raised and ended,
                            SOURCE))
