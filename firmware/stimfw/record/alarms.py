# Alarm criteria against a stored baseline. Thresholds are per protocol
# (an "alarms" dict in the protocol overrides these defaults, which are the
# common clinical ones). An alarm is an event dict that carries the values
# that raised it; it is reported once when the criterion starts to hold and
# once more ("cleared") when it stops.
DEFAULTS = {
    "ssep_amp_drop_pct": 50.0,  # SSEP amplitude down by at least this much
    "ssep_lat_rise_pct": 10.0,  # SSEP latency up by at least this much
    "mep_drop_pct": 80.0,  # MEP amplitude down by at least this much
    "mep_loss_uv": 20.0,  # below this peak-to-peak the MEP counts as lost
    "temg_limit_ma": 8.0,  # a triggered-EMG threshold below this alarms
}


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
            elif self.modality == "MEP":
                b = base["pp_uv"]
                v = m["pp_uv"]
                drop = 100.0 * (b - v) / b if b > 0 else 0.0
                lost = v < th["mep_loss_uv"]
                lim = th["mep_drop_pct"]
                self._event(out, ("mep", name, ch), lost or drop >= lim, {
                    "alarm": "mep_loss" if lost else "mep_amplitude", "modality": "MEP",
                    "name": name, "ch": ch, "baseline_uv": b, "value_uv": v,
                    "change_pct": -drop, "limit_pct": -lim, "loss_uv": th["mep_loss_uv"],
                    "t_ms": t_ms})
        return out
