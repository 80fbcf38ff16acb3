# Zero-phase version of the declared band, for measuring averages.
#
# Every sweep is filtered causally (the chain's forward pass, from zero state
# after removing the sweep's baseline) before it is summed, as rejection and
# display need. A causal band-pass delays and flattens a response: the 30 Hz
# high-pass alone moves a broad cortical peak by 0.2-1.2 ms and takes a
# quarter off its peak-to-peak. Filtering is linear, so running the same
# sections backward over the average of forward-filtered sweeps gives the
# average of forward-backward (zero-phase) filtered sweeps: the magnitude
# response squared and no phase shift. Nothing changes per sweep.
#
# The backward pass starts from zero state at the sweep's last sample, as
# the forward pass starts from zero state at its first: the result equals
# scipy.signal.sosfilt(sos, sosfilt(sos, x)[::-1])[::-1] on the
# baseline-removed average x (zero padding at both ends, not sosfiltfilt's
# odd extension; tests/test_zero_phase.py). Only samples from `lo` to the
# end are filtered: an output sample depends on the samples after it only,
# so a measurement window need not pull the stimulus artifact before it into
# the scale.
#
# Memory: no new buffer. The backward pass runs in the processor's one-
# channel sweep buffer (int16, free once the sweeps are in), with the
# average written there in block-floating form: scaled by a power of two so
# that its largest magnitude is about HEADROOM, which leaves the filter 4x
# room below int16's clamp and keeps sub-LSB resolution for small averages.
# The fixed-point kernel (dsp/fixed.py) runs it on both backends: it filters
# with a stride of -1 in place and allocates nothing; ulab's sosfilt would
# allocate its output and a reversed view.
from micropython import const

from stimfw.dsp import fixed

_HEADROOM = const(8192)
_CLAMP = const(32767)


class Backward:
    """The backward pass of one set of SOS rows over a buffer of n int16.
    After run(), a read-only sequence of the result (buf[i] * k, lo <= i < n)
    in the source's unit."""

    def __init__(self, sos_rows, buf, n):
        self.coef = fixed.quantize(sos_rows)
        self.nsec = len(sos_rows)
        self.state = fixed.new_state(self.nsec)
        self.buf = buf
        self.n = n
        self.lo = n
        self.k = 0.0

    def run(self, a, lo, b=None):
        """Filter a[lo:n] backward (a: a sequence of floats, the forward-
        filtered average), or with b the plus-minus average (a - b) / 2, which
        holds the residual noise and no response. Returns self."""
        buf = self.buf
        n = self.n
        m = 0.0
        for i in range(lo, n):
            v = abs(a[i] if b is None else (a[i] - b[i]) / 2)
            if v > m:
                m = v
        s = 1.0
        if m > 0:
            while m * s < _HEADROOM / 2 and s < 1048576:
                s *= 2
            while m * s > _HEADROOM:
                s /= 2
        # A filter that rings above 4x its input's peak would clamp: scale
        # down and run again (the bound of fixed.py holds for any rows the
        # chain accepts, so this ends).
        while True:
            for i in range(lo, n):
                buf[i] = round((a[i] if b is None else (a[i] - b[i]) / 2) * s)
            fixed.reset_state(self.state)
            peak = fixed.sosfilt_i16(buf, n - 1, -1, n - lo, 0, self.coef, self.nsec, self.state)
            if peak < _CLAMP or s < 1e-6:
                self.lo = lo
                self.k = 1.0 / s
                return self
            s /= 4

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i < 0:
            i += self.n
        if not self.lo <= i < self.n:
            raise IndexError("outside the filtered part")
        return self.buf[i] * self.k
