# ruff: noqa: F821 - ptr16/ptr32 are viper type names
# Fixed-point DSP kernels for boards without ulab (and the Unix port), and the
# A/B sums both backends use (SweepSums).
#
# Viper code: native machine ints, so every intermediate must fit a signed
# 32-bit word on a real MCU (armv6m, armv7emsp). The Unix port runs the same
# code with 64-bit ints, where an overflow would go unnoticed; the bounds
# below are the proof, and tests/test_dsp_fixed_overflow.py checks them against a
# 32-bit model of this exact arithmetic with worst-case inputs.
#
# Number formats
#   samples      int16, the amplifier's LSB
#   signal       Q12 of an LSB: |s| <= 2**27 (clamped after every section)
#   coefficient  Q27, |c| < 4 so |c_q| < 2**29; stored pre-split as
#                ch = c_q >> 14 in [-2**15, 2**15) and cl = c_q & 0x3FFF
#   state/accumulators in int32 arrays are stored with a positive bias so
#                that a zero-extending 32-bit load (x86-64 viper) and a plain
#                one (ARM) read the same value.
#
# Product s * c >> 27 with s = sh*2**14 + sl (sh = s >> 14, sl in [0, 2**14)):
#   s*c >> 27 = 2*sh*ch + (sh*cl + sl*ch + (sl*cl >> 14) + 2**12) >> 13
#   |2*sh*ch|          <= 2 * 2**13 * 2**15 = 2**29
#   |sh*cl|            <= 2**13 * 2**14     = 2**27
#   |sl*ch|            <= 2**14 * 2**15     = 2**29
#   sl*cl >> 14        <  2**14
#   mid sum            <  2**27 + 2**29 + 2**14 + 2**12 < 2**30
# and the product is within 2 of s*coef, so |product| <= 2**27*|coef| + 2.
# One biquad output acc = b0 x0 + b1 x1 + b2 x2 - a1 y1 - a2 y2 is bounded by
# 2**27 * (|b0|+|b1|+|b2|+|a1|+|a2|) + 10; filters.validate() enforces
# sum|b| <= 4 and stability gives |a1| < 2, |a2| < 1, so |acc| < 7 * 2**27 + 10
# < 2**30: no partial sum can overflow. The section output is then clamped
# to +-2**27, which keeps the next section's input inside the bound.
# Accumulators: see Acc24 below.
import gc
from array import array

import micropython

from stimfw.core import arena

Q = 27  # coefficient fraction bits
SIG_SHIFT = 12  # signal fraction bits
SIG_MAX = (1 << 27) - 1
STATE_BIAS = 1 << 28  # state words hold value + bias in (0, 2**29)
MAX_SWEEPS_PER_SPLIT = (1 << 13) - 1
NAME = "fixed"


def quantize(sos_rows):
    """SOS rows [b0, b1, b2, 1, a1, a2] -> int16 array, 10 words a section:
    (ch, cl) for b0, b1, b2, a1, a2."""
    q = array("h", bytearray(20 * len(sos_rows)))
    k = 0
    for row in sos_rows:
        for j in (0, 1, 2, 4, 5):
            c = int(round(row[j] * (1 << Q)))
            q[k] = c >> 14
            q[k + 1] = c & 0x3FFF
            k += 2
    return q


def new_state(n_sections):
    """Zeroed DF1 state (x1, x2, y1, y2 per section) in the biased form."""
    st = array("I", bytearray(16 * n_sections))
    reset_state(st)
    return st


def reset_state(st):
    for i in range(len(st)):
        st[i] = STATE_BIAS


