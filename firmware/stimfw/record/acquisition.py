# Free-run acquisition into a preallocated buffer: consecutive blocks on the
# timeline clock. Nothing here allocates once constructed. Trigger-locked
# sweeps are acquired channel by channel by averager.SweepProcessor.take(),
# which reads from trigger - pre (the HAL's ADC runs into a ring buffer).


class Stream:
    """Consecutive blocks for free-run EMG: each take() reads the block
    that follows the previous one on the timeline clock."""

    def __init__(self, hal, channels, rate_hz, block, buf, start_us):
        self.hal = hal
        self.channels = tuple(channels)
        self.rate_hz = rate_hz
        self.block = block
        self.buf = buf
        self.t_us = start_us
        self.block_us = block * 1000000 // rate_hz
        self.count = 0

    def due(self, now_us):
        """The next block lies completely in the past."""
        return self.hal.ticks_diff(now_us, self.hal.ticks_add(self.t_us, self.block_us)) >= 0

    def take(self):
        hal = self.hal
        hal.acquire(self.t_us, self.rate_hz, self.channels, self.buf)
        self.t_us = hal.ticks_add(self.t_us, self.block_us)
        self.count += 1
        return self.buf
