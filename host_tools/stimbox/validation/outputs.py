"""Output group: per output a grid of amplitudes x widths across its
range, each cell a short run of biphasic test pulses; delivered amplitude,
charge and width against what was set. Biphasic group: each output's
charge balance over the pulses of its cells."""

from __future__ import annotations

from statistics import fmean

from stimbox.validation import runs
from stimbox.validation.checks import judge, skip
from stimbox.validation.context import Context
from stimbox.validation.runs import Output

AMP_FRACTIONS = (0.1, 0.5, 1.0)  # of the output's maximum, before the limits bring it down
GAP_US = 20
PULSES = 3


def grid(out: Output) -> list[tuple[int, int]]:
    lo, hi = out.widths
    mid = (lo + hi) // 2 // 10 * 10
    amps = sorted({max(out.res, round(out.max * f / out.res) * out.res) for f in AMP_FRACTIONS})
    return [(a, w) for a in amps for w in sorted({lo, mid, hi})]


def expected_charge_nc(out: Output, amp: int, width: int, ohms: float | None) -> float | None:
    """Phase-1 charge of a pulse as set: uA x us, or for a constant-voltage
    output mV / ohm of the phantom x us; None without a declared resistor."""
    if out.kind == "CC":
        return amp * width / 1000
    return None if ohms is None else amp * width / ohms


def run(ctx: Context) -> None:
    for out in ctx.outputs:
        balance: list[float] = []
        done: set[str] = set()
        for amp, width in grid(out):
            proto = runs.pulses(out, amp, width, shape="bi", gap_us=GAP_US, pulses=PULSES,
                                isi_us=runs.isi_for(ctx.board, width, GAP_US, width), count=1)
            proto, refused = runs.fit(ctx.box, proto, out)
            a = int(proto[out.amp_key])
            cell = out.cell(a, width)
            if cell in done:
                continue  # the limits brought two cells to the same pulse
            done.add(cell)
            names = [f"output.{out.name}.{k}@{cell}" for k in ("amplitude", "charge", "width")]
            if refused:
                for n in names:
                    ctx.add(skip(n, out.name, refused))
                continue
            r = runs.run(ctx.box, proto, trace=True)
            ps = r.pulses
            none = None if ps else f"no pulse read back (run {r.result.outcome})"
            ctx.add(judge(names[0], out.name, out.show(a), out.show(fmean(p.amp for p in ps)) if ps else None,
                          out.unit, ctx.tol["amplitude"], none))
            q = expected_charge_nc(out, a, width, ctx.phantom.ohms(out.name))
            if q is None:
                ctx.add(skip(names[1], out.name, f"the phantom declares no resistor on {out.name}"))
            else:
                ctx.add(judge(names[1], out.name, q / 1000, fmean(p.charge_nc for p in ps) / 1000 if ps else None,
                              "uC", ctx.tol["charge"], none))
            ctx.add(judge(names[2], out.name, width, fmean(p.width_us for p in ps) if ps else None, "us",
                          ctx.tol["width"], none))
            balance += [100 * abs(p.charge_nc - p.charge2_nc) / p.charge_nc for p in ps if p.charge_nc > 0]
            if r.trace and r.trace.get("run") is not None:
                ctx.traces.append({"subject": out.name, "cell": cell,
                                   "requested": {"amp": out.show(a), "unit": out.unit, "width_us": width,
                                                 "shape": "bi", "gap_us": GAP_US}, **runs.trace_arrays(r.trace)})
        name = f"biphasic.{out.name}.balance"
        if balance:
            ctx.add(judge(name, out.name, 0.0, max(balance), "%", ctx.tol["balance"]))
        else:
            ctx.add(skip(name, out.name, "no biphasic pulse of this output was delivered"))