@micropython.viper
def sosfilt_i16(buf: ptr16, start: int, stride: int, n: int, base: int, coef: ptr16,
                nsec: int, st: ptr32) -> int:
    """Filter buf[start + i*stride], i < n, in place through the cascade.

    The input is clamp(x - base) to int16, the output is rounded to int16
    and clamped. st carries the DF1 state (biased) between calls. Returns the
    largest |output|, for amplitude rejection."""
    smax = int(SIG_MAX)
    bias = int(STATE_BIAS)
    peak = 0
    idx = start
    for _ in range(n):
        x = ((int(buf[idx]) ^ 0x8000) - 0x8000) - base
        if x > 32767:
            x = 32767
        elif x < -32768:
            x = -32768
        v = x << 12
        k = 0
        while k < nsec:
            c = k * 10
            o = k * 4
            x1 = int(st[o]) - bias
            x2 = int(st[o + 1]) - bias
            y1 = int(st[o + 2]) - bias
            y2 = int(st[o + 3]) - bias
            # each term: 2*sh*ch + rounded mid part; see the module comment
            sh = v >> 14
            sl = v & 0x3FFF
            ch = (int(coef[c]) ^ 0x8000) - 0x8000
            cl = int(coef[c + 1])
            acc = 2 * sh * ch + ((sh * cl + sl * ch + ((sl * cl) >> 14) + 4096) >> 13)
            sh = x1 >> 14
            sl = x1 & 0x3FFF
            ch = (int(coef[c + 2]) ^ 0x8000) - 0x8000
            cl = int(coef[c + 3])
            acc += 2 * sh * ch + ((sh * cl + sl * ch + ((sl * cl) >> 14) + 4096) >> 13)
            sh = x2 >> 14
            sl = x2 & 0x3FFF
            ch = (int(coef[c + 4]) ^ 0x8000) - 0x8000
            cl = int(coef[c + 5])
            acc += 2 * sh * ch + ((sh * cl + sl * ch + ((sl * cl) >> 14) + 4096) >> 13)
            sh = y1 >> 14
            sl = y1 & 0x3FFF
            ch = (int(coef[c + 6]) ^ 0x8000) - 0x8000
            cl = int(coef[c + 7])
            acc -= 2 * sh * ch + ((sh * cl + sl * ch + ((sl * cl) >> 14) + 4096) >> 13)
            sh = y2 >> 14
            sl = y2 & 0x3FFF
            ch = (int(coef[c + 8]) ^ 0x8000) - 0x8000
            cl = int(coef[c + 9])
            acc -= 2 * sh * ch + ((sh * cl + sl * ch + ((sl * cl) >> 14) + 4096) >> 13)
            if acc > smax:
                acc = smax
            elif acc < 0 - smax:
                acc = 0 - smax
            st[o] = v + bias
            st[o + 1] = x1 + bias
            st[o + 2] = acc + bias
            st[o + 3] = y1 + bias
            v = acc
            k += 1
        y = (v + 2048) >> 12
        if y > 32767:
            y = 32767
        elif y < -32768:
            y = -32768
        buf[idx] = y
        if y < 0:
            y = 0 - y
        if y > peak:
            peak = y
        idx += stride
    return peak


@micropython.viper
def saturated(buf: ptr16, n: int) -> int:
    """Count of samples at either ADC rail in buf[0:n]."""
    cnt = 0
    for i in range(n):
        v = int(buf[i])
        if v == 0x7FFF or v == 0x8000:
            cnt += 1
    return cnt


@micropython.viper
def head_sum(buf: ptr16, start: int, stride: int, n: int) -> int:
    s = 0
    idx = start
    for _ in range(n):
        s += (int(buf[idx]) ^ 0x8000) - 0x8000
        idx += stride
    return s


@micropython.viper
def span_i16(buf: ptr16, i0: int, i1: int) -> int:
    hi = -32768
    lo = 32767
    for i in range(i0, i1):
        v = (int(buf[i]) ^ 0x8000) - 0x8000
        if v > hi:
            hi = v
        if v < lo:
            lo = v
    if i1 <= i0:
        return 0
    return hi - lo


