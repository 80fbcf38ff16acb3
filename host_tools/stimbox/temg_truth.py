"""The true triggered-EMG threshold of each recorded muscle, from the
simulated unit's model alone: the lowest probe current whose noise-free
response (the model's median trial: no amplitude or latency jitter),
passed through the band the protocol records with (the firmware's own
filter design, the sweep filtered causally from rest as the unit filters
it) and measured peak-to-peak in the protocol's response window, reaches
the detection level. Nothing of the firmware's search goes into it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from simunit.montage import CHANNELS
from simunit.physiology import Physiology
from stimfw.dsp import filters as device_filters


class _Median:
    """An rng whose draws are the distributions' medians: the model's
    noise-free trial."""

    def lognormal(self, mean: float, sigma: float) -> float:
        return math.exp(mean)

    def normal(self, loc: float, scale: float) -> float:
        return loc


def response_pp_uv(phys: Physiology, screw: str, channel: int, current_ua: float, width_us: int,
                   record: dict[str, Any], t_s: float = 0.0,
                   modifiers: Any = None) -> float:
    """Peak-to-peak (uV) on one channel of the noise-free response to one
    probe pulse, through the record table's band, in its response window."""
    from scipy import signal

    mods = modifiers or (lambda name: (1.0, 1.0, 1.0))
    t0 = 1_000_000.0
    q_uc = current_ua * width_us / 1e6
    waves, _ = phys.probe(screw, q_uc, width_us, t0, _Median(), mods)  # type: ignore[arg-type]
    rate = int(record["rate_hz"])
    pre = int(record.get("pre_ms", 0) * rate / 1000)
    n = pre + int(record["post_ms"] * rate / 1000)
    t = t0 + (np.arange(n) - pre) * 1e6 / rate
    y = np.zeros(n)
    for w in waves:
        if w.channel == channel:
            y += w.amp_uv * np.exp(-0.5 * ((t - w.t_us) / w.sigma_us) ** 2)
    sos = np.asarray(device_filters.from_config(record), dtype=float)
    y = signal.sosfilt(sos, y)
    win = record.get("response_ms", (0, record["post_ms"]))
    i0 = max(pre + int(win[0] * rate / 1000 + 0.5), 0)
    i1 = min(pre + int(win[1] * rate / 1000 + 0.5) + 1, n)
    seg = y[i0:i1]
    return float(seg.max() - seg.min()) if len(seg) else 0.0


def thresholds_ua(phys: Physiology, screw: str, protocol: dict[str, Any], level_uv: float,
                  stop_ua: int, modifiers: Any = None) -> dict[str, float | None]:
    """Per recorded channel (its montage name): the current (uA, to 1 uA)
    at which the noise-free response reaches level_uv, or None when it does
    not by stop_ua. Recruitment rises with current, so a bisection finds it."""
    record = protocol["record"]
    width = int(protocol.get("width_us", 200))
    out: dict[str, float | None] = {}
    for ch in record["channels"]:
        def pp(a: float, ch: int = ch) -> float:
            return response_pp_uv(phys, screw, ch, a, width, record, modifiers=modifiers)

        name = CHANNELS[ch].name
        if pp(stop_ua) < level_uv:
            out[name] = None
            continue
        lo, hi = 0.0, float(stop_ua)
        while hi - lo > 1.0:
            mid = (lo + hi) / 2
            if pp(mid) >= level_uv:
                hi = mid
            else:
                lo = mid
        out[name] = hi
    return out
