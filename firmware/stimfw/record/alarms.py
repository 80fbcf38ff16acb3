# Baselines and alarm criteria, per protocol. A protocol's "alarms" table
# (protocol.py normalises it, limits.py checks it against ALARM_RANGES at
# VALIDATE) overrides DEFAULTS, the common clinical criteria
# (docs/ALARMS.md has the rules and where each figure comes from).
#
# The rules, so that a stable patient does not raise alarms:
# - A baseline is the mean of `baseline_averages` reproducible averages: each
#   new one within `baseline_lat_ms` and `baseline_amp_pct` of the mean of
#   those gathered so far; one that is not starts the gathering again. Until
#   then a run's results say the baseline is pending, and why.
# - A criterion raises its alarm only when it holds in `confirm` consecutive
#   averages, and clears only when the response has recovered past the
#   trigger level by a margin (clear_amp_pct, clear_lat_pct) in as many.
# - A change whose measurement is technically unsound (its residual noise
#   far above the baseline's, or most of its channel's sweeps rejected: a
#   lead off) is labelled technical and counts neither way.
# - A raised alarm is labelled global when every monitored measurement of
#   the modality has moved the same way (anaesthesia, temperature, blood
#   pressure) and focal when the change is confined (surgery, positioning).
#
# A modality plugs in through MODALITIES: the fields a measurement carries
# and its criteria. All state lives in Baselines, a table reserved at boot;
# an AlarmMonitor holds only the run's thresholds and works on that table.
from stimfw.core.buffers import zeros

DEFAULTS = {
    "ssep_amp_drop_pct": 50.0,  # SSEP amplitude down by at least this much
    "ssep_lat_rise_pct": 10.0,  # SSEP latency up by at least this much
    "mep_drop_pct": 80.0,  # MEP amplitude down by at least this much
    "mep_loss_uv": 20.0,  # below this peak-to-peak the MEP counts as lost
    "dwave_drop_pct": 50.0,  # D-wave amplitude down by at least this much
    "temg_limit_ma": 8.0,  # a triggered-EMG threshold below this alarms
    "mep_threshold_rise_v": 100.0,  # a TcMEP threshold up by more than this alarms
    "baseline_averages": 2,  # reproducible averages that make a baseline
    "baseline_lat_ms": 1.0,  # reproducible: latencies within this much
    "baseline_amp_pct": 30.0,  # reproducible: amplitudes within this much
    # An MEP's amplitude varies from train to train by more than half in a
    # stable patient: its baseline is reproducible when the same muscles
    # respond (100: any amplitude), unless a protocol asks for more.
    "baseline_mep_amp_pct": 100.0,
    "confirm": 2,  # consecutive averages a criterion must hold (or clear) in
    "clear_amp_pct": 10.0,  # an amplitude alarm clears this far above its trigger
    "clear_lat_pct": 5.0,  # a latency alarm clears this far below its trigger
    "global_pct": 50.0,  # another limb's change counts when it is this share of the criterion
}
# Keys whose values are counts, not measures.
COUNTS = ("baseline_averages", "confirm")

DROP = 0  # amplitude down (a lost response counts as a 100% drop)
RISE = 1  # latency up (a lost response has none: the state holds)
STEP = 2  # a threshold up, in the limit's unit (no response at all counts as up)
# modality: (fields, criteria); a criterion is (its key in the state,
# the alarm's name, kind, field index, limit key, loss key or None).
MODALITIES = {
    "SSEP": (("amp_uv", "lat_ms"), (
        ("amp", "ssep_amplitude", DROP, 0, "ssep_amp_drop_pct", None),
        ("lat", "ssep_latency", RISE, 1, "ssep_lat_rise_pct", None))),
    "MEP": (("pp_uv",), (("mep", "mep_amplitude", DROP, 0, "mep_drop_pct", "mep_loss_uv"),)),
    "DWAVE": (("amp_uv",), (("dwave", "dwave_amplitude", DROP, 0, "dwave_drop_pct", None),)),
    # TcMEP threshold tracking: each muscle's threshold train amplitude, mV.
    "MEPT": (("threshold",), (("rise", "mep_threshold", STEP, 0, "mep_threshold_rise_v", None),)),
}
CODES = ("SSEP", "MEP", "DWAVE", "MEPT")  # a slot's modality, stored as index + 1

