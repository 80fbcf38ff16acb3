# ruff: noqa: F821 - ptr16/ptr32 are viper type names
# DSP chain on boards with ulab: the interface and results of dsp/fixed.py,
# with the filter run by ulab's scipy.signal.sosfilt in the board's float
# (float32). The rest of the chain - rail count, baseline, span, the A/B sums
# and the means - is fixed.SweepSums, the same viper code as the fallback's:
# both backends average identically, and the sums live in the DSP arena.
# dsp/backend.py imports this module only after checking that ulab has
# scipy.signal.sosfilt and a 4-byte float.
#
# Import forms: only `from ulab import numpy` and `from ulab import scipy`
# (then scipy.signal.sosfilt). `from ulab.scipy.signal import sosfilt` needs
# MICROPY_MODULE_BUILTIN_SUBPACKAGES, which rp2 and stm32 builds lack.
#
# Per channel and sweep (process):
#   1. rail count and baseline (viper, fixed.py), then buf[i] = clamp16(buf[i]
#      - base) in place (viper);
#   2. y = sosfilt(sos, raw): raw is an int16 ndarray view of buf (in parts
#      of CHUNK samples, the state carried), made once per buffer; sosfilt
#      converts it to float itself, so no float work array is needed, and sos
#      is a tuple of tuples (iterating a 2-D ndarray would make a row view
#      per section);
#   3. buf[i] = round(y[i]) clamped to int16, largest |output| (viper, reading
#      y's float32 bits through the buffer protocol, integer arithmetic only).
#
# Allocation: sosfilt has no out= argument; every call allocates its output
# (up to CHUNK floats), the final-state array zf, the (y, zf) tuple and
# their headers and shape vectors: 4k + about 200 bytes per part of k
# samples on a 32-bit build, freed at the next collection.
# Nothing else in process(), accumulate() or FreeRunChain.process()
# allocates. ulab's arithmetic would not help: every ndarray binary
# operator, in-place ones included, allocates shape/stride scratch (m_new0),
# and slicing makes a new ndarray. Measured figures and the tests that bound
# them: docs/DSP.md.
from array import array

import micropython
from ulab import numpy as np
from ulab import scipy

from stimfw.dsp import fixed

NAME = "ulab"
MAX_SWEEPS_PER_SPLIT = fixed.MAX_SWEEPS_PER_SPLIT
# Samples per sosfilt call: a sweep or block is filtered in parts this long
# with the state carried from part to part (the same arithmetic as one
# call), so the output sosfilt allocates is at most 4 * CHUNK bytes at a
# time. A whole channel's (3.4 KB for a TcMEP sweep) needed a contiguous
# block that a long case's fragmented heap could lack.
CHUNK = 128
_sosfilt = scipy.signal.sosfilt


def _rows(sos_rows):
    """SOS rows as a tuple of 6-float tuples: what sosfilt iterates without
    allocating."""
    return tuple(tuple(float(v) for v in row) for row in sos_rows)


def _parts(raw, first, n, stride):
    """Views of samples first, first + stride, ... (n of them) of raw, at
    most CHUNK samples each, made once per buffer."""
    return tuple(raw[first + i * stride : first + min(i + CHUNK, n) * stride : stride]
                 for i in range(0, n, CHUNK))


def _filter(sos, parts, zi, dst, first, stride):
    """Filter the parts in turn from state zi, the output rounded into dst
    from index first (every stride-th item); returns (largest |output|,
    final state)."""
    peak = 0
    i = first
    for x in parts:
        y, zi = _sosfilt(sos, x, zi=zi)
        k = len(y)
        p = f32_to_i16(dst, i, stride, y, k)
        if p > peak:
            peak = p
        i += k * stride
    return peak, zi


@micropython.viper
def clamp_sub(buf: ptr16, n: int, base: int):
    """buf[i] = clamp(buf[i] - base) to int16, for i < n."""
    for i in range(n):
        x = ((int(buf[i]) ^ 0x8000) - 0x8000) - base
        if x > 32767:
            x = 32767
        elif x < -32768:
            x = -32768
        buf[i] = x


