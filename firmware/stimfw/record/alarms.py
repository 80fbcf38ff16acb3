# Alarm criteria against a stored baseline. Thresholds are per protocol
# (an "alarms" dict in the protocol overrides these defaults, which are the
# common clinical ones). An alarm is an event dict that carries the values
# that raised it; it is reported once when the criterion starts to hold and
# once more ("cleared") when it stops.
#
# Between runs a protocol's baseline lives in Baselines, a table reserved
# once at boot; an AlarmMonitor is made for a run's check and dropped again
# (dump() and restore() move its state in and out of the table).
from stimfw.core.buffers import zeros

DEFAULTS = {
    "ssep_amp_drop_pct": 50.0,  # SSEP amplitude down by at least this much
    "ssep_lat_rise_pct": 10.0,  # SSEP latency up by at least this much
    "mep_drop_pct": 80.0,  # MEP amplitude down by at least this much
    "mep_loss_uv": 20.0,  # below this peak-to-peak the MEP counts as lost
    "temg_limit_ma": 8.0,  # a triggered-EMG threshold below this alarms
    "mep_threshold_rise_v": 100.0,  # a TcMEP threshold up by more than this alarms
}


# What a baseline keeps per measurement, by modality: its values (at most
# two), and the criteria whose "active" state carries over to the next run
# (one bit each, in this order).
FIELDS = {"SSEP": ("amp_uv", "lat_ms"), "MEP": ("pp_uv",), "MEPT": ("threshold",)}
CRITERIA = {"SSEP": ("amp", "lat"), "MEP": ("mep",), "MEPT": ("rise",)}
_NAN = float("nan")


def _value(m, field):
    """A measurement's value of a FIELDS name; an MEP stream may be measured
    as averaged components, whose amplitude is "amp_uv" (None when absent)."""
    if field in m:
        return m[field]
    if field == "pp_uv":
        return m.get("amp_uv")
    return None


class AlarmMonitor:
    def __init__(self, modality, thresholds=None):
        self.modality = modality
        t = dict(DEFAULTS)
        for k, v in (thresholds or {}).items():
            if k not in DEFAULTS:
                raise ValueError("unknown alarm threshold %r" % k)
            t[k] = float(v)
        self.th = t
        self.baseline = {}
        self.active = {}

    def set_baseline(self, measurements):
        """measurements: SSEP component dicts ({"name","ch","lat_ms","amp_uv"})
        or MEP dicts ({"ch","pp_uv"}), as measure.py returns them."""
        self.baseline = {}
        for m in measurements:
            self.baseline[(m.get("name", "MEP"), m["ch"])] = m
        self.active = {}

    def dump(self, measurements, values, flags, at):
        """Write the baseline and active criteria of `measurements` (a
        run's, in its order) to values[2 * (at + k) ...] and flags[at + k]:
        numbers only, None kept as nan."""
        fields = FIELDS.get(self.modality, ())
        crit = CRITERIA.get(self.modality, ())
        for k, m in enumerate(measurements):
            key = (m.get("name", "MEP"), m["ch"])
            base = self.baseline.get(key)
            for j in range(2):
                v = _value(base, fields[j]) if base is not None and j < len(fields) else None
                values[2 * (at + k) + j] = _NAN if v is None else v
            bits = 0
            for j, c in enumerate(crit):
                if (c,) + key in self.active:
                    bits |= 1 << j
            flags[at + k] = bits

    def restore(self, measurements, values, flags, at):
        """The state dump() wrote for the same measurements (names and
        channels are the run's: a protocol's measurements come in the same
        order on every run of it)."""
        fields = FIELDS.get(self.modality, ())
        crit = CRITERIA.get(self.modality, ())
        for k, m in enumerate(measurements):
            key = (m.get("name", "MEP"), m["ch"])
            base = {}
            for j, f in enumerate(fields):
                v = values[2 * (at + k) + j]
                base[f] = None if v != v else v
            self.baseline[key] = base
            bits = flags[at + k]
            for j, c in enumerate(crit):
                if bits & (1 << j):
                    self.active[(c,) + key] = True

    def _event(self, out, key, on, ev):
        was = key in self.active
        if on and not was:
            self.active[key] = ev
            out.append(ev)
        elif not on and was:
            del self.active[key]
            ev["cleared"] = True
            out.append(ev)

    def check(self, measurements, t_ms=None):
        """Events (list of dicts) for criteria that started or stopped holding."""
        out = []
        th = self.th
        for m in measurements:
            name = m.get("name", "MEP")
            ch = m["ch"]
            if self.modality == "TEMG":
                lim = th["temg_limit_ma"]
                v = m["threshold_ma"]
                self._event(out, ("threshold", name, ch), v is not None and v < lim, {
                    "alarm": "temg_threshold", "modality": "TEMG", "name": name, "ch": ch,
                    "value_ma": v, "limit_ma": lim, "t_ms": t_ms})
                continue
            base = self.baseline.get((name, ch))
            if base is None:
                continue
            if self.modality == "SSEP":
                b = base["amp_uv"]
                if b is None:
                    continue  # no peak in the baseline: nothing to compare with
                v = m["amp_uv"]
                if v is None:
                    v = 0.0  # the peak is gone: a loss of response
                drop = 100.0 * (b - v) / b if b > 0 else 0.0
                lim = th["ssep_amp_drop_pct"]
                self._event(out, ("amp", name, ch), drop >= lim, {
                    "alarm": "ssep_amplitude", "modality": "SSEP", "name": name, "ch": ch,
                    "baseline_uv": b, "value_uv": v, "change_pct": -drop, "limit_pct": -lim,
                    "t_ms": t_ms})
                b = base["lat_ms"]
                v = m["lat_ms"]
                if v is None:
                    continue  # a lost peak has no latency; the amplitude alarm covers it
                rise = 100.0 * (v - b) / b if b > 0 else 0.0
                lim = th["ssep_lat_rise_pct"]
                self._event(out, ("lat", name, ch), rise >= lim, {
                    "alarm": "ssep_latency", "modality": "SSEP", "name": name, "ch": ch,
                    "baseline_ms": b, "value_ms": v, "change_pct": rise, "limit_pct": lim,
                    "t_ms": t_ms})
            elif self.modality == "MEPT":
                # TcMEP threshold tracking, thresholds in mV: a rise of more
                # than the limit, or no response up to the protocol's
                # amplitude (threshold None), against the baseline's.
                b = _value(base, "threshold")
                if b is None:
                    continue
                v = m["threshold"]
                lim = th["mep_threshold_rise_v"]
                rise = None if v is None else (v - b) / 1000.0
                self._event(out, ("rise", name, ch), rise is None or rise > lim, {
                    "alarm": "mep_threshold", "modality": "MEP", "name": name, "ch": ch,
                    "baseline_v": b / 1000.0, "value_v": None if v is None else v / 1000.0,
                    "rise_v": rise, "limit_v": lim, "t_ms": t_ms})
            elif self.modality == "MEP":
                b = _value(base, "pp_uv")
                if b is None:
                    continue  # no response in the baseline: nothing to compare with
                v = _value(m, "pp_uv")
                if v is None:
                    v = 0.0  # absent: a loss of response
                drop = 100.0 * (b - v) / b if b > 0 else 0.0
                lost = v < th["mep_loss_uv"]
                lim = th["mep_drop_pct"]
                self._event(out, ("mep", name, ch), lost or drop >= lim, {
                    "alarm": "mep_loss" if lost else "mep_amplitude", "modality": "MEP",
                    "name": name, "ch": ch, "baseline_uv": b, "value_uv": v,
                    "change_pct": -drop, "limit_pct": -lim, "loss_uv": th["mep_loss_uv"],
                    "t_ms": t_ms})
        return out


