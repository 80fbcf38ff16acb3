"""The simulated unit's built-in calibrator (board.CALIBRATOR): a switch that
puts chosen channels' inputs on a known source instead of the patient. The
recording chain's phantom: what those channels record is amplifier noise
plus the injected signal, then the channel's own gain and delay
(amplifier.py), so a measurement can be judged against a signal known
exactly.

Modes (the sim request {"calibrator": {...}}, docs/SIMULATOR.md):
- "off": every channel on the patient.
- "signal": after every pulse delivered on output `trigger`, one cycle of
  a sine (`waveform` "sine1") of `freq_hz` and peak `amp_uv`, starting
  `delay_ms` after that pulse's start.
- "short": inputs shorted, amplifier noise only.
- "mains": a continuous sine of `amp_uv` at `freq_hz` (the scenario's mains
  frequency by default).

waveform() is the known signal as a pure function, for hosts to put
through the band a unit ran and compare with its measurement."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from simunit.boardfiles import OUTPUT_INDEX, board
from simunit.montage import CHANNELS

MODES = ("off",) + tuple(board.CALIBRATOR["modes"])
WAVEFORMS = tuple(board.CALIBRATOR["waveforms"])
MAX_UV = float(board.CALIBRATOR["max_uv"])
FREQ_HZ = (1.0, 2000.0)  # one cycle of 0.5-1000 ms: below every amplifier rate's Nyquist
MAX_DELAY_MS = 500.0
OFF: dict[str, Any] = {"mode": "off"}

# Each mode's keys and defaults (channels has none: a mode that uses the
# inputs must name them).
_KEYS: dict[str, dict[str, Any]] = {
    "off": {},
    "signal": {"channels": None, "trigger": "P1", "waveform": WAVEFORMS[0], "freq_hz": 100.0,
               "amp_uv": 200.0, "delay_ms": 10.0},
    "short": {"channels": None},
    "mains": {"channels": None, "amp_uv": 100.0, "freq_hz": None},
}


def _number(key: str, value: Any, lo: float, hi: float, unit: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"calibrator: {key} must be a number, got {value!r}")
    x = float(value)
    if not (math.isfinite(x) and lo <= x <= hi):
        raise ValueError(f"calibrator: {key} must be {lo:g}..{hi:g} {unit}, got {value!r}")
    return x


def parse(req: dict[str, Any], mains_hz: float) -> dict[str, Any]:
    """A calibrator request, checked and completed with its mode's defaults:
    the state the model keeps and the reply echoes. A ValueError says what
    is wrong in one line."""
    if not isinstance(req, dict):
        raise ValueError(f"calibrator: expected a table, got {req!r}")
    mode = req.get("mode", "off")
    if mode not in MODES:
        raise ValueError(f"calibrator: no mode {mode!r}; modes: {', '.join(MODES)}")
    keys = _KEYS[mode]
    unknown = set(req) - set(keys) - {"mode"}
    if unknown:
        raise ValueError(f"calibrator: unknown key(s) {sorted(unknown)} for mode {mode!r}; "
                         f"known: {['mode', *keys]}")
    s: dict[str, Any] = {"mode": mode}
    if mode == "off":
        return s
    chans = req.get("channels")
    if not isinstance(chans, (list, tuple)) or not chans:
        raise ValueError(f"calibrator: mode {mode!r} needs channels, a list of 0..{len(CHANNELS) - 1}")
    for c in chans:
        if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < len(CHANNELS):
            raise ValueError(f"calibrator: no channel {c!r}; channels: 0..{len(CHANNELS) - 1}")
    if len(set(chans)) != len(chans):
        raise ValueError(f"calibrator: channels repeat: {list(chans)}")
    s["channels"] = sorted(int(c) for c in chans)
    if mode == "short":
        return s
    v = dict(keys, **req)
    s["amp_uv"] = _number("amp_uv", v["amp_uv"], 0.0, MAX_UV, "uV (the board's calibrator maximum)")
    if mode == "mains":
        s["freq_hz"] = _number("freq_hz", mains_hz if v["freq_hz"] is None else v["freq_hz"], *FREQ_HZ, "Hz")
        return s
    if v["trigger"] not in OUTPUT_INDEX:
        raise ValueError(f"calibrator: no output {v['trigger']!r} to trigger on; outputs: {', '.join(OUTPUT_INDEX)}")
    if v["waveform"] not in WAVEFORMS:
        raise ValueError(f"calibrator: no waveform {v['waveform']!r}; waveforms: {', '.join(WAVEFORMS)}")
    s["trigger"] = str(v["trigger"])
    s["waveform"] = str(v["waveform"])
    s["freq_hz"] = _number("freq_hz", v["freq_hz"], *FREQ_HZ, "Hz")
    s["delay_ms"] = _number("delay_ms", v["delay_ms"], 0.0, MAX_DELAY_MS, "ms")
    return s


def burst_us(spec: dict[str, Any]) -> float:
    """How long after its trigger a signal-mode burst has ended, us."""
    return 1000.0 * float(spec["delay_ms"]) + 1e6 / float(spec["freq_hz"])


def waveform(spec: dict[str, Any], t_us: Any) -> np.ndarray:
    """The calibrator's output in uV at times t_us (array-like): for mode
    "signal" times since one trigger pulse's start, one burst; for "mains"
    the model's timeline time (the sine is continuous); zeros otherwise.
    The pure signal: no amplifier noise, gain or delay."""
    t = np.asarray(t_us, dtype=np.float64)
    mode = spec.get("mode", "off")
    if mode == "signal":
        f = float(spec["freq_hz"])
        x = (t - 1000.0 * float(spec["delay_ms"])) * 1e-6 * f  # cycles since the burst's start
        inside = (x >= 0.0) & (x < 1.0)
        return np.where(inside, float(spec["amp_uv"]) * np.sin(2 * np.pi * np.clip(x, 0.0, 1.0)), 0.0)
    if mode == "mains":
        return float(spec["amp_uv"]) * np.sin(2 * np.pi * float(spec["freq_hz"]) * t * 1e-6)
    return np.zeros_like(t)


class Injection:
    """The calibrator's output over the times one acquisition covers: its
    state and, in signal mode, the trigger pulses' start times (timeline us)."""

    def __init__(self, spec: dict[str, Any], triggers: list[float]) -> None:
        self.spec = spec
        self.channels = frozenset(spec.get("channels", ()))
        self.triggers = triggers

    def signal(self, t_us: np.ndarray) -> np.ndarray:
        """uV at timeline times t_us (ascending)."""
        mode = self.spec["mode"]
        if mode == "mains":
            return waveform(self.spec, t_us)
        y = np.zeros(len(t_us))
        if mode != "signal" or not len(t_us):
            return y
        d0 = 1000.0 * float(self.spec["delay_ms"])
        dur = burst_us(self.spec)
        for tr in self.triggers:
            a, b = np.searchsorted(t_us, [tr + d0, tr + dur])
            if a < b:
                y[a:b] += waveform(self.spec, t_us[a:b] - tr)
        return y