@micropython.viper
def f32_to_i16(dst: ptr16, start: int, stride: int, src: ptr32, n: int) -> int:
    """dst[start + i*stride] = src[i] (float32) rounded half away from zero
    (as ulab rounds) and clamped to int16, for i < n. Returns the largest
    |output|. The float is decoded from its bits: sign s, exponent e,
    mantissa m (with the hidden bit), value m * 2**(e - 150)."""
    peak = 0
    idx = start
    for i in range(n):
        b = int(src[i])
        e = (b >> 23) & 0xFF
        if e < 126:  # |v| < 0.5
            y = 0
        elif e > 141:  # |v| >= 2**15, and inf/nan
            y = 32768
        else:  # 2**-1 <= |v| < 2**15: shift 9..24
            sh = 150 - e
            y = (((b & 0x7FFFFF) | 0x800000) + (1 << (sh - 1))) >> sh
        if (b >> 31) & 1:
            dst[idx] = 0 - y
        else:
            if y > 32767:
                y = 32767
            dst[idx] = y
        if y > peak:
            peak = y
        idx += stride
    return peak


class SweepChain(fixed.SweepSums):
    """fixed.SweepSums with the filter run by ulab's sosfilt."""

    def __init__(self, n_ch, n, sos_rows):
        self.sos = _rows(sos_rows)
        self._zero = np.zeros((len(self.sos), 2), dtype=np.float)  # sosfilt leaves zi as it is
        self._src = None  # the buffer self._parts view
        self._parts = None
        fixed.SweepSums.__init__(self, n_ch, n)

    def prepare(self, buf):
        """The views of the sweep buffer buf, made with the run's set-up
        rather than at its first sweep, among that sweep's transient objects."""
        n = self.n
        self._parts = _parts(np.frombuffer(buf, dtype=np.int16, count=n), 0, n, 1)
        self._src = buf

    def process(self, buf):
        """Filter one channel's sweep in place (zero state per sweep); see
        fixed.SweepChain.process."""
        if buf is not self._src:
            self.prepare(buf)
        n = self.n
        sat = fixed.saturated(buf, n)
        clamp_sub(buf, n, fixed.baseline(buf, n))
        self.peak = _filter(self.sos, self._parts, self._zero, buf, 0, 1)[0]
        return sat


@micropython.viper
def copy32(dst: ptr32, src: ptr32, n: int):
    """dst[i] = src[i] for i < n (32-bit words)."""
    for i in range(n):
        dst[i] = src[i]


class FreeRunChain:
    """Block filtering with the sosfilt state (n_sections, 2) carried per
    channel from block to block.

    What lasts is made once: each channel's state array (sosfilt's final
    state is copied into it, not kept: a new one per channel and block would
    be a small object living one block, wherever that block's transient
    objects had filled the heap) and the views of the block buffer
    (prepare(), at set-up)."""

    def __init__(self, n_ch, sos_rows):
        self.n_ch = n_ch
        self.sos = _rows(sos_rows)
        self.nsec = len(self.sos)
        self.zi = [np.zeros((self.nsec, 2), dtype=np.float) for _ in range(n_ch)]
        self.peaks = array("i", bytearray(4 * n_ch))
        self._src = None  # the buffer and block length self._parts are for
        self._n = 0
        self._parts = None

    def reset(self):
        for z in self.zi:
            for i in range(self.nsec):
                z[i, 0] = 0.0
                z[i, 1] = 0.0

    def prepare(self, buf, n):
        """The views of blocks of n samples per channel in buf."""
        n_ch = self.n_ch
        raw = np.frombuffer(buf, dtype=np.int16, count=n * n_ch)
        self._parts = [_parts(raw, c, n, n_ch) for c in range(n_ch)]
        self._src = buf
        self._n = n

    def process(self, buf, n):
        """Filter n samples per channel of an interleaved block in place;
        self.peaks holds each channel's largest |output|."""
        n_ch = self.n_ch
        if buf is not self._src or n != self._n:
            self.prepare(buf, n)
        parts = self._parts
        zi = self.zi
        words = 2 * self.nsec
        for c in range(n_ch):
            self.peaks[c], zf = _filter(self.sos, parts[c], zi[c], buf, c, n_ch)
            copy32(zi[c], zf, words)
