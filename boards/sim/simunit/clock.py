"""The unit's timeline clock: virtual time in microseconds since the model
started, never wrapped on this side.

Fast mode (the default): time only moves when the firmware waits (an idle
with a deadline, an acquisition of samples not yet recorded, a clock read) or
when a test advances it, so the firmware's CPU looks infinitely fast and a
run is the same for the same requests. Real-time mode: time is wall time
since start, plus any explicit advance.
"""

from __future__ import annotations

import time


class VirtualClock:
    def __init__(self, realtime: bool = False) -> None:
        self.realtime = realtime
        self._origin = time.monotonic_ns() // 1000
        self._fast_now = 0
        self._offset = 0  # real-time mode: explicit advances

    def now_us(self) -> int:
        if self.realtime:
            return time.monotonic_ns() // 1000 - self._origin + self._offset
        return self._fast_now

    def observe(self, device_now_us: int) -> None:
        """The device's clock has moved on (idle jump, clock reads): follow it."""
        if not self.realtime and device_now_us > self._fast_now:
            self._fast_now = device_now_us

    def advance_to(self, t_us: int) -> None:
        if self.realtime:
            return
        if t_us > self._fast_now:
            self._fast_now = t_us

    def advance_by(self, d_us: int) -> None:
        if d_us <= 0:
            return
        if self.realtime:
            self._offset += d_us
        else:
            self._fast_now += d_us

    def wall_wait_us(self, t_us: int) -> float:
        """Seconds of wall time until t_us is reached (real-time mode only)."""
        if not self.realtime:
            return 0.0
        return max(0.0, (t_us - self.now_us()) / 1e6)


def unwrap(ticks: int, near_us: int, period: int) -> int:
    """The unwrapped time closest to near_us whose value mod period is ticks."""
    half = period // 2
    return near_us + ((ticks - near_us + half) % period) - half
