"""StimBox host tools: talk to a unit, deploy its firmware, run protocols."""

from stimbox.client import StimBox
from stimbox.errors import (
    DeviceError,
    LimitError,
    LinkError,
    PortError,
    ReplyTimeout,
    StimBoxError,
)

__all__ = [
    "StimBox",
    "StimBoxError",
    "LinkError",
    "PortError",
    "ReplyTimeout",
    "DeviceError",
    "LimitError",
]
