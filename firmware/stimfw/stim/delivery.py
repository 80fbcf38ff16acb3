# Output supervision: judges one delivered pulse from the output monitor ADC
# (hal.monitor: int16 current and voltage samples, interleaved, the trace
# starting board.MONITOR_PRE_SAMPLES before the pulse's scheduled start).
# The scan allocates nothing (it runs once per pulse, next to the
# stimulation) and its arithmetic stays inside 31-bit small ints for a
# board: sums of at most MONITOR_MAX_SAMPLES samples of 15 bits, crossing
# times in 1/_FRAC sample (MONITOR_MAX_SAMPLES * _FRAC), and the judgement
# compares mV and uA scaled by at most 100 + amp_tol_pct (1.5e6 uA * 200 <
# 2**30), times in ns (a trace lasts well under a second) and charges split
# so no product passes 31 bits.
from array import array

try:
    from micropython import const
except ImportError:  # the host reads the flag names from here too

    def const(x):
        return x

_FLAG_OPEN = const(1)  # no current path: load above open_ohm
_FLAG_SHORT = const(2)  # load below short_ohm
_FLAG_COMPLIANCE = const(4)  # the output hit its compliance (CC) or current limit (CV)
_FLAG_NO_READBACK = const(8)  # the monitor returned no samples
# Not a judgement: set by the boot reconciliation (stimfw.stim.reconcile) on
# a pulse the output stage counted as fired that the firmware never read back.
FLAG_UNVERIFIED = const(16)
_FLAG_OVER = const(32)  # phase-1 peak above the set amplitude by more than amp_tol_pct
_FLAG_UNDER = const(64)  # below it by more than amp_tol_pct (and not yet compliance)
_FLAG_IMBALANCE = const(128)  # biphasic: |Q1 - _Q2| / Q1 read back above imbalance_tol_ppm
_FLAG_WIDTH = const(256)  # a phase's width at half amplitude off by more than width_tol_us
_FLAG_TIMING = const(512)  # phase 1 began more than timing_tol_us from its scheduled start
FLAG_NAMES = ((_FLAG_OPEN, "open"), (_FLAG_SHORT, "short"), (_FLAG_COMPLIANCE, "compliance"),
              (_FLAG_NO_READBACK, "no_readback"), (FLAG_UNVERIFIED, "unverified"),
              (_FLAG_OVER, "over"), (_FLAG_UNDER, "under"), (_FLAG_IMBALANCE, "imbalance"),
              (_FLAG_WIDTH, "width"), (_FLAG_TIMING, "timing"))

# scan() results, in the caller's preallocated array("i", _SCAN_SIZE)
_PEAK_I = const(0)  # largest current in the first phase's direction, LSB
_PEAK_V = const(1)  # largest voltage in the first phase's direction, LSB
_SUM_1 = const(2)  # sum of current samples in the first phase's direction, LSB
_SUM_2 = const(3)  # sum of current samples against it (second phase), LSB
_PEAK2_I = const(4)  # largest current against the first phase's direction, LSB
_PEAK2_V = const(5)  # largest voltage against it, LSB
# Half-amplitude crossings of the output's controlled quantity (current for
# constant current, voltage for constant voltage), in 1/_FRAC sample from
# the trace's first sample, interpolated between samples; _NONE if absent.
_LEAD_1 = const(6)
_TRAIL_1 = const(7)
_LEAD_2 = const(8)
_TRAIL_2 = const(9)
_SCAN_SIZE = const(10)
_FRAC = const(64)
_NONE = const(-1)


def new_scan():
    return array("i", bytes(4 * _SCAN_SIZE))


