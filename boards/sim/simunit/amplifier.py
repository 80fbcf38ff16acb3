"""Per-channel errors of the recording amplifiers: a gain error that scales
everything a channel records, and a delay that shifts every time-locked
signal on it (evoked waves, stimulus artifact, calibrator bursts). A
deliberately miscalibrated recording chain is one changed field, set by the
sim request {"amp": {"channel": 3, "gain_error": 0.05, "delay_us": 100}},
a scenario's [[amp]] tables or `stimbox sim --amp 3:gain_error=0.05`."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

from simunit.montage import CHANNELS

MAX_DELAY_US = 10_000.0  # a chain's group delay is microseconds; 10 ms is already absurd
MAX_GAIN_ERROR = 1.0  # gain 0..2 of nominal


@dataclass(frozen=True)
class AmpError:
    gain_error: float = 0.0  # recorded = true * (1 + gain_error)
    delay_us: float = 0.0  # time-locked signals appear this much later

    @property
    def gain(self) -> float:
        return 1.0 + self.gain_error

    def describe(self) -> dict[str, float]:
        return {"gain_error": self.gain_error, "delay_us": self.delay_us}


FIELDS = tuple(f.name for f in fields(AmpError))
NONE = AmpError()


def channel_index(value: Any) -> int:
    """A channel number, checked against the montage."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"amp: channel must be 0..{len(CHANNELS) - 1}, got {value!r}")
    try:
        ch = int(value)
    except ValueError:
        raise ValueError(f"amp: channel must be 0..{len(CHANNELS) - 1}, got {value!r}") from None
    if not 0 <= ch < len(CHANNELS):
        raise ValueError(f"amp: channel must be 0..{len(CHANNELS) - 1}, got {value!r}")
    return ch


def with_changes(e: AmpError, changes: dict[str, Any]) -> AmpError:
    """e with some fields changed; a ValueError names the known fields."""
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown amplifier parameter(s) {sorted(unknown)}; known: {list(FIELDS)}")
    vals = {}
    for k, v in changes.items():
        try:
            if isinstance(v, bool):
                raise TypeError
            x = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"amplifier {k} must be a number, got {v!r}") from None
        if not math.isfinite(x):
            raise ValueError(f"amplifier {k} must be finite, got {v!r}")
        vals[k] = x
    if abs(vals.get("gain_error", e.gain_error)) > MAX_GAIN_ERROR:
        raise ValueError(f"amplifier gain_error must be within +-{MAX_GAIN_ERROR}, got {vals['gain_error']}")
    if not 0.0 <= vals.get("delay_us", e.delay_us) <= MAX_DELAY_US:
        raise ValueError(f"amplifier delay_us must be 0..{MAX_DELAY_US:g}, got {vals['delay_us']:g}")
    return replace(e, **vals)


def from_request(spec: dict[str, Any]) -> tuple[int, AmpError]:
    """{"channel": 3, "gain_error": ..., "delay_us": ...} -> (channel, its
    errors): the fields given, the rest nominal (the channel alone restores it)."""
    spec = dict(spec)
    if "channel" not in spec:
        raise ValueError(f"amp: name a channel (0..{len(CHANNELS) - 1}); fields: {list(FIELDS)}")
    ch = channel_index(spec.pop("channel"))
    return ch, with_changes(NONE, spec)
