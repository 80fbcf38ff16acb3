# On-device filter design for the DSP chain, for protocols that name a band
# instead of sending coefficients. Second-order Butterworth sections by the
# bilinear transform with prewarping: the same coefficients as
# scipy.signal.butter(2, f, btype, fs=rate) and scipy.signal.iirnotch.
import math

from stimfw.core.errors import LimitRefused


def butter2(kind, f_hz, rate_hz):
    if not 0 < f_hz < rate_hz / 2:
        raise LimitRefused("corner_hz", f_hz, 0, rate_hz / 2, "Hz")
    k = math.tan(math.pi * f_hz / rate_hz)
    s2 = math.sqrt(2.0)
    norm = 1.0 / (1.0 + s2 * k + k * k)
    a1 = 2.0 * (k * k - 1.0) * norm
    a2 = (1.0 - s2 * k + k * k) * norm
    if kind == "low":
        b0 = k * k * norm
        return [b0, 2.0 * b0, b0, 1.0, a1, a2]
    return [norm, -2.0 * norm, norm, 1.0, a1, a2]


def notch(f_hz, rate_hz, q=30.0):
    """Second-order notch, as scipy.signal.iirnotch(f_hz, q, fs=rate_hz)."""
    w0 = 2.0 * math.pi * f_hz / rate_hz
    beta = math.tan(w0 / q / 2.0)
    g = 1.0 / (1.0 + beta)
    c = math.cos(w0)
    return [g, -2.0 * c * g, g, 1.0, -2.0 * c * g, 2.0 * g - 1.0]


def from_band(cfg):
    """Rows for cfg["band"] = [low_hz, high_hz] (either None or 0 for none)
    and cfg["notch"] = 0, 50 or 60 Hz."""
    rate = cfg["rate_hz"]
    rows = []
    band = cfg.get("band") or (None, None)
    if band[0]:
        rows.append(butter2("high", band[0], rate))
    if band[1]:
        rows.append(butter2("low", band[1], rate))
    nf = cfg.get("notch") or 0
    if nf:
        if nf not in (50, 60):
            raise LimitRefused("notch_hz", nf, 50, 60, "Hz", {"allowed": "0, 50 or 60"})
        rows.append(notch(nf, rate))
    if not rows:
        rows.append([1.0, 0.0, 0.0, 1.0, 0.0, 0.0])
    return rows