def _cross(buf, k, end, s, h2, up, out, slot):
    """From sample index k (a pair times 2 plus the channel), the first
    crossing of half of the peak h2 (in the phase's direction s), upwards
    or back down, into out[slot]; returns the index where it was found
    (end if none). Tuples would allocate: the time goes into out."""
    first = k
    prev = 0
    while k < end:
        x = buf[k] * s
        if (2 * x >= h2) if up else (2 * x < h2):
            if k == first:
                out[slot] = (k >> 1) * _FRAC
            else:
                out[slot] = ((k >> 1) - 1) * _FRAC + (h2 - 2 * prev) * _FRAC // (2 * (x - prev))
            return k
        prev = x
        k += 2
    out[slot] = _NONE
    return k


def scan(buf, n, sign, out, ch=0):
    """Peaks and charge of both phases from n sample pairs, and the half-
    amplitude crossings of channel ch (0 current, 1 voltage)."""
    pk_i = 0
    pk_v = 0
    pk2_i = 0
    pk2_v = 0
    s1 = 0
    s2 = 0
    k = 0
    end = 2 * n
    while k < end:
        i = buf[k] * sign
        v = buf[k + 1] * sign
        if i > 0:
            s1 += i
            if i > pk_i:
                pk_i = i
        else:
            s2 -= i
            if -i > pk2_i:
                pk2_i = -i
        if v > pk_v:
            pk_v = v
        elif -v > pk2_v:
            pk2_v = -v
        k += 2
    out[_PEAK_I] = pk_i
    out[_PEAK_V] = pk_v
    out[_SUM_1] = s1
    out[_SUM_2] = s2
    out[_PEAK2_I] = pk2_i
    out[_PEAK2_V] = pk2_v
    out[_LEAD_1] = out[_TRAIL_1] = out[_LEAD_2] = out[_TRAIL_2] = _NONE
    # Phase 1 rises to half its peak, falls back; phase 2 the same the
    # other way (its peak against the first phase's direction).
    h2 = pk_v if ch else pk_i
    if h2 == 0:
        return
    k = _cross(buf, ch, end, sign, h2, True, out, _LEAD_1)
    k = _cross(buf, k, end, sign, h2, False, out, _TRAIL_1)
    h2 = pk2_v if ch else pk2_i
    if out[_TRAIL_1] == _NONE or h2 == 0:
        return
    k = _cross(buf, k, end, -sign, h2, True, out, _LEAD_2)
    _cross(buf, k, end, -sign, h2, False, out, _TRAIL_2)


# Judge.fig: the pulse as read back, in the output's unit, nC and ns.
AMP = const(0)  # phase-1 peak (uA or mV)
Q = const(1)  # phase-1 charge, nC
_AMP2 = const(2)  # phase-2 peak; 0 for a monophasic pulse
_Q2 = const(3)
_W1_NS = const(4)  # width at half amplitude; 0 if absent
_W2_NS = const(5)
_GAP_NS = const(6)  # phase-1 trailing to phase-2 leading half crossing
_ONSET_NS = const(7)  # phase-1 leading half crossing minus the scheduled start
FIG_SIZE = const(8)


