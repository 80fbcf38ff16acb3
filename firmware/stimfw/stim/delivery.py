# Output supervision: judges one delivered pulse from the output monitor ADC
# (hal.monitor: int16 current and voltage samples, interleaved, the trace
# starting board.MONITOR_PRE_SAMPLES before the pulse's scheduled start).
# The scan allocates nothing (it runs once per pulse, next to the
# stimulation) and its arithmetic stays inside 31-bit small ints for a
# board: sums of at most MONITOR_MAX_SAMPLES samples of 15 bits, crossing
# times in 1/FRAC sample (MONITOR_MAX_SAMPLES * FRAC), and the judgement
# compares mV and uA scaled by at most 100 + amp_tol_pct (1.5e6 uA * 200 <
# 2**30), times in ns (a trace lasts well under a second) and charges split
# so no product passes 31 bits.
from array import array

FLAG_OPEN = 1  # no current path: load above open_ohm
FLAG_SHORT = 2  # load below short_ohm
FLAG_COMPLIANCE = 4  # the output hit its compliance (CC) or current limit (CV)
FLAG_NO_READBACK = 8  # the monitor returned no samples
# Not a judgement: set by the boot reconciliation (stimfw.stim.reconcile) on
# a pulse the output stage counted as fired that the firmware never read back.
FLAG_UNVERIFIED = 16
FLAG_OVER = 32  # phase-1 peak above the set amplitude by more than amp_tol_pct
FLAG_UNDER = 64  # below it by more than amp_tol_pct (and not yet compliance)
FLAG_IMBALANCE = 128  # biphasic: |Q1 - Q2| / Q1 read back above imbalance_tol_ppm
FLAG_WIDTH = 256  # a phase's width at half amplitude off by more than width_tol_us
FLAG_TIMING = 512  # phase 1 began more than timing_tol_us from its scheduled start
FLAG_NAMES = ((FLAG_OPEN, "open"), (FLAG_SHORT, "short"), (FLAG_COMPLIANCE, "compliance"),
              (FLAG_NO_READBACK, "no_readback"), (FLAG_UNVERIFIED, "unverified"),
              (FLAG_OVER, "over"), (FLAG_UNDER, "under"), (FLAG_IMBALANCE, "imbalance"),
              (FLAG_WIDTH, "width"), (FLAG_TIMING, "timing"))

# scan() results, in the caller's preallocated array("i", SCAN_SIZE)
PEAK_I = 0  # largest current in the first phase's direction, LSB
PEAK_V = 1  # largest voltage in the first phase's direction, LSB
SUM_1 = 2  # sum of current samples in the first phase's direction, LSB
SUM_2 = 3  # sum of current samples against it (second phase), LSB
PEAK2_I = 4  # largest current against the first phase's direction, LSB
PEAK2_V = 5  # largest voltage against it, LSB
# Half-amplitude crossings of the output's controlled quantity (current for
# constant current, voltage for constant voltage), in 1/FRAC sample from
# the trace's first sample, interpolated between samples; NONE if absent.
LEAD_1 = 6
TRAIL_1 = 7
LEAD_2 = 8
TRAIL_2 = 9
SCAN_SIZE = 10
FRAC = 64
NONE = -1


def new_scan():
    return array("i", bytes(4 * SCAN_SIZE))


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
                out[slot] = (k >> 1) * FRAC
            else:
                out[slot] = ((k >> 1) - 1) * FRAC + (h2 - 2 * prev) * FRAC // (2 * (x - prev))
            return k
        prev = x
        k += 2
    out[slot] = NONE
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
    out[PEAK_I] = pk_i
    out[PEAK_V] = pk_v
    out[SUM_1] = s1
    out[SUM_2] = s2
    out[PEAK2_I] = pk2_i
    out[PEAK2_V] = pk2_v
    out[LEAD_1] = out[TRAIL_1] = out[LEAD_2] = out[TRAIL_2] = NONE
    # Phase 1 rises to half its peak, falls back; phase 2 the same the
    # other way (its peak against the first phase's direction).
    h2 = pk_v if ch else pk_i
    if h2 == 0:
        return
    k = _cross(buf, ch, end, sign, h2, True, out, LEAD_1)
    k = _cross(buf, k, end, sign, h2, False, out, TRAIL_1)
    h2 = pk2_v if ch else pk2_i
    if out[TRAIL_1] == NONE or h2 == 0:
        return
    k = _cross(buf, k, end, -sign, h2, True, out, LEAD_2)
    _cross(buf, k, end, -sign, h2, False, out, TRAIL_2)


