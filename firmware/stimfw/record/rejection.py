# Artifact rejection, per channel and sweep: a channel's sweep is refused
# when any of its samples sat on an ADC rail (after stimulus blanking) or
# when its filtered response exceeds the amplitude limit. One noisy channel
# (an EMG lead, a loose electrode) must not discard the others' sweeps, so
# counts are kept per channel and by cause. A high rejection rate biases a
# channel's average towards quiet sweeps, so it raises that channel's warning.
from array import array

ACCEPT = 0
REJ_SATURATION = 1
REJ_AMPLITUDE = 2
VERDICTS = ("accepted", "saturation", "amplitude")

WARN_PCT = 80  # integer percent: no float arithmetic per sweep
WARN_MIN_SWEEPS = 10  # no warning from the first few sweeps alone


class Rejection:
    def __init__(self, limit_lsb, n_ch, warn_pct=WARN_PCT):
        self.limit = limit_lsb
        self.n_ch = n_ch
        self.warn_pct = warn_pct
        self.total = 0  # sweeps; every channel is judged in every sweep
        self.saturated = array("I", bytearray(4 * n_ch))
        self.amplitude = array("I", bytearray(4 * n_ch))

    def reset(self):
        self.total = 0
        for c in range(self.n_ch):
            self.saturated[c] = 0
            self.amplitude[c] = 0

    def sweep(self):
        """Count a sweep; call once per sweep, before judging its channels."""
        self.total += 1

    def judge(self, c, sat_samples, peak_lsb):
        if sat_samples:
            self.saturated[c] += 1
            return REJ_SATURATION
        if peak_lsb > self.limit:
            self.amplitude[c] += 1
            return REJ_AMPLITUDE
        return ACCEPT

    def rejected(self, c):
        return self.saturated[c] + self.amplitude[c]

    def warning(self, c):
        """True when more than warn_pct percent of channel c's sweeps were refused."""
        t = self.total
        return t >= WARN_MIN_SWEEPS and self.rejected(c) * 100 > self.warn_pct * t

    def summary(self):
        """Per channel (lists in channel order) and totals over channels."""
        rng = range(self.n_ch)
        sat = [self.saturated[c] for c in rng]
        amp = [self.amplitude[c] for c in rng]
        warn = [self.warning(c) for c in rng]
        return {
            "sweeps": self.total,
            "rejected": [sat[c] + amp[c] for c in rng],
            "saturation": sat,
            "amplitude": amp,
            "warning": warn,
            "rejected_total": sum(sat) + sum(amp),
            "warning_any": any(warn),
        }
