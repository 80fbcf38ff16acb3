"""ulab.scipy.signal: only sosfilt exists in ulab."""

from __future__ import annotations

import numpy
from scipy import signal as _sp

from ..numpy import _as_np, ndarray


def sosfilt(sos, x, *, zi=None):
    """ulab's sosfilt: float32 arithmetic; zi of shape (n_sections, 2); returns
    y, or (y, zf) when zi is given."""
    s = numpy.asarray(_as_np(sos), dtype=numpy.float32)
    if s.ndim != 2 or s.shape[1] != 6:
        raise ValueError("sos array must be of shape (n_section, 6)")
    xs = numpy.asarray(_as_np(x), dtype=numpy.float32)
    if xs.ndim != 1:
        raise ValueError("input must be a one-dimensional array")
    if zi is None:
        return ndarray(_sp.sosfilt(s, xs).astype(numpy.float32))
    z = numpy.asarray(_as_np(zi), dtype=numpy.float32)
    if z.shape != (s.shape[0], 2):
        raise ValueError("zi must be an ndarray of shape (n_section, 2)")
    y, zf = _sp.sosfilt(s, xs, zi=z)
    return ndarray(y.astype(numpy.float32)), ndarray(zf.astype(numpy.float32))