# Judge.fig: the pulse as read back, in the output's unit, nC and ns.
AMP = 0  # phase-1 peak (uA or mV)
Q = 1  # phase-1 charge, nC
AMP2 = 2  # phase-2 peak; 0 for a monophasic pulse
Q2 = 3
W1_NS = 4  # width at half amplitude; 0 if absent
W2_NS = 5
GAP_NS = 6  # phase-1 trailing to phase-2 leading half crossing
ONSET_NS = 7  # phase-1 leading half crossing minus the scheduled start
FIG_SIZE = 8


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
        # t in 1/FRAC sample; split so the product stays a small int
        return (t // FRAC) * self.sample_ns + (t % FRAC) * self.sample_ns // FRAC

    def _nc(self, s):
        # LSB-samples to nC without a product beyond 31 bits
        p = self.per_ms
        return (s // p) * self.ua_lsb + (s % p) * self.ua_lsb // p

    def flags(self, n, out, amp, w1_us=0, gap_us=0, w2_us=0):
        """The pulse's flags, its figures into self.fig. amp: the set
        amplitude (uA or mV, either sign); w1_us, gap_us, w2_us: the set
        timing (w1_us 0: widths and timing not judged; w2_us 0: monophasic)."""
        fig = self.fig
        for k in range(FIG_SIZE):
            fig[k] = 0
        if n <= 0:
            return FLAG_NO_READBACK
        i_ua = out[PEAK_I] * self.ua_lsb
        v_mv = out[PEAK_V] * self.mv_lsb
        delivered = i_ua if self.cc else v_mv
        fig[AMP] = delivered
        fig[Q] = self._nc(out[SUM_1])
        t_lead = out[LEAD_1]
        t_trail = out[TRAIL_1]
        if t_lead != NONE:
            fig[ONSET_NS] = self._ns(t_lead) - self.pre_ns
            if t_trail != NONE:
                fig[W1_NS] = self._ns(t_trail - t_lead)
        if w2_us > 0:
            fig[AMP2] = out[PEAK2_I] * self.ua_lsb if self.cc else out[PEAK2_V] * self.mv_lsb
            fig[Q2] = self._nc(out[SUM_2])
            t2 = out[LEAD_2]
            if t2 != NONE and t_trail != NONE:
                fig[GAP_NS] = self._ns(t2 - t_trail)
                if out[TRAIL_2] != NONE:
                    fig[W2_NS] = self._ns(out[TRAIL_2] - t2)
        if amp < 0:
            amp = -amp
        if v_mv > self.open_mv_per_ua * i_ua:
            return FLAG_OPEN
        if i_ua > self.short_ua_per_mv * v_mv:
            return FLAG_SHORT
        # Compliance limiting: the output could not deliver what was set.
        # The shortfall alone decides; the declared compliance is what the
        # stage should reach, and a stage that limits below it (a failing
        # supply, a miscalibrated unit) leaves the patient just as short.
        if delivered * 100 < self.short_pct * amp:
            return FLAG_COMPLIANCE
        if amp == 0:
            return 0
        f = 0
        # One monitor LSB of slack: the ADC's own rounding is no error.
        if delivered * 100 > (100 + self.amp_pct) * amp + 100 * self.lsb:
            f |= FLAG_OVER
        elif delivered * 100 < (100 - self.amp_pct) * amp - 100 * self.lsb:
            f |= FLAG_UNDER
        if w1_us > 0:
            d = fig[ONSET_NS]
            if t_lead == NONE or d > self.timing_ns or -d > self.timing_ns:
                f |= FLAG_TIMING
            d = fig[W1_NS] - w1_us * 1000
            if d > self.width_ns or -d > self.width_ns:
                f |= FLAG_WIDTH
            if w2_us > 0:
                d = fig[W2_NS] - w2_us * 1000
                if d > self.width_ns or -d > self.width_ns:
                    f |= FLAG_WIDTH
        if w2_us > 0:
            s1 = out[SUM_1]
            d = s1 - out[SUM_2]
            if d < 0:
                d = -d
            if d > (s1 // 1000) * self.imb_pm + (s1 % 1000) * self.imb_pm // 1000:
                f |= FLAG_IMBALANCE
        return f


def flag_names(flags):
    return [name for bit, name in FLAG_NAMES if flags & bit]
