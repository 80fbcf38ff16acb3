# Per-trial MEP of every recorded muscle of a TcMEP train, measured on the
# single sweep the averager has just filtered by the protocol's band (the
# int16 sweep buffer, after SweepChain.process): onset latency, peak-to-peak
# amplitude and rectified area inside the muscle's window.
#
# Windows and onsets count from the train's last pulse: the descending
# volley that fires the muscle follows the last pulse of a facilitating
# train, so one window serves trains of any length and ISI. A window is the
# muscle group's default (WINDOWS_MS) or the record table's "mep" override.
#
# Onset: the first sample inside the window whose distance from the
# pre-stimulus baseline exceeds k times the pre-stimulus noise, coming from
# below the threshold, placed between that sample and the one before it by
# linear interpolation. A window that opens above the threshold opens
# inside something else (a slow swing of the background, the band's answer
# to the blanked train): the onset is the next crossing after it has come
# back below. The
# noise is the r.m.s. estimated from the mean absolute deviation of the
# pre-stimulus samples (x sqrt(pi/2) for Gaussian noise): a sum of absolute
# values stays a small integer on a 32-bit board, where a sum of squares of
# int16 samples would not. Samples blanked before the trigger are left out.
#
# Everything per sweep is integer arithmetic on preallocated arrays: no
# float, no allocation (tests/device/mep_heap.py runs it under heap_lock).
import struct

try:
    from micropython import const
except ImportError:  # the host reads records with decode() and windows with window_ms()

    def const(x):
        return x


from stimfw.core import errors as err
from stimfw.core.buffers import zeros

ONSET_K = 5.0  # default k: one false onset in ~3000 quiet 60 ms windows at 10 kHz
# The threshold never goes below this (uV): a few ms of pre-stimulus muscle
# background, whose power lies at low frequencies, can read as much quieter
# than the window's, and a threshold of 2 r.m.s. then fires on background.
ONSET_MIN_UV = 15.0
# Windows (ms after the train's last pulse) by muscle group: the simulated
# patient's onsets are 21.5 ms (APB), 22 (quadriceps), 30 (TA), 42.5 (AH),
# up to 2 ms later near threshold, each response lasting ~15 ms.
WINDOWS_MS = {"arm": (10.0, 45.0), "leg": (15.0, 75.0)}
GENERIC_MS = (10.0, 75.0)  # a muscle of no known group
ARM = ("APB", "ADM", "FDI", "BIC", "DEL", "EDC", "FCR", "TRI", "THE")
LEG = ("QUAD", "VL", "VM", "TA", "AH", "ABH", "GAS", "EHL", "HAM", "ADD", "IL")
MAX_K = 20.0  # keeps the threshold arithmetic inside a 32-bit small int

NONE = const(-0x40000000)  # onset: none found
_RMS_PER_MAD = 1.2533  # sqrt(pi/2)
_MAD_MAX16 = const(262128)  # 16383 LSB, in 1/16 LSB: the product below fits 2**30

FLAG_PRESENT = const(1)  # an onset was found in the window
FLAG_SATURATED = const(2)  # the sweep sat on a rail: its values mean little

# A trial's record (journal KIND_MEP and the PUSH_MEP payload's source):
# run, trial index in the run, last pulse's offset from the trigger (us),
# sample rate (kHz), uV per LSB in nV, muscles; then per muscle: channel,
# flags, onset (us after the last pulse, or NONE), peak-to-peak (LSB),
# rectified area (LSB samples), threshold (1/16 LSB).
HEAD = "<HHIBHB"
HEAD_SIZE = const(12)
ROW = "<BBiHII"
ROW_SIZE = const(16)


def group(muscle):
    """"arm", "leg" or None for a muscle name such as "APB_R"."""
    base = muscle.split("_")[0].upper() if muscle else ""
    if base in ARM:
        return "arm"
    if base in LEG:
        return "leg"
    return None


def window_ms(muscle):
    g = group(muscle)
    return WINDOWS_MS[g] if g else GENERIC_MS


def record_size(n_ch):
    return HEAD_SIZE + ROW_SIZE * n_ch


