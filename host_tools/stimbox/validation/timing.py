"""Timing group: per output a run of pulses at the highest rate its limits
allow; the unit reads back each pulse's onset against its scheduled start.
Mean onset, jitter (r.m.s. about the mean), and the repetition period
measured from the onsets against the requested one; on the transcranial
output trains, with their pulse interval and duration."""

from __future__ import annotations

from statistics import fmean, pstdev

from stimbox.validation import runs
from stimbox.validation.checks import judge, skip
from stimbox.validation.context import Context
from stimbox.validation.runs import Output

SINGLE = 6  # single pulses per run
# TC: trains of two pulses, three trains: three pulses in a row flagged end
# a run (the limits' flags_abort), and even then two trains are in for the
# period and one whole train for its interval and length.
TRAIN = 2
TRAINS = 3
TC = "TC"


def run(ctx: Context) -> None:
    for out in ctx.outputs:
        _output(ctx, out)


def _output(ctx: Context, out: Output) -> None:
    width = out.widths[0]
    amp = max(out.res, round(out.max * 0.1 / out.res) * out.res)
    rate = runs.top_rate_hz(ctx.board, out)
    train = out.name == TC
    n = TRAIN if train else 1
    isi = runs.isi_for(ctx.board, width)
    proto = runs.pulses(out, amp, width, pulses=n, isi_us=isi, rate_hz=rate, count=TRAINS if train else SINGLE)
    proto, refused = runs.fit(ctx.box, proto, out)
    names = [f"timing.{out.name}.{k}" for k in ("onset", "jitter", "rate")]
    if train:
        names += [f"timing.{TC}.isi", f"timing.{TC}.train"]
    if refused:
        for name in names:
            ctx.add(skip(name, out.name, refused))
        return
    r = runs.run(ctx.box, proto)
    ps = r.pulses
    period = 1e6 / rate
    why = f"too few pulses read back ({len(ps)}, run {r.result.outcome})"
    # Each pulse's measured start: its scheduled start plus the onset the unit read back.
    start = {p.index: (p.index // n) * period + (p.index % n) * isi + p.onset_us for p in ps}
    onsets = [p.onset_us for p in ps]
    ctx.add(judge(names[0], out.name, 0.0, fmean(onsets) if ps else None, "us", ctx.tol["onset"], why))
    ctx.add(judge(names[1], out.name, 0.0, pstdev(onsets) if len(ps) > 1 else None, "us rms",
                  ctx.tol["jitter"], why))
    firsts = sorted(t for i, t in start.items() if i % n == 0)
    gaps = [b - a for a, b in zip(firsts, firsts[1:], strict=False)]
    ctx.add(judge(names[2], out.name, period, fmean(gaps) if gaps else None, "us", ctx.tol["rate"], why))
    if not train:
        return
    inner = [start[i + 1] - start[i] for i in start if (i + 1) % n and i + 1 in start]
    ctx.add(judge(names[3], out.name, isi, fmean(inner) if inner else None, "us", ctx.tol["isi"], why))
    width_of = {p.index: p.width_us for p in ps}
    spans = [start[t * n + n - 1] + width_of[t * n + n - 1] - start[t * n]
             for t in range(TRAINS) if t * n in start and t * n + n - 1 in start]
    ctx.add(judge(names[4], out.name, (n - 1) * isi + width, fmean(spans) if spans else None, "us",
                  ctx.tol["train"], why))
