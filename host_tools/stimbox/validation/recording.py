"""Recording group: per amplifier channel, with its inputs on a known
source (the unit's calibrator, or a lab's phantom box declared in the
phantom file):
- gain, latency and amplitude: the channel's average of a triggered burst
  against the known waveform put through the same band on the host (scipy,
  as the device filters: zero state at each sweep's start), like with like;
- noise: inputs shorted, one sweep through the band, uV r.m.s.;
- mains: a mains sine on the inputs, one long sweep through the band and
  the notch; the rejection (applied / residual at mains, dB) against what
  the same filters give the same sine on the host.
Noise and mains need the unit's calibrator (a phantom box is not switched
on command); a board with neither calibrator nor phantom box: SKIP."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import signal
from simunit.calibrator import waveform
from stimfw.dsp import design

from stimbox.validation import runs
from stimbox.validation.checks import judge, skip
from stimbox.validation.context import Context

KINDS = ("gain", "latency", "amplitude", "noise", "mains")
BATCH = 6  # channels per run: the averaging memory of the smallest board
MAINS_BATCH = 2  # the mains sweep is long: fewer channels per run
SWEEPS = 16
BAND = (10.0, 2000.0)
SIG = {"rate_hz": 10000, "pre_ms": 5, "post_ms": 30}
MAINS = {"rate_hz": 5000, "pre_ms": 0, "post_ms": 500}
MAINS_TAIL_MS = 100  # the residual is measured over the sweep's last part
MAX_LAG_MS = 2.0


def _names(ch: int) -> list[str]:
    return [f"recording.ch{ch}.{k}" for k in KINDS]


def channels(ctx: Context) -> tuple[list[int], str | None]:
    """The channels to check and, if none can be, why."""
    cal = ctx.phantom.calibrator
    if cal is not None and cal["source"] == "box":
        return [int(c) for c in cal["channels"]], None
    n = int(getattr(ctx.board, "AMP_CHANNELS", 0))
    if ctx.info.get("calibrator") is None:
        return list(range(n)), "no calibrator on this board and no phantom box in the phantom file"
    if cal is None:
        return list(range(n)), "the phantom file declares no calibrator"
    if not ctx.simulated:
        return list(range(n)), "the unit's calibrator is switched by sim requests, which this unit does not take"
    return list(range(n)), None


def run(ctx: Context) -> None:
    chans, why = channels(ctx)
    if why is not None:
        for ch in chans or [-1]:
            for name in _names(ch) if ch >= 0 else ["recording.channels"]:
                ctx.add(skip(name, f"ch{ch}" if ch >= 0 else "-", why))
        return
    cal = dict(ctx.phantom.calibrator or {})
    trig = next(o for o in ctx.outputs if o.name == cal["trigger"])
    try:
        for i in range(0, len(chans), BATCH):
            batch = chans[i:i + BATCH]
            _signal(ctx, cal, trig, batch)
            if cal["source"] == "unit":
                _noise(ctx, trig, batch)
                for j in range(0, len(batch), MAINS_BATCH):
                    _mains(ctx, cal, trig, batch[j:j + MAINS_BATCH])
            else:
                for ch in batch:
                    for name in _names(ch)[3:]:
                        ctx.add(skip(name, f"ch{ch}", "a phantom box is not switched to shorted inputs "
                                                      "or mains on command"))
    finally:
        if cal["source"] == "unit":
            ctx.box.sim(calibrator={"mode": "off"})


def _record(batch: list[int], cfg: dict[str, Any], **more: Any) -> dict[str, Any]:
    return dict(cfg, channels=list(batch), band=list(BAND), **more)


def _trigger_run(ctx: Context, trig: runs.Output, rec: dict[str, Any], count: int,
                 rate: float | None = None) -> tuple[runs.Run | None, str | None]:
    amp = max(trig.res, round(trig.max * 0.01 / trig.res) * trig.res)
    proto = runs.pulses(trig, amp, trig.widths[0], count=count,
                        rate_hz=rate or runs.top_rate_hz(ctx.board, trig), record=rec)
    proto, refused = runs.fit(ctx.box, proto, trig)
    if refused:
        return None, refused
    return runs.run(ctx.box, proto), None


def _filtered(rec: dict[str, Any], x: np.ndarray) -> np.ndarray:
    sos = np.array(design.from_band({"rate_hz": rec["rate_hz"], "band": rec["band"],
                                     "notch": rec.get("notch", 0)}))
    return np.asarray(signal.sosfilt(sos, x))


def _averages(ctx: Context, batch: list[int]) -> dict[int, np.ndarray]:
    return {ch: np.array(ctx.box.average("pulses", "ab", ch)) for ch in batch}


def _lag_ms(m: np.ndarray, e: np.ndarray, rate: int) -> float:
    """How far m lags e: the cross-correlation's peak, interpolated."""
    k = int(MAX_LAG_MS * rate / 1000)
    lags = range(-k, k + 1)
    c = np.array([np.dot(m[max(0, j):len(m) + min(0, j)], e[max(0, -j):len(e) - max(0, j)]) for j in lags])
    i = int(np.argmax(c))
    frac = 0.0
    if 0 < i < len(c) - 1:
        den = c[i - 1] - 2 * c[i] + c[i + 1]
        frac = 0.5 * (c[i - 1] - c[i + 1]) / den if den else 0.0
    return (lags[i] + frac) * 1000 / rate