class MepTrials:
    """Per-trial measurement of one recorded stream. cfg: the record table;
    its "mep" table (optional): {"k": onset factor, "min_uv": threshold
    floor, "muscles": [name per
    channel], "win_ms": [[start, end] or null per channel]}. Raises
    core.errors.Refused (LimitRefused for a value out of range)."""

    def __init__(self, cfg, channels, rate_hz, pre, n, uv_per_lsb, blank_before_us):
        m = cfg.get("mep")
        if m is None:
            m = {}
        if not isinstance(m, dict):
            raise err.Refused(err.ERR_BAD_PAYLOAD, "mep must be a table", {"key": "mep"})
        n_ch = len(channels)
        k = err.need("mep_onset_k", m.get("k", ONSET_K), 2, MAX_K)
        self.kq = int(k * _RMS_PER_MAD * 64 + 0.5)
        floor = err.need("mep_onset_min_uv", m.get("min_uv", ONSET_MIN_UV), 0, 1000, "uV")
        self.min16 = max(16, int(floor * 16 / uv_per_lsb + 0.5))
        muscles = m.get("muscles")
        if muscles is None:
            muscles = [""] * n_ch
        if not isinstance(muscles, (list, tuple)) or len(muscles) != n_ch:
            raise err.Refused(err.ERR_BAD_PAYLOAD, "mep muscles: one name per channel",
                              {"key": "mep.muscles", "value": muscles})
        wins = m.get("win_ms")
        if wins is None:
            wins = [None] * n_ch
        if not isinstance(wins, (list, tuple)) or len(wins) != n_ch:
            raise err.Refused(err.ERR_BAD_PAYLOAD, "mep win_ms: one window (or null) per channel",
                              {"key": "mep.win_ms"})
        post_ms = (n - pre) * 1000 / rate_hz
        self.muscles = [str(muscles[i]) if muscles[i] else "ch%d" % channels[i] for i in range(n_ch)]
        self.channels = channels
        self.rate_khz = rate_hz // 1000
        self.pre = pre
        self.n = n
        self.nv_per_lsb = int(uv_per_lsb * 1000 + 0.5)
        self.uv_per_lsb = uv_per_lsb
        # samples from the last pulse to each window's start and end
        self.w0 = zeros("i", n_ch)
        self.w1 = zeros("i", n_ch)
        for ci in range(n_ch):
            w = wins[ci] if wins[ci] is not None else window_ms(muscles[ci])
            if not isinstance(w, (list, tuple)) or len(w) != 2:
                raise err.Refused(err.ERR_BAD_PAYLOAD, "mep win_ms must be [start, end]",
                                  {"key": "mep.win_ms"})
            err.need("mep_window_start_ms", w[0], 0, post_ms, "ms")
            err.need("mep_window_end_ms", w[1], w[0] + 1, 500, "ms")
            self.w0[ci] = int(w[0] * rate_hz / 1000 + 0.5)
            self.w1[ci] = int(w[1] * rate_hz / 1000 + 0.5)
        # pre-stimulus samples that are not blanked (at least 8)
        self.quiet = pre - (blank_before_us * self.rate_khz + 999) // 1000
        if self.quiet < 8:
            # too few for a noise estimate: name the pre-trigger time it needs
            lo = (8 * 1000 + rate_hz - 1) // rate_hz + (blank_before_us + 999) // 1000
            raise err.LimitRefused("mep_pre_ms", pre * 1000 / rate_hz, lo, 100, "ms")
        self.last = 0  # samples from the trigger to the train's last pulse
        self.last_us = 0
        self.trials = 0
        # the last sweep's measurement, per channel
        self.flags = bytearray(n_ch)
        self.onset_us = zeros("i", n_ch)
        self.pp = zeros("i", n_ch)
        self.area = zeros("i", n_ch)
        self.thr16 = zeros("i", n_ch)
        # over the run: largest peak-to-peak of a present response (LSB), for alarms
        self.best = zeros("i", n_ch)
        self.out = bytearray(record_size(n_ch))  # the trial's record, packed

    def begin(self, pulses, n_pulses):
        """The sweep about to be taken: its pulses' offsets from the trigger (us)."""
        t = pulses[n_pulses - 1] if n_pulses > 0 else 0
        self.last_us = t
        self.last = (t * self.rate_khz) // 1000

    def measure(self, ci, buf, saturated):
        """Channel ci of the sweep in buf (filtered int16)."""
        q = self.quiet
        s = 0
        for i in range(q):
            s += buf[i]
        base = s // q
        d = 0
        for i in range(q):
            v = buf[i] - base
            d += v if v >= 0 else -v
        mad16 = (d * 16) // q if d < 0x2000000 else _MAD_MAX16
        if mad16 > _MAD_MAX16:
            mad16 = _MAD_MAX16
        thr16 = (mad16 * self.kq) // 64
        if thr16 < self.min16:
            thr16 = self.min16
        n = self.n
        i0 = self.pre + self.last + self.w0[ci]
        i1 = self.pre + self.last + self.w1[ci] + 1
        if i0 < 1:
            i0 = 1
        if i1 > n:
            i1 = n
        hi = -32768
        lo = 32767
        area = 0
        onset = NONE
        prev = buf[i0 - 1] - base
        prev = (prev if prev >= 0 else -prev) * 16
        armed = prev <= thr16
        for i in range(i0, i1):
            v = buf[i] - base
            if v > hi:
                hi = v
            if v < lo:
                lo = v
            a = v if v >= 0 else -v
            area += a
            a *= 16
            if onset == NONE:
                if not armed:
                    armed = a <= thr16
                elif a > thr16:
                    # hundredths of a sample past sample i - 1
                    onset = (i - 1 - self.pre - self.last) * 100 + 100 * (thr16 - prev) // (a - prev)
            prev = a
        flags = 0
        if onset != NONE:
            flags = FLAG_PRESENT
            onset = (onset * 10) // self.rate_khz  # us
        if saturated:
            flags |= FLAG_SATURATED
        self.flags[ci] = flags
        self.onset_us[ci] = onset
        self.pp[ci] = hi - lo if i1 > i0 else 0
        self.area[ci] = area
        self.thr16[ci] = thr16
        if flags == FLAG_PRESENT and self.pp[ci] > self.best[ci]:
            self.best[ci] = self.pp[ci]

    def responses_uv(self):
        """The last sweep's peak-to-peak per muscle where an MEP was found,
        else 0 (threshold tracking steps on it)."""
        k = self.uv_per_lsb
        return [self.pp[ci] * k if self.flags[ci] & FLAG_PRESENT else 0.0
                for ci in range(len(self.channels))]

    def pack(self, run, out=None):
        """The last sweep's record into out (default self.out); returns its length."""
        if out is None:
            out = self.out
        struct.pack_into(HEAD, out, 0, run & 0xFFFF, self.trials & 0xFFFF, self.last_us,
                         self.rate_khz, self.nv_per_lsb, len(self.channels))
        at = HEAD_SIZE
        for ci in range(len(self.channels)):
            struct.pack_into(ROW, out, at, self.channels[ci], self.flags[ci], self.onset_us[ci],
                             self.pp[ci], self.area[ci], self.thr16[ci])
            at += ROW_SIZE
        self.trials += 1
        return at

    def summary(self):
        """Per muscle, for the run's alarms: the largest peak-to-peak of a
        present response over the run's trials (0.0: no response in any)."""
        k = self.uv_per_lsb
        return [{"name": self.muscles[ci], "ch": self.channels[ci],
                 "pp_uv": round(self.best[ci] * k, 1)} for ci in range(len(self.channels))]


def decode(data, muscles=None):
    """A trial's record as the host reads it: times in ms, amplitudes in uV,
    area in uV ms; None where no onset was found."""
    run, trial, last_us, rate_khz, nv, n = struct.unpack_from(HEAD, data)
    k = nv / 1000
    out = []
    for ci in range(n):
        ch, fl, onset, pp, area, thr16 = struct.unpack_from(ROW, data, HEAD_SIZE + ci * ROW_SIZE)
        out.append({"ch": ch, "present": bool(fl & FLAG_PRESENT), "saturated": bool(fl & FLAG_SATURATED),
                    "onset_ms": None if onset == NONE else onset / 1000,
                    "pp_uv": round(pp * k, 3), "area_uvms": round(area * k / rate_khz, 3),
                    "threshold_uv": round(thr16 * k / 16, 3)})
    return {"run": run, "trial": trial, "train_ms": last_us / 1000, "muscles": out}
