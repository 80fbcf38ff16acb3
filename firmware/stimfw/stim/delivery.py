# Output supervision: judges one delivered pulse from the output monitor ADC
# (hal.monitor: int16 current and voltage samples, interleaved). The scan
# allocates nothing (it runs once per pulse, next to the stimulation) and its
# arithmetic stays inside 31-bit small ints for a board: sums of at most
# MONITOR_MAX_SAMPLES samples of 15 bits, and the judgement compares mV and uA
# scaled by at most 100 (1.5e6 uA * 100 < 2**30).
from array import array

FLAG_OPEN = 1  # no current path: load above open_ohm
FLAG_SHORT = 2  # load below short_ohm
FLAG_COMPLIANCE = 4  # the output hit its compliance (CC) or current limit (CV)
FLAG_NO_READBACK = 8  # the monitor returned no samples
# Not a judgement: set by the boot reconciliation (stimfw.stim.reconcile) on
# a pulse the output stage counted as fired that the firmware never read back.
FLAG_UNVERIFIED = 16
FLAG_NAMES = ((FLAG_OPEN, "open"), (FLAG_SHORT, "short"), (FLAG_COMPLIANCE, "compliance"),
              (FLAG_NO_READBACK, "no_readback"), (FLAG_UNVERIFIED, "unverified"))

# scan() results, in the caller's preallocated array("i", SCAN_SIZE)
PEAK_I = 0  # largest current in the first phase's direction, LSB
PEAK_V = 1  # largest voltage in the first phase's direction, LSB
SUM_1 = 2  # sum of current samples in the first phase's direction, LSB
SUM_2 = 3  # sum of current samples against it (second phase), LSB
SCAN_SIZE = 4


def new_scan():
    return array("i", bytes(4 * SCAN_SIZE))


def scan(buf, n, sign, out):
    """Peak current/voltage and the charge of both phases from n sample pairs."""
    pk_i = 0
    pk_v = 0
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
        if v > pk_v:
            pk_v = v
        k += 2
    out[PEAK_I] = pk_i
    out[PEAK_V] = pk_v
    out[SUM_1] = s1
    out[SUM_2] = s2


class Judge:
    """Flags for one output, from its declaration and the limits profile."""

    def __init__(self, o, limits):
        self.cc = o["kind"] == "CC"
        self.ua_lsb = o["mon_ua_lsb"]
        self.mv_lsb = o["mon_mv_lsb"]
        self.open_mv_per_ua = limits["open_ohm"] // 1000
        self.short_ua_per_mv = 1000 // limits["short_ohm"]
        self.short_pct = limits["shortfall_pct"]

    def flags(self, n, out, amp):
        """amp: the set amplitude (uA or mV, either sign)."""
        if n <= 0:
            return FLAG_NO_READBACK
        i_ua = out[PEAK_I] * self.ua_lsb
        v_mv = out[PEAK_V] * self.mv_lsb
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
        delivered = i_ua if self.cc else v_mv
        if delivered * 100 < self.short_pct * amp:
            return FLAG_COMPLIANCE
        return 0

    def delivered(self, out):
        """Delivered peak amplitude in the output's unit (uA or mV)."""
        return out[PEAK_I] * self.ua_lsb if self.cc else out[PEAK_V] * self.mv_lsb

    def charge_nc(self, out, rate_hz):
        """Charge of the first phase, nC (may allocate: not in the scan)."""
        return out[SUM_1] * self.ua_lsb * 1000 // rate_hz


def flag_names(flags):
    return [name for bit, name in FLAG_NAMES if flags & bit]