class Judge:
    """Flags for one output, from its declaration, the board's monitor and
    the limits profile."""

    def __init__(self, o, limits, rate_hz, pre_samples):
        self.cc = o["kind"] == "CC"
        self.ua_lsb = o["mon_ua_lsb"]
        self.mv_lsb = o["mon_mv_lsb"]
        self.lsb = self.ua_lsb if self.cc else self.mv_lsb
        self.open_mv_per_ua = limits["open_ohm"] // 1000
        self.short_ua_per_mv = 1000 // limits["short_ohm"]
        self.short_pct = limits["shortfall_pct"]
        self.amp_pct = limits["amp_tol_pct"]
        self.width_ns = limits["width_tol_us"] * 1000
        self.timing_ns = limits["timing_tol_us"] * 1000
        self.imb_pm = limits["imbalance_tol_ppm"] // 1000  # judged to 0.1 %
        self.per_ms = rate_hz // 1000  # samples per ms: rates are whole kHz
        self.sample_ns = 1000000000 // rate_hz
        self.pre_ns = pre_samples * self.sample_ns
        self.fig = array("i", bytes(4 * FIG_SIZE))

    def _ns(self, t):
        # t in 1/_FRAC sample; split so the product stays a small int
        return (t // _FRAC) * self.sample_ns + (t % _FRAC) * self.sample_ns // _FRAC

    def _nc(self, s):
        # LSB-samples to nC without a product beyond 31 bits
        p = self.per_ms
        return (s // p) * self.ua_lsb + (s % p) * self.ua_lsb // p

    def flags(self, n, out, amp, w1_us=0, w2_us=0):
        """The pulse's flags, its figures into self.fig. amp: the set
        amplitude (uA or mV, either sign); w1_us, w2_us: the set phase
        widths (w1_us 0: widths and timing not judged; w2_us 0:
        monophasic). The interphase gap is measured and recorded, not
        judged: the limits profile holds no tolerance for it."""
        fig = self.fig
        for k in range(FIG_SIZE):
            fig[k] = 0
        if n <= 0:
            return _FLAG_NO_READBACK
        i_ua = out[_PEAK_I] * self.ua_lsb
        v_mv = out[_PEAK_V] * self.mv_lsb
        delivered = i_ua if self.cc else v_mv
        fig[AMP] = delivered
        fig[Q] = self._nc(out[_SUM_1])
        t_lead = out[_LEAD_1]
        t_trail = out[_TRAIL_1]
        if t_lead != _NONE:
            fig[_ONSET_NS] = self._ns(t_lead) - self.pre_ns
            if t_trail != _NONE:
                fig[_W1_NS] = self._ns(t_trail - t_lead)
        if w2_us > 0:
            fig[_AMP2] = out[_PEAK2_I] * self.ua_lsb if self.cc else out[_PEAK2_V] * self.mv_lsb
            fig[_Q2] = self._nc(out[_SUM_2])
            t2 = out[_LEAD_2]
            if t2 != _NONE and t_trail != _NONE:
                fig[_GAP_NS] = self._ns(t2 - t_trail)
                if out[_TRAIL_2] != _NONE:
                    fig[_W2_NS] = self._ns(out[_TRAIL_2] - t2)
        if amp < 0:
            amp = -amp
        if v_mv > self.open_mv_per_ua * i_ua:
            return _FLAG_OPEN
        if i_ua > self.short_ua_per_mv * v_mv:
            return _FLAG_SHORT
        # Compliance limiting: the output could not deliver what was set.
        # The shortfall alone decides; the declared compliance is what the
        # stage should reach, and a stage that limits below it (a failing
        # supply, a miscalibrated unit) leaves the patient just as short.
        if delivered * 100 < self.short_pct * amp:
            return _FLAG_COMPLIANCE
        if amp == 0:
            return 0
        f = 0
        # One monitor LSB of slack: the ADC's own rounding is no error.
        if delivered * 100 > (100 + self.amp_pct) * amp + 100 * self.lsb:
            f |= _FLAG_OVER
        elif delivered * 100 < (100 - self.amp_pct) * amp - 100 * self.lsb:
            f |= _FLAG_UNDER
        if w1_us > 0:
            d = fig[_ONSET_NS]
            if t_lead == _NONE or d > self.timing_ns or -d > self.timing_ns:
                f |= _FLAG_TIMING
            d = fig[_W1_NS] - w1_us * 1000
            if d > self.width_ns or -d > self.width_ns:
                f |= _FLAG_WIDTH
            if w2_us > 0:
                d = fig[_W2_NS] - w2_us * 1000
                if d > self.width_ns or -d > self.width_ns:
                    f |= _FLAG_WIDTH
        if w2_us > 0:
            s1 = out[_SUM_1]
            d = s1 - out[_SUM_2]
            if d < 0:
                d = -d
            if d > (s1 // 1000) * self.imb_pm + (s1 % 1000) * self.imb_pm // 1000:
                f |= _FLAG_IMBALANCE
        return f


def flag_names(flags):
    return [name for bit, name in FLAG_NAMES if flags & bit]