TECH = 8  # flags bit: the measurement is technically unsound
TECH_NOISE_X = 4  # residual noise this many times the baseline's: technical
GLOBAL_WINDOW_S = 900  # other protocols count for "global" when checked this recently
_NAN = float("nan")


def thresholds(spec_alarms):
    """A spec's "alarms" table (milli-units, protocol.py) as DEFAULTS' units."""
    t = dict(DEFAULTS)
    for k, v in (spec_alarms or {}).items():
        t[k] = v // 1000 if k in COUNTS else v / 1000
    return t


def value(m, field):
    v = m.get(field)
    if v is None and field == "pp_uv":
        v = m.get("amp_uv")  # an MEP measured as a component
    return v


class AlarmMonitor:
    """One run's criteria for one modality, on the measurements stored from
    index g0 of a Baselines table. Without a table (a check outside a run),
    set_baseline() makes one of its own and the baseline is that average."""

    def __init__(self, modality, thresholds=None, table=None, g0=0):
        self.modality = modality
        t = dict(DEFAULTS)
        for k, v in (thresholds or {}).items():
            if k not in DEFAULTS:
                raise ValueError("unknown alarm threshold %r" % k)
            t[k] = v
        self.th = t
        self.tab = table
        self.g0 = g0
        self.fields, self.criteria = MODALITIES.get(modality, ((), ()))

    # --- building a baseline ------------------------------------------------
    def differs(self, measurements):
        """Why the measurements are not reproducible with the baseline
        gathered so far (None when they are)."""
        th = self.th
        tab = self.tab
        for k, m in enumerate(measurements):
            g = self.g0 + k
            for j, f in enumerate(self.fields):
                b = tab.values[2 * g + j]
                v = value(m, f)
                if (v is None) != (b != b):
                    return "%s ch %d: %s %s in one average only" % (
                        m.get("name", "MEP"), m["ch"], f, "absent" if v is None else "present")
                if v is None:
                    continue
                if f == "lat_ms":
                    d = abs(v - b)
                    if d > th["baseline_lat_ms"]:
                        return "%s ch %d: latency %.2f ms from the others, allowed %.2f ms" % (
                            m.get("name", "MEP"), m["ch"], d, th["baseline_lat_ms"])
                else:
                    d = 100.0 * abs(v - b) / max(abs(v), abs(b), 1e-9)
                    tol = th["baseline_mep_amp_pct" if self.modality == "MEP" else "baseline_amp_pct"]
                    if d > tol:
                        return "%s ch %d: amplitude %.0f%% from the others, allowed %.0f%%" % (
                            m.get("name", "MEP"), m["ch"], d, tol)
        return None

    def gather(self, measurements, have):
        """Add the measurements as average number have + 1 of the baseline:
        the baseline is the running mean."""
        tab = self.tab
        for k, m in enumerate(measurements):
            g = self.g0 + k
            for j in range(2):
                v = value(m, self.fields[j]) if j < len(self.fields) else None
                i = 2 * g + j
                if v is None:
                    tab.values[i] = _NAN
                elif have == 0:
                    tab.values[i] = v
                else:
                    tab.values[i] += (v - tab.values[i]) / (have + 1)
            n = m.get("noise_uv")
            nz = 0 if n is None else min(int(n * 100 + 0.5), 65535)
            tab.noise[g] = nz if have == 0 else (tab.noise[g] * have + nz) // (have + 1)
            tab.flags[g] = 0
            tab.counts[g] = 0
            tab.change[2 * g] = 0
            tab.change[2 * g + 1] = 0

    def set_baseline(self, measurements):
        """measurements as the baseline, at once (outside a run's rules)."""
        if self.tab is None:
            self.tab = Baselines(1, max(len(measurements), 1))
            self.tab.runs[0] = 1
            self.g0 = 0
        self.gather(measurements, 0)

    # --- checking against it --------------------------------------------------
    def technical(self, g, m, warning):
        """Why measurement m (at g) cannot be trusted, or None."""
        tab = self.tab
        if warning:
            return "most of channel %d's sweeps rejected" % m["ch"]
        n = m.get("noise_uv")
        b = tab.noise[g]
        if n is not None and b and n * 100 >= TECH_NOISE_X * b:
            return "residual noise %.2f uV, %.1f times the baseline's %.2f uV" % (n, n * 100 / b, b / 100)
        return None

    def check(self, measurements, t_ms=None, warnings=None):
        """Advance every criterion of the measurements by one average;
        events (dicts) for criteria raised or cleared, and for measurements
        that became technically unsound or sound again. warnings: per
        measurement, whether its channel's rejection warning is on."""
        if self.modality == "TEMG":
            return self._temg(measurements, t_ms)
        out = []
        tab = self.tab
        g0 = self.g0
        th = self.th
        need = th["confirm"]
        name = self.modality
        for k, m in enumerate(measurements):
            g = g0 + k
            tag = m.get("name", name)
            ch = m["ch"]
            why = self.technical(g, m, warnings is not None and warnings[k])
            fl = tab.flags[g]
            if (why is not None) != bool(fl & TECH):
                ev = {"alarm": "technical", "modality": name, "name": tag, "ch": ch,
                      "label": "technical", "reason": why, "t_ms": t_ms}
                if why is None:
                    ev["cleared"] = True
                out.append(ev)
                fl ^= TECH
            for j, c in enumerate(self.criteria):
                _, alarm, kind, fi, lim_key, loss_key = c
                b = tab.values[2 * g + fi]
                if b != b:
                    continue  # no such peak in the baseline: nothing to compare with
                v = value(m, self.fields[fi])
                lim = th[lim_key]
                shift = 4 * j
                cnt = (tab.counts[g] >> shift) & 15
                on = fl & (1 << j)
                if kind == DROP:
                    vv = 0.0 if v is None else v
                    chg = -100.0 * (b - vv) / b if b > 0 else 0.0
                    lost = loss_key is not None and vv < th[loss_key]
                    hit = -chg >= lim or lost
                    back = -chg < lim - th["clear_amp_pct"] and not lost
                elif kind == STEP:
                    # mV to V; no response up to the protocol's amplitude
                    # is a rise past any limit.
                    lost = v is None
                    chg = 0.0 if lost else (v - b) / 1000.0
                    hit = lost or chg > lim
                    back = not lost and chg <= lim
                else:
                    if v is None:
                        continue  # a lost peak has no latency; the amplitude covers it
                    chg = 100.0 * (v - b) / b if b > 0 else 0.0
                    lost = False
                    hit = chg >= lim
                    back = chg < lim - th["clear_lat_pct"]
                # Smoothed (each average weighs half) so that one noisy
                # average of a stable limb does not make a focal change look
                # global, nor the reverse.
                sm = (tab.change[2 * g + j] + chg) / 2
                tab.change[2 * g + j] = max(-127, min(127, int(sm + (0.5 if sm > 0 else -0.5))))
                if why is not None:
                    cnt = 0  # a technical fault neither raises nor clears
                elif back if on else hit:
                    cnt += 1
                else:
                    cnt = 0
                if cnt >= need:
                    cnt = 0
                    fl ^= 1 << j
                    ev = {"alarm": alarm if kind == RISE or not lost else name.lower() + "_loss",
                          "modality": name, "name": tag, "ch": ch, "change_pct": round(chg, 1),
                          "limit_pct": lim if kind == RISE else -lim, "averages": need,
                          "t_ms": t_ms, "criterion": j}
                    if kind == STEP:
                        ev["baseline_v"] = round(b / 1000.0, 1)
                        ev["value_v"] = None if v is None else v / 1000.0
                        ev["rise_v"] = None if v is None else round(chg, 1)
                        ev["limit_v"] = lim
                        ev["alarm"] = alarm
                        del ev["change_pct"]
                        del ev["limit_pct"]
                    elif kind == RISE:
                        ev["baseline_ms"] = round(b, 3)
                        ev["value_ms"] = v
                    else:
                        ev["baseline_uv"] = round(b, 4)
                        ev["value_uv"] = v
                        if loss_key is not None:
                            ev["loss_uv"] = th[loss_key]
                    if on:
                        ev["cleared"] = True
                    out.append(ev)
                tab.counts[g] = (tab.counts[g] & ~(15 << shift)) | (cnt << shift)
            tab.flags[g] = fl
        return out

    def _temg(self, measurements, t_ms):
        """Triggered EMG: a threshold below the limit, each time it is found."""
        lim = self.th["temg_limit_ma"]
        out = []
        for m in measurements:
            v = m["threshold_ma"]
            if v is not None and v < lim:
                out.append({"alarm": "temg_threshold", "modality": "TEMG",
                            "name": m.get("name", "emg"), "ch": m["ch"], "value_ma": v,
                            "limit_ma": lim, "t_ms": t_ms})
        return out

    def label(self, slot, ev, now_s):
        """"global" when every monitored measurement of the modality (this
        protocol's and other protocols' checked within GLOBAL_WINDOW_S) has
        moved at least global_pct of ev's criterion its way, else "focal";
        ev gets the label and the count ("spread": [changed, monitored])."""
        tab = self.tab
        j = ev["criterion"]
        kind = self.criteria[j][2]
        lim = self.th[self.criteria[j][4]] * self.th["global_pct"] / 100
        code = CODES.index(self.modality) + 1
        moved = seen = 0
        for s in range(tab.size):
            if not tab.runs[s] or tab.mod[s] != code or tab.have[s] < tab.need[s]:
                continue
            if s != slot and now_s - tab.seen[s] > GLOBAL_WINDOW_S:
                continue
            g0 = s * tab.per
            for g in range(g0, g0 + tab.nmeas[s]):
                if tab.flags[g] & TECH or tab.values[2 * g + self.criteria[j][3]] != tab.values[
                        2 * g + self.criteria[j][3]]:
                    continue
                seen += 1
                c = tab.change[2 * g + j]
                if (-c if kind == DROP else c) >= lim:
                    moved += 1
        ev["label"] = "global" if seen > 1 and moved == seen else "focal"
        ev["spread"] = [moved, seen]
        return ev


