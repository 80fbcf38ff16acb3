# What MicroPython this firmware runs on: word size, float precision, ulab,
# and the time.ticks_* period. The same firmware runs on a 32-bit float32
# board and on the 64-bit Unix port; info() says which, so a host can tell
# a board-like runtime from the simulator's default one.
import sys
import time

_cached = None


def bits():
    # sys.maxsize is 2**31 - 1 on a 32-bit build, 2**63 - 1 on a 64-bit one;
    # shifting (not comparing with 2**32) keeps to small ints on both.
    return 64 if sys.maxsize >> 32 else 32


def float_name():
    # float32 has a 24-bit mantissa: 1 + 2**-30 rounds back to 1.
    return "float64" if 1.0 + 2.0 ** -30 != 1.0 else "float32"


def has_ulab():
    try:
        import ulab  # noqa: F401
    except ImportError:
        return False
    return True


def ticks_period():
    # time.ticks_* wrap at a power of two: 2**30 on boards and 32-bit
    # builds, 2**62 on the 64-bit Unix port.
    return time.ticks_add(0, -1) + 1


def info():
    """{"bits", "float", "ulab", "ticks_period"}, probed once."""
    global _cached
    if _cached is None:
        _cached = {
            "bits": bits(),
            "float": float_name(),
            "ulab": has_ulab(),
            "ticks_period": ticks_period(),
        }
    return _cached
