"""Filter coefficients for the device's DSP chain, designed with scipy.

The device takes second-order sections in scipy's own layout, sent as the
"sos" entry of a protocol's acquisition dict: a list of rows
[b0, b1, b2, 1.0, a1, a2]. It refuses rows it cannot run (see
firmware/stimfw/dsp/filters.py, which this module's output is checked against)."""

from __future__ import annotations

from scipy import signal
from stimfw.dsp import filters as device_filters


def _rows(sos) -> list[list[float]]:
    return [[float(v) for v in row] for row in sos]


def bandpass(rate_hz: int, low_hz: float | None, high_hz: float | None, order: int = 2) -> list[list[float]]:
    """Butterworth band-pass (or high/low-pass when one corner is None)."""
    if low_hz and high_hz:
        sos = signal.butter(order, [low_hz, high_hz], btype="bandpass", fs=rate_hz, output="sos")
    elif low_hz:
        sos = signal.butter(order, low_hz, btype="highpass", fs=rate_hz, output="sos")
    elif high_hz:
        sos = signal.butter(order, high_hz, btype="lowpass", fs=rate_hz, output="sos")
    else:
        return []
    return _rows(sos)


def notch(rate_hz: int, mains_hz: float, q: float = 30.0) -> list[list[float]]:
    b, a = signal.iirnotch(mains_hz, q, fs=rate_hz)
    return _rows(signal.tf2sos(b, a))


def design(rate_hz: int, band: tuple[float | None, float | None], notch_hz: float = 0,
           order: int = 2) -> list[list[float]]:
    """Rows for the device, validated by the device's own rules before sending."""
    rows = bandpass(rate_hz, band[0], band[1], order)
    if notch_hz:
        rows += notch(rate_hz, notch_hz)
    return device_filters.validate(rows)