class Baselines:
    """Protocols' baselines: at most `size` protocols of at most `per`
    measurements each, in arrays reserved once, so that a long case, which
    sets a new baseline every few runs, keeps nothing between runs that a
    run allocated. A slot holds the protocol's hash (its digest), the run
    that started its baseline, when it was last used (least recently used
    goes first when the table is full), the averages gathered into the
    baseline and how many it needs, its modality, how many measurements it
    has and when (wall seconds) they were last checked. Per measurement: two
    float32 values (the baseline's running mean), its residual noise, the
    change per criterion (signed percent, smoothed over the last averages), a byte of active criteria
    and technical fault, and a byte of consecutive-average counts."""

    def __init__(self, size, per):
        self.size = size
        self.per = per
        self.keys = bytearray(32 * size)  # sha256 digest per slot
        self.runs = zeros("i", size)  # 0: a free slot
        self.used = zeros("i", size)  # self.clock at the slot's last use
        self.seen = zeros("i", size)  # wall seconds of the slot's last check
        self.have = bytearray(size)  # averages gathered into the baseline
        self.need = bytearray(size)  # averages the baseline needs
        self.mod = bytearray(size)  # CODES index + 1
        self.nmeas = bytearray(size)
        self.values = zeros("f", 2 * per * size)
        self.noise = zeros("H", per * size)  # 0.01 uV; 0: unknown
        self.change = zeros("b", 2 * per * size)
        self.flags = bytearray(per * size)
        self.counts = bytearray(per * size)
        self.clock = 0
        self.count = 0  # slots in use
        self.dropped = 0  # baselines dropped for room, since boot

    def slot(self, digest, run, new):
        """(slot, run that started its baseline, fresh): the protocol's
        slot, made the most recently used; a fresh one (the least recently
        used dropped when the table is full) when it has none or `new` asks
        for a new baseline, which `run` then starts."""
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
                    self.have[i] = 0
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
        self.have[free] = 0
        self.nmeas[free] = 0
        return free, run, True

    def first(self, slot, at):
        """Index of measurement `at` of the slot."""
        return slot * self.per + at

    def room(self, at, measurements):
        """The measurements from `at` that fit the slot (at most `per` in
        all: the rest are not kept)."""
        n = min(len(measurements), self.per - at)
        return measurements[:n] if n > 0 else ()