class Baselines:
    """Protocols' baselines: at most `size` protocols of at most `per`
    measurements each, in arrays reserved once, so that a long case, which
    sets a new baseline every few runs, keeps nothing between runs that a
    run allocated. A slot holds the protocol's hash (its digest), the run
    that set the baseline, when it was last used (least recently used goes
    first when the table is full), two float32 values and a byte of active
    criteria per measurement."""

    def __init__(self, size, per):
        self.size = size
        self.per = per
        self.keys = bytearray(32 * size)  # sha256 digest per slot
        self.runs = zeros("i", size)  # 0: a free slot
        self.used = zeros("i", size)  # self.clock at the slot's last use
        self.values = zeros("f", 2 * per * size)
        self.flags = bytearray(per * size)
        self.clock = 0
        self.count = 0  # slots in use
        self.dropped = 0  # baselines dropped for room, since boot

    def slot(self, digest, run, new):
        """(slot, run that set its baseline, fresh): the protocol's slot,
        made the most recently used; a fresh one (the least recently used
        dropped when the table is full) when it has none or `new` asks for
        a new baseline, which `run` then sets."""
        self.clock += 1
        free = -1
        oldest = -1
        for i in range(self.size):
            if not self.runs[i]:
                if free < 0:
                    free = i
            elif self.keys[32 * i : 32 * i + 32] == digest:
                self.used[i] = self.clock
                if new:
                    self.runs[i] = run
                return i, self.runs[i], new
            elif oldest < 0 or self.used[i] < self.used[oldest]:
                oldest = i
        if free < 0:
            free = oldest
            self.dropped += 1
        else:
            self.count += 1
        self.keys[32 * free : 32 * free + 32] = digest
        self.runs[free] = run
        self.used[free] = self.clock
        return free, run, True

    def save(self, slot, at, mon, measurements):
        """The monitor's state for measurements at..at+n of the slot (at
        most `per` in all: the rest are not kept)."""
        n = min(len(measurements), self.per - at)
        if n > 0:
            mon.dump(measurements[:n], self.values, self.flags, slot * self.per + at)

    def load(self, slot, at, mon, measurements):
        n = min(len(measurements), self.per - at)
        if n > 0:
            mon.restore(measurements[:n], self.values, self.flags, slot * self.per + at)
