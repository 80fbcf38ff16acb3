# The MicroPython time module with a clock the test can stop: while frozen,
# ticks_us() and ticks_ms() answer the frozen value, so a HAL that reads the
# clock twice sees no time pass between (edge times then compare exactly).
import utime
from utime import *  # noqa: F401,F403

_frozen = [None]


def freeze(t_us):
    _frozen[0] = t_us


def thaw():
    _frozen[0] = None


def source(fn):
    """ticks_us() from fn (a peer model's virtual clock), or None: real."""
    _frozen[0] = fn


def ticks_us():
    t = _frozen[0]
    if t is None:
        return utime.ticks_us()
    return t if isinstance(t, int) else t()


def ticks_ms():
    t = _frozen[0]
    if t is None:
        return utime.ticks_ms()
    return (t if isinstance(t, int) else t()) // 1000
