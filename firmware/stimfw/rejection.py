# Per-sweep artifact rejection: a sweep is refused when any sample sat on an
# ADC rail (after stimulus blanking) or when any channel's filtered response
# exceeds the amplitude limit. Counts are kept by cause; a high rejection
# rate biases the average towards quiet sweeps, so it raises a warning.
ACCEPT = 0
REJ_SATURATION = 1
REJ_AMPLITUDE = 2
VERDICTS = ("accepted", "saturation", "amplitude")

WARN_PCT = 80  # integer percent: no float arithmetic per sweep
WARN_MIN_SWEEPS = 10  # no warning from the first few sweeps alone


class Rejection:
    def __init__(self, limit_lsb, warn_pct=WARN_PCT):
        self.limit = limit_lsb
        self.warn_pct = warn_pct
        self.total = 0
        self.saturated = 0
        self.amplitude = 0

    def reset(self):
        self.total = 0
        self.saturated = 0
        self.amplitude = 0

    def judge(self, sat_samples, peak_lsb):
        self.total += 1
        if sat_samples:
            self.saturated += 1
            return REJ_SATURATION
        if peak_lsb > self.limit:
            self.amplitude += 1
            return REJ_AMPLITUDE
        return ACCEPT

    def rejected(self):
        return self.saturated + self.amplitude

    def warning(self):
        """True when more than warn_pct percent of the sweeps so far were refused."""
        t = self.total
        return t >= WARN_MIN_SWEEPS and self.rejected() * 100 > self.warn_pct * t

    def summary(self):
        return {
            "sweeps": self.total,
            "rejected": self.rejected(),
            "saturation": self.saturated,
            "amplitude": self.amplitude,
            "warning": self.warning(),
        }
