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
# Memory: no new buffer, and no float per sample. The backward pass runs in
# the processor's one-channel sweep buffer (int16, free once the sweeps are
# in), with the average written there in block-floating form, straight from
# the integer A/B sums (fixed.SweepSums): the sum of the sweeps shifted so
# that its largest magnitude is 4096-8192, which leaves the filter 4x room
# below int16's clamp and keeps sub-LSB resolution for small averages; the
# count and the shift become one factor applied on reading. The fixed-point
# kernel (dsp/fixed.py) runs it on both backends: it filters with a stride
# of -1 in place and allocates nothing; ulab's sosfilt would allocate its
# output and a reversed view. Floats per sample would be garbage between
# the run's lasting results, and the heap after a run is what later runs'
# buffers must fit in.
from micropython import const

from stimfw.dsp import fixed

_HEADROOM = const(8192)
_CLAMP = const(32767)


class Backward:
    """The backward pass of one set of SOS rows over one channel's average
    at a time, from a SweepSums' A/B sums, in a buffer of n int16. After
    run(), a read-only sequence of the result (buf[i] * k for lo <= i < n),
    in uV (uv: uV per LSB)."""

    def __init__(self, sos_rows, sums, buf, n, uv):
        self.coef = fixed.quantize(sos_rows)
        self.nsec = len(sos_rows)
        self.state = fixed.new_state(self.nsec)
        self.sums = sums
        self.buf = buf
        self.n = n
        self.uv = uv
        self.lo = n
        self.k = 0.0

    def _sum(self, c, i, diff, ca, cb):
        a, b = self.sums.acc
        if diff:
            return a.sum(c, i) * cb - b.sum(c, i) * ca
        return a.sum(c, i) + b.sum(c, i)

    def run(self, c, lo, diff=False):
        """Channel c's average A+B, or with diff its plus-minus average
        (A-B)/2 (the residual noise and no response), from sample lo to the
        end, filtered backward. Returns self."""
        buf = self.buf
        n = self.n
        a, b = self.sums.acc
        ca = a.count[c]
        cb = b.count[c]
        den = 2 * ca * cb if diff else ca + cb
        m = 0
        for i in range(lo, n):
            v = abs(self._sum(c, i, diff, ca, cb))
            if v > m:
                m = v
        t = 0  # buf = sum / 2**t
        while m >> t > _HEADROOM:
            t += 1
        while -16 < t <= 0 and 0 < m << -t <= _HEADROOM // 2:
            t -= 1
        while True:
            for i in range(lo, n):
                v = self._sum(c, i, diff, ca, cb)
                buf[i] = (v + (1 << (t - 1))) >> t if t > 0 else v << -t
            fixed.reset_state(self.state)
            peak = fixed.sosfilt_i16(buf, n - 1, -1, n - lo, 0, self.coef, self.nsec, self.state)
            if peak < _CLAMP:
                break
            # A filter that rings above 4x its input's peak would clamp:
            # scale down and run again (the bound of fixed.py holds for any
            # rows the chain accepts, so this ends).
            t += 2
        self.lo = lo
        self.k = self.uv * (2.0 ** t) / den if den else 0.0
        return self

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i < 0:
            i += self.n
        if not self.lo <= i < self.n:
            raise IndexError("outside the filtered part")
        return self.buf[i] * self.k

    def rms(self):
        """R.m.s. of the result from lo to the end, in uV. Sums of 8 squares
        (below 2**29) stay small ints: one float per 8 samples."""
        buf = self.buf
        s = 0.0
        i = self.lo
        while i < self.n:
            p = 0
            for j in range(i, min(i + 8, self.n)):
                p += buf[j] * buf[j]
            s += p
            i += 8
        return (s / max(self.n - self.lo, 1)) ** 0.5 * abs(self.k)