def _signal(ctx: Context, cal: dict[str, Any], trig: runs.Output, batch: list[int]) -> None:
    spec = {"mode": "signal", "channels": batch, "trigger": cal["trigger"], "waveform": cal["waveform"],
            "freq_hz": cal["freq_hz"], "amp_uv": cal["amp_uv"], "delay_ms": cal["delay_ms"]}
    if cal["source"] == "unit":
        ctx.box.sim(calibrator=spec)
    rec = _record(batch, SIG)
    r, refused = _trigger_run(ctx, trig, rec, SWEEPS)
    if r is None:
        for ch in batch:
            for name in _names(ch)[:3]:
                ctx.add(skip(name, f"ch{ch}", str(refused)))
        return
    rate = rec["rate_hz"]
    pre = int(rec["pre_ms"] * rate / 1000)
    n = pre + int(rec["post_ms"] * rate / 1000)
    t_us = (np.arange(n) - pre) * 1e6 / rate
    expected = _filtered(rec, waveform(spec, t_us))
    pp_e = float(expected.max() - expected.min())
    for ch, m in _averages(ctx, batch).items():
        names = _names(ch)
        subject = f"ch{ch}"
        gain = float(np.dot(m, expected) / np.dot(expected, expected))
        ctx.add(judge(names[0], subject, 1.0, gain, "", ctx.tol["gain"]))
        ctx.add(judge(names[1], subject, 0.0, _lag_ms(m, expected, rate), "ms", ctx.tol["latency"]))
        ctx.add(judge(names[2], subject, pp_e, float(m.max() - m.min()), "uV pp", ctx.tol["rec_amplitude"]))
        ctx.averages.append({"subject": subject, "t_ms": [round(t / 1000, 4) for t in t_us],
                             "measured_uv": [round(float(x), 3) for x in m],
                             "expected_uv": [round(float(x), 3) for x in expected]})


def _noise(ctx: Context, trig: runs.Output, batch: list[int]) -> None:
    ctx.box.sim(calibrator={"mode": "short", "channels": batch})
    rec = _record(batch, SIG, split=False)
    r, refused = _trigger_run(ctx, trig, rec, 1)
    for ch, m in (_averages(ctx, batch) if r is not None else {c: None for c in batch}).items():
        name = _names(ch)[3]
        if m is None:
            ctx.add(skip(name, f"ch{ch}", str(refused)))
        else:
            ctx.add(judge(name, f"ch{ch}", 0.0, float(np.sqrt(np.mean(m ** 2))), "uV rms", ctx.tol["noise"]))


def _residual(x: np.ndarray, f: float, rate: int) -> float:
    """Amplitude of the f Hz component of x (least squares)."""
    t = np.arange(len(x)) / rate
    a = np.column_stack([np.sin(2 * np.pi * f * t), np.cos(2 * np.pi * f * t)])
    coef, *_ = np.linalg.lstsq(a, x - x.mean(), rcond=None)
    return float(math.hypot(*coef))


def _mains(ctx: Context, cal: dict[str, Any], trig: runs.Output, batch: list[int]) -> None:
    f = float(cal["mains_hz"])
    amp = float(cal["mains_uv"])
    ctx.box.sim(calibrator={"mode": "mains", "channels": batch, "amp_uv": amp, "freq_hz": f})
    rec = _record(batch, MAINS, notch=int(f), split=False)
    # One sweep, triggered once: the sine is continuous, so the host's copy
    # starts at the sweep's start with the phase the unit saw there.
    r, refused = _trigger_run(ctx, trig, rec, 1)
    if r is None:
        for ch in batch:
            ctx.add(skip(_names(ch)[4], f"ch{ch}", str(refused)))
        return
    rate = rec["rate_hz"]
    tail = int(MAINS_TAIL_MS * rate / 1000)
    n = int(rec["post_ms"] * rate / 1000)
    t = np.arange(n) / rate
    # The sweep starts at a mains phase the host does not know, and the
    # filters start from zero there: the host's copy is the same sine
    # through the same filters, at the phase fitted on the sweep's start.
    fs, fc = (_filtered(rec, amp * g(2 * math.pi * f * t)) for g in (np.sin, np.cos))
    for ch, m in _averages(ctx, batch).items():
        coef, *_ = np.linalg.lstsq(np.column_stack([fs[:tail], fc[:tail]]), m[:tail], rcond=None)
        ph = math.atan2(coef[1], coef[0])
        e = math.cos(ph) * fs + math.sin(ph) * fc
        expected_db = 20 * math.log10(amp / max(_residual(e[-tail:], f, rate), 1e-9))
        got_db = 20 * math.log10(amp / max(_residual(m[-tail:], f, rate), 1e-9))
        ctx.add(judge(_names(ch)[4], f"ch{ch}", round(expected_db, 2), got_db, "dB", ctx.tol["mains"]))
