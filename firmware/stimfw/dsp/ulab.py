# DSP chain on boards with ulab: the same interface and results as dsp_fixed,
# computed with ulab.numpy and ulab.scipy.signal.sosfilt in the board's float
# (float32 on MCUs). Importing this module raises ImportError without ulab,
# which is how dsp_backend picks the fallback.
#
# Exact averages without int32: ulab has no 32-bit integer arrays and a
# float32 holds integers exactly only up to 2**24, which 2000 full-scale
# sweeps (2**26) exceed. Each split keeps its sum as two int16 arrays,
# sum = hi * 4096 + lo with 0 <= lo < 4096. Adding a sweep y (|y| <= 2**15):
# t = lo + y is an integer below 2**16 in magnitude (exact in float32),
# carry = floor(t / 4096) is exact (division by a power of two), lo = t -
# 4096 * carry lies in [0, 4096), and |hi| <= MAX_SWEEPS_PER_SPLIT * 2**15 /
# 4096 = 2**14 fits int16. The sum is therefore exact for any data; the
# mean is formed once, as hi * (4096 / n) + lo / n, with float32 rounding only.
from array import array

from ulab import numpy as np
from ulab import scipy

# Not `from ulab.scipy.signal import sosfilt`: that needs builtin subpackage
# imports, which rp2/stm32 ulab builds (and the 32-bit test runtime) lack.
sosfilt = scipy.signal.sosfilt

NAME = "ulab"
BASE_N = 16
MAX_SWEEPS_PER_SPLIT = 1 << 13
_CHUNK = 1024  # elements per temporary in accumulate(): bounds peak heap use
_LO = 4096


def _sos(rows):
    return np.array(rows, dtype=np.float)


def _filter_into(raw, c, n_ch, sos, base, zi):
    x = raw[c::n_ch]
    xf = np.clip(np.array(x, dtype=np.float) - base, -32768, 32767)
    if zi is None:
        y = sosfilt(sos, xf)
        zf = None
    else:
        y, zf = sosfilt(sos, xf, zi=zi)
    y = np.clip(np.around(y), -32768, 32767)
    raw[c::n_ch] = np.array(y, dtype=np.int16)
    hi = np.max(y)
    lo = np.min(y)
    peak = int(hi if hi > -lo else -lo)
    return peak, zf


class SweepChain:
    """Per-sweep filtering of one channel at a time (a contiguous int16
    buffer of n samples) and exact A/B accumulation per channel."""

    def __init__(self, n_ch, n, sos_rows):
        self.n_ch = n_ch
        self.n = n
        self.sos = _sos(sos_rows)
        self.peak = 0
        size = n_ch * n  # channel after channel
        self.hi = (np.zeros(size, dtype=np.int16), np.zeros(size, dtype=np.int16))
        self.lo = (np.zeros(size, dtype=np.int16), np.zeros(size, dtype=np.int16))
        self.count = (array("H", bytearray(2 * n_ch)), array("H", bytearray(2 * n_ch)))

    def reset(self):
        for a in self.hi + self.lo:
            a[:] = 0
        for cnt in self.count:
            for c in range(self.n_ch):
                cnt[c] = 0

    def process(self, buf):
        """Filter one channel's sweep in place; see dsp_fixed.SweepChain."""
        raw = np.frombuffer(buf, dtype=np.int16, count=self.n)
        sat = int(np.sum(raw == 32767)) + int(np.sum(raw == -32768))
        bn = BASE_N if self.n >= BASE_N else self.n
        base = int(np.sum(np.array(raw[:bn], dtype=np.float))) // bn
        self.peak = _filter_into(raw, 0, 1, self.sos, base, None)[0]
        return sat

    def span(self, buf, i0, i1):
        if i1 <= i0:
            return 0
        x = np.frombuffer(buf, dtype=np.int16, count=self.n)[i0:i1]
        return int(np.max(x)) - int(np.min(x))

    def accumulate(self, buf, split, c):
        if self.count[split][c] >= MAX_SWEEPS_PER_SPLIT:
            return False
        raw = np.frombuffer(buf, dtype=np.int16, count=self.n)
        hi = self.hi[split]
        lo = self.lo[split]
        off = c * self.n
        for j in range(0, self.n, _CHUNK):
            k = j + _CHUNK if j + _CHUNK < self.n else self.n
            a = off + j
            b = off + k
            t = np.array(lo[a:b], dtype=np.float) + np.array(raw[j:k], dtype=np.float)
            carry = np.floor(t / _LO)
            lo[a:b] = np.array(t - carry * _LO, dtype=np.int16)
            hi[a:b] = np.array(np.array(hi[a:b], dtype=np.float) + carry, dtype=np.int16)
        self.count[split][c] += 1
        return True

    def sweeps(self, split, c):
        if split == 2:
            return self.count[0][c] + self.count[1][c]
        return self.count[split][c]

    def mean_at(self, split, c, i, out):
        """out[0] = mean of channel c at sample i, in LSB (see dsp_fixed)."""
        j = c * self.n + i
        parts = (0, 1) if split == 2 else (split,)
        cnt = self.sweeps(split, c)
        m = 0.0
        if cnt:
            for s in parts:
                m += self.hi[s][j] * (_LO / cnt) + self.lo[s][j] / cnt
        out[0] = m


class FreeRunChain:
    """Block filtering with the sosfilt state (n_sections, 2) carried per channel."""

    def __init__(self, n_ch, sos_rows):
        self.n_ch = n_ch
        self.sos = _sos(sos_rows)
        self.nsec = len(sos_rows)
        self.zi = [np.zeros((self.nsec, 2), dtype=np.float) for _ in range(n_ch)]
        self.peaks = array("i", bytearray(4 * n_ch))

    def reset(self):
        for z in self.zi:
            z[:] = 0

    def process(self, buf, n):
        raw = np.frombuffer(buf, dtype=np.int16, count=n * self.n_ch)
        for c in range(self.n_ch):
            self.peaks[c], self.zi[c] = _filter_into(raw, c, self.n_ch, self.sos, 0, self.zi[c])