# --- averaging accumulators ----------------------------------------------------
# 8 channels x 1000 samples x 2 splits must fit a ~96 KB heap next to the
# firmware, so a sum takes 3 bytes (signed 24-bit, little-endian) instead of
# 4, in block-floating form. Sweeps are accepted or rejected per channel, so
# each channel of a split keeps its own count and shift: the stored value v
# holds that channel's sum in units of 2**shift. A channel holds at most
# 2**(8 + shift) - 1 sweeps at a given shift, so
# |v| <= (2**(8+shift) - 1) * 2**(15-shift) < 2**23; the next sweep first
# halves that channel's v (rounding) and raises its shift.
#   exact (shift 0) up to 255 sweeps of a channel in a split;
#   error of the mean <= 2**(shift-1) + 2**shift / n LSB: 2 LSB at 1000 sweeps
#   per split (3.1e-5 of full scale), 16 LSB at the 8191-sweep cap (2.4e-4).
# The bound holds per channel whatever the other channels' counts are.
# All intermediates stay below 2**24 in magnitude.

@micropython.viper
def acc3_add(acc: ptr8, j: int, buf: ptr16, start: int, stride: int, n: int, shift: int):
    """24-bit little-endian words from byte j of acc on:
    word[i] += round(buf[start + i*stride] / 2**shift)."""
    half = 0
    if shift > 0:
        half = 1 << (shift - 1)
    idx = start
    for _ in range(n):
        v = int(acc[j]) | (int(acc[j + 1]) << 8) | (int(acc[j + 2]) << 16)
        v = (v ^ 0x800000) - 0x800000
        x = (int(buf[idx]) ^ 0x8000) - 0x8000
        idx += stride
        v += (x + half) >> shift
        acc[j] = v & 0xFF
        acc[j + 1] = (v >> 8) & 0xFF
        acc[j + 2] = (v >> 16) & 0xFF
        j += 3


@micropython.viper
def acc3_halve(acc: ptr8, j: int, n: int):
    """Halve (rounding) n 24-bit words from byte j of acc on."""
    for _ in range(n):
        v = int(acc[j]) | (int(acc[j + 1]) << 8) | (int(acc[j + 2]) << 16)
        v = (((v ^ 0x800000) - 0x800000) + 1) >> 1
        acc[j] = v & 0xFF
        acc[j + 1] = (v >> 8) & 0xFF
        acc[j + 2] = (v >> 16) & 0xFF
        j += 3


@micropython.viper
def acc3_get(acc: ptr8, j: int) -> int:
    v = int(acc[j]) | (int(acc[j + 1]) << 8) | (int(acc[j + 2]) << 16)
    return (v ^ 0x800000) - 0x800000


class Acc24:
    """One split's sums: one block of 3-byte words, channel after channel,
    with a sweep count and a shift per channel. The block comes from the DSP
    arena (stimfw.core.arena) when one was reserved at start-up, else the heap."""

    def __init__(self, n_ch, n):
        self.n_ch = n_ch
        self.n = n
        self.block = arena.take(3 * n * n_ch)
        if self.block is None:
            self.block = bytearray(3 * n * n_ch)
        self.shift = bytearray(n_ch)
        self.count = array("H", bytearray(2 * n_ch))

    def reset(self):
        b = self.block
        for i in range(len(b)):
            b[i] = 0
        for c in range(self.n_ch):
            self.shift[c] = 0
            self.count[c] = 0

    def add(self, buf, c):
        """Add one channel's sweep (n samples, contiguous) to channel c."""
        n = self.n
        if self.count[c] + 1 > (1 << (8 + self.shift[c])) - 1:
            acc3_halve(self.block, 3 * c * n, n)
            self.shift[c] += 1
        acc3_add(self.block, 3 * c * n, buf, 0, 1, n, self.shift[c])
        self.count[c] += 1

    def sum(self, c, i):
        """Sum of channel c at sample i in LSB (exact below 256 sweeps)."""
        return acc3_get(self.block, 3 * (c * self.n + i)) << self.shift[c]


