"""Typed results of the scripting API: what a run delivered and measured,
as dataclasses of numpy arrays whose names carry their units (_ua, _mv,
_us, _ms, _uv, _nc, _ma, _hz). Built from what the unit reports (the run's
result, its pushes, its averages); nothing here talks to a unit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stimbox.mep import MepTrial, from_record
from stimbox.session import PulseRecord, RunResult

# Keys of an alarm record that every alarm has; the rest are its figures.
_ALARM_KEYS = ("alarm", "name", "ch", "modality", "run", "t_ms", "cleared", "stream")
# The figures' key suffixes and the units they stand for, as printed.
_ALARM_UNITS = {"uv": "uV", "ms": "ms", "ma": "mA", "v": "V"}


def _f(v: Any) -> float:
    """A figure the unit may report as null, as a float (nan for null)."""
    return float("nan") if v is None else float(v)


@dataclass(frozen=True)
class PulseRun:
    """The pulses of one run as the unit read them back, one array entry per
    pulse in delivery order. amp_ua is nan on a constant-voltage output and
    amp_mv on a constant-current one (each output has one unit)."""

    run: int
    outcome: str  # "complete", "stopped", or what ended it (fault, estop, ...)
    pulses: list[PulseRecord] = field(repr=False)
    index: np.ndarray  # int64, the pulse's index in its run
    output: np.ndarray  # str, the output's name
    amp_ua: np.ndarray  # float64, delivered phase-1 peak
    amp_mv: np.ndarray  # float64
    charge_nc: np.ndarray  # int64, delivered phase-1 charge
    charge2_nc: np.ndarray  # int64, phase 2 (0 for a monophasic pulse)
    width_us: np.ndarray  # float64, phase-1 width at half amplitude
    onset_us: np.ndarray  # float64, leading edge minus the scheduled start
    protocol: dict[str, Any] = field(repr=False)  # the wire-form protocol that ran
    summary: dict[str, Any] = field(repr=False)  # the unit's result of the run, as sent

    @classmethod
    def from_run(cls, result: RunResult, protocol: dict[str, Any],
                 outputs: Sequence[dict[str, Any]]) -> PulseRun:
        """outputs: the board's OUTPUTS (which unit each output's amplitude has)."""
        cv = {o["name"] for o in outputs if o.get("kind") == "CV"}
        ps = list(result.pulses)
        amp = np.array([p.amp for p in ps], dtype=np.float64)
        on_cv = np.array([p.output in cv for p in ps], dtype=bool)
        return cls(
            run=result.run, outcome=result.outcome, pulses=ps,
            index=np.array([p.index for p in ps], dtype=np.int64),
            output=np.array([p.output for p in ps], dtype=str),
            amp_ua=np.where(on_cv, np.nan, amp), amp_mv=np.where(on_cv, amp, np.nan),
            charge_nc=np.array([p.charge_nc for p in ps], dtype=np.int64),
            charge2_nc=np.array([p.charge2_nc for p in ps], dtype=np.int64),
            width_us=np.array([p.width_us for p in ps], dtype=np.float64),
            onset_us=np.array([p.onset_us for p in ps], dtype=np.float64),
            protocol=protocol, summary=result.summary,
        )

    @property
    def count(self) -> int:
        return len(self.pulses)

    @property
    def total_charge_nc(self) -> int:
        return int(self.charge_nc.sum())


@dataclass(frozen=True)
class Average:
    """One averaged channel of a run, as the unit averaged it (filtered
    through the run's band): uv[i] at t_ms[i], time from the stimulus."""

    stream: str  # the recorded stream's label (an SSEP site such as "l_median")
    channel: int  # amplifier channel number
    label: str  # what the channel records (the montage's name), or "ch N"
    split: str  # "a", "b" (interleaved halves) or "ab" (all sweeps)
    rate_hz: int
    t_ms: np.ndarray  # float64
    uv: np.ndarray  # float32, as the unit sends it

    @classmethod
    def from_samples(cls, stream: str, channel: int, label: str, split: str, rate_hz: int,
                     pre: int, samples: Sequence[float]) -> Average:
        uv = np.asarray(samples, dtype=np.float32)
        t_ms = (np.arange(len(uv), dtype=np.float64) - pre) * 1000.0 / rate_hz
        return cls(stream, channel, label, split, int(rate_hz), t_ms, uv)


@dataclass(frozen=True)
class Component:
    """A named component the unit measured on an average (latency of its
    first peak, peak-to-peak amplitude to the second). latency_ms is None
    when the unit found it absent (absent says why)."""

    stream: str
    name: str  # e.g. "N20/P25"
    channel: int
    latency_ms: float | None
    latency2_ms: float | None  # the second peak
    amplitude_uv: float | None
    noise_uv: float | None  # residual noise of the average, where reported
    sweeps: int
    reliable: bool | None  # the unit's judgement, where reported
    snr: float | None  # A/B signal-to-noise of its channel, where the run splits
    absent: str | None = None

    @classmethod
    def from_unit(cls, stream: dict[str, Any], d: dict[str, Any]) -> Component:
        ch = int(d["ch"])
        snr = None
        chans = list(stream.get("channels") or [])
        snrs = stream.get("snr") or []
        if ch in chans and chans.index(ch) < len(snrs) and snrs[chans.index(ch)]:
            snr = float(snrs[chans.index(ch)]["snr"])

        def opt(key: str) -> float | None:
            v = d.get(key)
            return None if v is None else float(v)

        rel = d.get("reliable")
        return cls(str(stream.get("stream")), str(d["name"]), ch, opt("lat_ms"), opt("lat2_ms"),
                   opt("amp_uv"), opt("noise_uv"), int(d.get("sweeps") or 0),
                   None if rel is None else bool(rel), snr, d.get("absent"))


@dataclass(frozen=True)
class Alarm:
    """An alarm the unit raised (or cleared) in a run. figures keeps its
    values under the unit's own keys, whose names carry their units
    (baseline_uv, value_uv, change_pct, limit_pct, value_ma, limit_ma ...)."""

    kind: str  # "amplitude", "latency", "mep_loss", "temg_threshold", ...
    name: str  # the component or muscle
    channel: int | None
    modality: str | None  # "SSEP", "MEP", "TEMG", ...
    run: int | None
    cleared: bool
    t_ms: int | None  # the unit's clock
    figures: dict[str, Any]

    @classmethod
    def from_unit(cls, d: dict[str, Any]) -> Alarm:
        ch, run = d.get("ch"), d.get("run")
        return cls(str(d.get("alarm")), str(d.get("name")), None if ch is None else int(ch),
                   d.get("modality"), None if run is None else int(run), bool(d.get("cleared")),
                   d.get("t_ms"), {k: v for k, v in d.items() if k not in _ALARM_KEYS})

    def __str__(self) -> str:
        f = self.figures
        text = f"{'cleared' if self.cleared else 'ALARM'} {self.kind} {self.name} ch {self.channel}"
        for key, unit in _ALARM_UNITS.items():
            if f"value_{key}" not in f:
                continue
            was = f.get(f"baseline_{key}")
            text += ": " + ("" if was is None else f"{was} -> ") + f"{f[f'value_{key}']} {unit}"
            if f"limit_{key}" in f:
                text += f" (limit {f[f'limit_{key}']} {unit})"
            elif "limit_pct" in f:
                text += f" ({f.get('change_pct')} %, limit {f['limit_pct']} %)"
            break
        return text


@dataclass(frozen=True)
class SsepResult:
    """An SSEP run: its averages per site and channel, the components the
    unit measured on them, the alarms it raised and the pulses it gave."""

    run: int
    outcome: str
    averages: list[Average]
    components: list[Component]
    alarms: list[Alarm]
    pulses: PulseRun = field(repr=False)
    baseline_state: dict[str, str]  # per site: "pending", "set", ... as the unit reports

    def average(self, stream: str, channel: int | None = None, split: str = "ab") -> Average:
        """The average of one site's channel (default: its first)."""
        for a in self.averages:
            if a.stream == stream and a.split == split and channel in (None, a.channel):
                return a
        raise KeyError(f"no {split} average of {stream} channel {channel}")

    def component(self, stream: str) -> Component:
        """The first measured component of a site."""
        for c in self.components:
            if c.stream == stream:
                return c
        raise KeyError(f"no component measured on {stream}")


@dataclass(frozen=True)
class MepResult:
    """A TcMEP run measured per trial: arrays indexed [muscle, trial].
    latency_ms (onset after the train's last pulse) is nan where the unit
    found no MEP (present False)."""

    run: int
    outcome: str
    muscles: list[str]
    channels: np.ndarray  # int64, per muscle
    amplitude_uv: np.ndarray  # float64, peak-to-peak
    latency_ms: np.ndarray  # float64
    present: np.ndarray  # bool
    area_uvms: np.ndarray  # float64, rectified area
    threshold_uv: np.ndarray  # float64, the onset threshold the unit used
    train_ms: np.ndarray  # float64, per trial: the train's last pulse after its first
    trials: list[MepTrial] = field(repr=False)
    alarms: list[Alarm]
    pulses: PulseRun = field(repr=False)

    @classmethod
    def from_run(cls, result: RunResult, pulses: PulseRun, muscles: Sequence[str],
                 channels: Sequence[int]) -> MepResult:
        trials = sorted((from_record(d) for d in result.meps), key=lambda t: t.trial)
        shape = (len(channels), len(trials))
        amp, lat, area, thr = (np.full(shape, np.nan) for _ in range(4))
        present = np.zeros(shape, dtype=bool)
        for j, t in enumerate(trials):
            for i, ch in enumerate(channels):
                m = t.muscle(ch)
                amp[i, j], area[i, j], thr[i, j] = m.pp_uv, m.area_uvms, m.threshold_uv
                lat[i, j] = _f(m.onset_ms) if m.present else np.nan
                present[i, j] = m.present
        return cls(result.run, result.outcome, list(muscles), np.array(channels, dtype=np.int64),
                   amp, lat, present, area, thr, np.array([t.train_ms for t in trials]),
                   trials, [Alarm.from_unit(a) for a in result.alarms], pulses)

    def row(self, muscle: str) -> int:
        """The row of a muscle in the arrays."""
        return self.muscles.index(muscle)


@dataclass(frozen=True)
class ThresholdResult:
    """A triggered-EMG threshold search: per muscle (and the roots it
    stands for) the lowest current that evoked it, nan where none did up
    to the search's top; every pulse it tried, with which muscles answered."""

    run: int
    outcome: str
    screw: str | None
    muscles: list[str]
    roots: list[str]
    channels: np.ndarray  # int64, per muscle
    threshold_ma: np.ndarray  # float64, per muscle
    levels_uv: np.ndarray  # float64, the response level each muscle was judged against
    alarm_ma: float  # thresholds below this alarm
    steps_ua: np.ndarray  # int64, the current of each pulse tried, in order
    responded: np.ndarray  # bool, [step, muscle]
    alarms: list[Alarm]
    pulses: PulseRun = field(repr=False)

    @classmethod
    def from_run(cls, result: RunResult, pulses: PulseRun, screw: str | None,
                 muscles: Sequence[str], roots: Sequence[str], channels: Sequence[int]) -> ThresholdResult:
        s = result.summary.get("search") or {}
        trace = list(s.get("trace") or [])
        bits = np.array(trace[1::2], dtype=np.int64)
        responded = (bits[:, None] >> np.arange(len(muscles))[None, :]) & 1 == 1
        th = [_f(t) / 1000 for t in (s.get("thresholds") or [None] * len(muscles))]
        return cls(result.run, result.outcome, screw, list(muscles), list(roots),
                   np.array(channels, dtype=np.int64), np.array(th, dtype=np.float64),
                   np.array([_f(v) for v in s.get("levels_uv") or []], dtype=np.float64),
                   _f(s.get("alarm_ua")) / 1000, np.array(trace[0::2], dtype=np.int64),
                   responded, [Alarm.from_unit(a) for a in result.alarms], pulses)

    @property
    def lowest_ma(self) -> float:
        """The screw's threshold: the lowest of its muscles' (nan if none)."""
        found = self.threshold_ma[~np.isnan(self.threshold_ma)]
        return float(found.min()) if len(found) else float("nan")

    def for_muscle(self, muscle: str) -> float:
        return float(self.threshold_ma[self.muscles.index(muscle)])
