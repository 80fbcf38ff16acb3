# Whether a muscle responded to a search's pulse: its response (peak-to-peak
# in the response window, uV) against its own detection level, k times the
# muscle's pre-stimulus noise (peak-to-peak before the pulse, averaged over
# the search's sweeps so far), never below the protocol's level_uv. One
# lumped level would let a noisy lead answer for a quiet one; one sweep's
# noise alone would make the level jump from pulse to pulse.
from stimfw.core.buffers import zeros


class Detector:
    def __init__(self, n, level_uv, k):
        self.n = n
        self.floor = float(level_uv)
        self.k = k
        self.noise_sum = zeros("f", n)
        self.sweeps = 0

    def level(self, i):
        """Muscle i's detection level, uV."""
        if not self.sweeps:
            return self.floor
        return max(self.floor, self.k * self.noise_sum[i] / self.sweeps)

    def feed(self, responses_uv, noise_uv):
        """Bitmask of the muscles (bit i: muscle i) whose response reached
        their level; the sweep's noise goes into the estimate first, so the
        first pulse already has a level of its own."""
        self.sweeps += 1
        bits = 0
        for i in range(self.n):
            self.noise_sum[i] += noise_uv[i]
            if responses_uv[i] >= self.level(i):
                bits |= 1 << i
        return bits

    def levels(self):
        # Whole uV: a float per muscle would be a heap object each.
        return [int(self.level(i) + 0.5) for i in range(self.n)]