# --- chains: the backend interface the averager and free-run use -------------
# Both backends expose the same two classes. Only the filter differs between
# them: the sums, the rejection figures and the means are this module's
# SweepSums for both (dsp/ulab.py subclasses it), one implementation.
BASE_N = 16  # samples at the sweep start whose mean is removed before filtering


def baseline(buf, n):
    """floor(mean of the first BASE_N samples) of a channel's sweep."""
    bn = BASE_N if n >= BASE_N else n
    return head_sum(buf, 0, 1, bn) // bn


class SweepSums:
    """Everything of a sweep chain but the filter: one channel's sweep at a
    time (a contiguous int16 buffer of n samples), its span, and the A/B
    sums per channel (Acc24, from the DSP arena)."""

    def __init__(self, n_ch, n):
        self.n_ch = n_ch
        self.n = n
        self.peak = 0
        gc.collect()  # the sums are most of the heap: place them first
        self.acc = (Acc24(n_ch, n), Acc24(n_ch, n))

    def reset(self):
        for a in self.acc:
            a.reset()

    def span(self, buf, i0, i1):
        """max - min of buf[i0:i1] (0 when empty)."""
        return span_i16(buf, i0, i1)

    def accumulate(self, buf, split, c):
        """Add the filtered sweep in buf to channel c of split (0 A, 1 B);
        False when that channel's split is full."""
        a = self.acc[split]
        if a.count[c] >= MAX_SWEEPS_PER_SPLIT:
            return False
        a.add(buf, c)
        return True

    def sweeps(self, split, c):
        """Sweeps summed in channel c of split 0 (A), 1 (B) or 2 (both)."""
        if split == 2:
            return self.acc[0].count[c] + self.acc[1].count[c]
        return self.acc[split].count[c]

    def mean_at(self, split, c, i, out):
        """out[0] = mean of channel c at sample i, in LSB, over split 0 (A),
        1 (B) or 2 (A+B); 0 before any sweep."""
        if split == 2:
            s = self.acc[0].sum(c, i) + self.acc[1].sum(c, i)
        else:
            s = self.acc[split].sum(c, i)
        cnt = self.sweeps(split, c)
        out[0] = s / cnt if cnt else 0.0


class SweepChain(SweepSums):
    """SweepSums with the fixed-point filter."""

    def __init__(self, n_ch, n, sos_rows):
        self.coef = quantize(sos_rows)
        self.nsec = len(sos_rows)
        self.state = new_state(self.nsec)
        SweepSums.__init__(self, n_ch, n)

    def prepare(self, buf):
        """Nothing to make ahead of the first sweep (dsp/ulab.py makes views)."""

    def process(self, buf):
        """Filter one channel's sweep in place (zero state per sweep).
        Returns the number of samples at an ADC rail (before filtering);
        self.peak holds the largest |output|."""
        n = self.n
        sat = saturated(buf, n)
        base = baseline(buf, n)
        reset_state(self.state)
        self.peak = sosfilt_i16(buf, 0, 1, n, base, self.coef, self.nsec, self.state)
        return sat


class FreeRunChain:
    """Block filtering with the state carried from block to block."""

    def __init__(self, n_ch, sos_rows):
        self.n_ch = n_ch
        self.coef = quantize(sos_rows)
        self.nsec = len(sos_rows)
        self.states = [new_state(self.nsec) for _ in range(n_ch)]
        self.peaks = array("i", bytearray(4 * n_ch))

    def reset(self):
        for st in self.states:
            reset_state(st)

    def prepare(self, buf, n):
        """Nothing to make ahead of the first block (dsp/ulab.py makes views)."""

    def process(self, buf, n):
        """Filter n samples per channel of an interleaved block in place;
        self.peaks holds each channel's largest |output|."""
        n_ch = self.n_ch
        for c in range(n_ch):
            self.peaks[c] = sosfilt_i16(buf, c, n_ch, n, 0, self.coef, self.nsec, self.states[c])
