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
from ulab.scipy.signal import sosfilt

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
    """Per-sweep filtering and exact A/B accumulation of an interleaved sweep."""

    def __init__(self, n_ch, n, sos_rows):
        self.n_ch = n_ch
        self.n = n
        self.sos = _sos(sos_rows)
        self.peaks = array("i", bytearray(4 * n_ch))
        size = n_ch * n
        self.hi = (np.zeros(size, dtype=np.int16), np.zeros(size, dtype=np.int16))
        self.lo = (np.zeros(size, dtype=np.int16), np.zeros(size, dtype=np.int16))
        self.count = array("i", bytearray(8))

    def reset(self):
        for a in self.hi + self.lo:
            a[:] = 0
        self.count[0] = 0
        self.count[1] = 0

    def process(self, buf):
        raw = np.frombuffer(buf, dtype=np.int16)
        sat = int(np.sum(raw == 32767)) + int(np.sum(raw == -32768))
        n_ch = self.n_ch
        bn = BASE_N if self.n >= BASE_N else self.n
        for c in range(n_ch):
            head = np.array(raw[c : bn * n_ch : n_ch], dtype=np.float)
            base = int(np.sum(head)) // bn
            self.peaks[c] = _filter_into(raw, c, n_ch, self.sos, base, None)[0]
        return sat

    def accumulate(self, buf, split):
        if self.count[split] >= MAX_SWEEPS_PER_SPLIT:
            return False
        raw = np.frombuffer(buf, dtype=np.int16)
        hi = self.hi[split]
        lo = self.lo[split]
        size = len(raw)
        for j in range(0, size, _CHUNK):
            k = j + _CHUNK if j + _CHUNK < size else size
            t = np.array(lo[j:k], dtype=np.float) + np.array(raw[j:k], dtype=np.float)
            carry = np.floor(t / _LO)
            lo[j:k] = np.array(t - carry * _LO, dtype=np.int16)
            hi[j:k] = np.array(np.array(hi[j:k], dtype=np.float) + carry, dtype=np.int16)
        self.count[split] += 1
        return True

    def mean_at(self, split, c, i, out):
        """out[0] = mean of channel c at sample i, in LSB (see dsp_fixed)."""
        j = i * self.n_ch + c
        parts = (0, 1) if split == 2 else (split,)
        cnt = 0
        for s in parts:
            cnt += self.count[s]
        m = 0.0
        for s in parts:
            m += self.hi[s][j] * (_LO / cnt) + self.lo[s][j] / cnt if cnt else 0.0
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
