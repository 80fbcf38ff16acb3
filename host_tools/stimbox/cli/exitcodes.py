"""The `stimbox` exit codes, and the one place an exception becomes one.

Commands raise; stimbox.cli.app catches and asks code_for(). A script can
tell "no unit" from "the unit said no" from "the run faulted" without
parsing text (docs/CLI.md lists them)."""

from __future__ import annotations

from simunit import SimError

from stimbox.errors import DeviceError, LimitError, LinkError, PortError, StimBoxError

OK = 0
CHECK_FAILED = 1  # validation FAIL, an impedance FAIL
USAGE = 2  # bad arguments or options, a protocol file or name that does not load
NO_UNIT = 3  # missing, busy or vanished port; no reply; the unit rebooted or was lost
LIMIT = 4  # refused by the unit's safety limits
RUN_FAULT = 5  # the run ended by a fault (fault, e-stop, interlock, heartbeat lost, ...)
REFUSED = 6  # any other refusal by the unit (state, not owner, ...)
HOST_ERROR = 7  # the host side failed: build, deploy, simulator, files, a bug
INTERRUPTED = 130  # Ctrl-C, after stopping stimulation and saving what was gathered

TABLE = [
    (OK, "success"),
    (CHECK_FAILED, "a check failed: validation FAIL, an impedance FAIL"),
    (USAGE, "usage: bad arguments or options, a protocol file or name that does not load"),
    (NO_UNIT, "no unit: missing, busy or vanished port, no reply, the unit rebooted"),
    (LIMIT, "refused by the unit's safety limits (the line names the limit, value and range)"),
    (RUN_FAULT, "the run ended by a fault: output fault, e-stop, interlock, heartbeat lost, ..."),
    (REFUSED, "another refusal by the unit (its state, another host's session, ...)"),
    (HOST_ERROR, "the host side failed: build, deploy, simulator, files, or a bug"),
    (INTERRUPTED, "interrupted (Ctrl-C), after stopping stimulation and saving"),
]


class CheckFailed(StimBoxError):
    """A check the command ran said FAIL; its figures are already printed."""


class UsageError(StimBoxError):
    """Arguments or options the host refuses before any unit is involved."""


class RunFault(StimBoxError):
    """The unit ended the run by a fault; the run's record is already printed."""


class Interrupted(StimBoxError):
    """Ctrl-C, handled: the message says what was stopped and saved."""


def code_for(e: BaseException) -> int:
    """The exit code for an exception a command raised. Subclasses first:
    LimitError is a DeviceError, ReplyTimeout a LinkError."""
    from stimbox.protocols import ProtocolFileError

    if isinstance(e, KeyboardInterrupt | Interrupted):
        return INTERRUPTED
    if isinstance(e, CheckFailed):
        return CHECK_FAILED
    if isinstance(e, UsageError | ProtocolFileError):
        return USAGE
    if isinstance(e, RunFault):
        return RUN_FAULT
    if isinstance(e, LimitError):
        return LIMIT
    if isinstance(e, DeviceError):
        return REFUSED
    if isinstance(e, PortError | LinkError | TimeoutError):
        return NO_UNIT
    if isinstance(e, StimBoxError | SimError):
        return HOST_ERROR
    return HOST_ERROR
