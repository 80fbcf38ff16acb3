"""The host tools' exceptions. Everything they raise on purpose is a
StimBoxError, so a CLI can print one line instead of a traceback."""

from __future__ import annotations

from typing import Any


class StimBoxError(Exception):
    """Base of every error the host tools raise on purpose."""


class PortError(StimBoxError):
    """The port is missing, busy, or vanished."""


class LinkError(StimBoxError):
    """The link misbehaved: no valid reply, a broken transfer, a unit not
    running the firmware."""


class ReplyTimeout(LinkError):
    """No reply to a request within its timeout."""


class UnitReset(LinkError):
    """The unit rebooted (its boot push came) while the host was waiting on
    it: whatever was in flight is lost. cause and detail are the unit's own
    reset cause (power_on, soft, interrupt, watchdog, crash, ...), before
    what it was doing; seq the last record in its journal at boot."""

    def __init__(self, message: str, cause: str = "unknown", detail: str | None = None,
                 before: str | None = None, seq: int | None = None) -> None:
        super().__init__(message)
        self.cause = cause
        self.detail = detail
        self.before = before
        self.seq = seq


class UnitLost(LinkError):
    """The unit stopped answering and did not come back."""


class BuildError(StimBoxError):
    """The firmware could not be built."""


class MicroPythonError(StimBoxError):
    """A MicroPython executable is missing, or is not MicroPython."""


class DeployError(StimBoxError):
    """Copying or switching the firmware failed; the unit keeps its previous
    firmware."""


class DeviceError(StimBoxError):
    """The device refused a request. Keeps the device's own text."""

    def __init__(self, code: int, name: str, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.name = name
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        return f"device refused ({self.name}): {self.message}"


class LimitError(DeviceError):
    """A safety limit refused the request; detail names the limit, the
    offending value and the allowed range."""


def limit_text(e: Exception) -> str:
    """A refusal as one line naming the limit, the value and the allowed range."""
    if isinstance(e, LimitError) and isinstance(e.detail, dict):
        d = e.detail
        return (f"refused by the unit: limit {d.get('limit')}: value {d.get('value')} "
                f"{d.get('unit', '')}, allowed {d.get('min')}..{d.get('max')} {d.get('unit', '')}"
                f" ({e.message})")
    return str(e)
