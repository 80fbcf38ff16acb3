# How any layer of the firmware says no. A refusal carries a kind (the ERR_*
# codes below, stable numbers a host may switch on), a message for humans and
# a detail dict for programs. Only the request-handler layer (stimfw.link)
# turns one into an ERROR reply; below it, code just raises.
try:
    from micropython import const
except ImportError:  # CPython: the host shares these numbers

    def const(x):
        return x


ERR_UNKNOWN_TYPE = const(1)  # no handler for this message type
ERR_BAD_PAYLOAD = const(2)  # the request is not what its type takes
ERR_LIMIT = const(3)  # a limit refused it; detail names limit, value, range, unit
ERR_STATE = const(4)  # not allowed in the current state (e.g. START while IDLE)
ERR_INTERLOCK = const(5)  # the hardware interlock is open
ERR_NOT_FOUND = const(6)  # the named object, run or protocol does not exist
ERR_BUSY = const(7)  # another transfer or run is in progress
ERR_INTERNAL = const(8)  # the firmware raised; the message has the exception text
ERR_UNSUPPORTED = const(9)  # this board cannot do that (e.g. a sim-only request)
ERR_NOT_OWNER = const(10)  # another host's session holds the unit; detail names it and its age


class Refused(Exception):
    """A request, or the set-up it asks for, is refused: one ERROR reply."""

    def __init__(self, code, message, detail=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail


class LimitRefused(Refused):
    """A value outside its allowed range. The message and detail always name
    the limit, the value and the range, with the unit; `where` adds context
    (the stream, the filter section, ...) to both."""

    def __init__(self, limit, value, lo, hi, unit="", where=None):
        detail = {"limit": limit, "value": value, "min": lo, "max": hi, "unit": unit}
        u = " " + unit if unit else ""
        msg = "%s %r%s outside %s..%s%s" % (limit, value, u, lo, hi, u)
        if where:
            detail.update(where)
            msg += " (%s)" % ", ".join("%s %s" % (k, where[k]) for k in sorted(where))
        super().__init__(ERR_LIMIT, msg, detail)


def need(limit, value, lo, hi, unit="", where=None):
    """value if it is a number in lo..hi (bools are not numbers here), else
    LimitRefused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise LimitRefused(limit, value, lo, hi, unit, where)
    return value


def need_one_of(limit, value, allowed, unit=""):
    """value if it is one of allowed (a board's sample rates, say), else
    LimitRefused naming the choices."""
    if value not in allowed:
        raise LimitRefused(limit, value, min(allowed), max(allowed), unit, {"allowed": allowed})
    return value
