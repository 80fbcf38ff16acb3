"""What a simulated unit's per-trial MEPs should have measured: each
train's noise-free sweep from the model (simunit.groundtruth.mep_trials),
through the band the run declared as the unit runs it on a single sweep
(causal, from rest), measured by the unit's definition (stimfw.record.mep)
with the threshold the unit used for that trial and muscle. The unit's
onset and peak-to-peak are compared like with like: what differs is the
noise on the unit's sweep and its int16 arithmetic."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from simunit import montage
from simunit.groundtruth import mep_trials
from simunit.model import HardwareModel
from stimfw.dsp import filters as device_filters
from stimfw.record import mep as device_mep

from stimbox.client import StimBox
from stimbox.mep import MepTrial, MuscleMep, from_record
from stimbox.session import RunResult, run_protocol


@dataclass(frozen=True)
class TruthMep:
    onset_ms: float | None  # after the train's last pulse
    pp_uv: float


def measure(sweep: np.ndarray, rate_hz: int, pre: int, quiet: int, train_us: int,
            win_ms: tuple[float, float], threshold_uv: float) -> TruthMep:
    """The unit's measurement (stimfw.record.mep.MepTrials.measure) on a
    float sweep in uV."""
    rate_khz = rate_hz // 1000
    last = train_us * rate_khz // 1000
    base = float(np.mean(sweep[:quiet]))
    i0 = max(pre + last + int(win_ms[0] * rate_hz / 1000 + 0.5), 1)
    i1 = min(pre + last + int(win_ms[1] * rate_hz / 1000 + 0.5) + 1, len(sweep))
    x = np.abs(sweep - base)
    onset = None
    # from below the threshold: a window that opens above it waits until
    # the sweep has come back below
    start = i0
    if x[i0 - 1] > threshold_uv:
        below = np.nonzero(x[i0:i1] <= threshold_uv)[0]
        start = i0 + int(below[0]) + 1 if len(below) else i1
    above = np.nonzero(x[start:i1] > threshold_uv)[0]
    if len(above):
        i = start + int(above[0])
        a, b = x[i - 1], x[i]
        onset = ((i - 1 - pre - last) + (threshold_uv - a) / (b - a)) * 1000.0 / rate_hz
    seg = sweep[i0:i1]
    return TruthMep(onset, float(np.max(seg) - np.min(seg)) if len(seg) else 0.0)


@dataclass(frozen=True)
class Compared:
    """One muscle of one trial: the unit's measurement, the same measurement
    on the truth, and the model's own onset and peak-to-peak."""

    trial: int
    ch: int
    muscle: str  # the model's name of the channel
    unit: MuscleMep
    truth: TruthMep
    model_onset_ms: float
    model_pp_uv: float

    def onset_error_ms(self) -> float | None:
        if self.unit.onset_ms is None or self.truth.onset_ms is None:
            return None
        return self.unit.onset_ms - self.truth.onset_ms

    def amp_error(self) -> float | None:
        if not self.truth.pp_uv:
            return None
        return self.unit.pp_uv / self.truth.pp_uv - 1.0


def compare_run(box: StimBox, model: HardwareModel, protocol: dict[str, Any],
                baseline: bool = False) -> tuple[RunResult, list[Compared]]:
    """Run a TcMEP protocol (one recorded stream) and compare every trial's
    per-muscle MEP the unit pushed with the truth of that trial."""
    since = int(box.sim()["now_us"])
    result = run_protocol(box, protocol, baseline=baseline)
    until = int(box.sim()["now_us"])
    return result, compare(model, protocol, [from_record(d) for d in result.meps], since, until)


def compare(model: HardwareModel, protocol: dict[str, Any], trials: list[MepTrial],
            since_us: int, until_us: int) -> list[Compared]:
    rec = protocol["record"]
    rate = int(rec["rate_hz"])
    pre = int(float(rec.get("pre_ms", 0)) * rate / 1000)
    blank = rec.get("blank_us", 0)
    before = int(blank[0]) if isinstance(blank, (list, tuple)) else 0
    quiet = pre - (before * (rate // 1000) + 999) // 1000
    sos = np.asarray(device_filters.from_config(rec), dtype=float)
    opts = rec.get("mep") or {}
    chans = [int(c) for c in rec["channels"]]
    wins = opts.get("win_ms") or [None] * len(chans)
    muscles = opts.get("muscles") or [montage.CHANNELS[c].name for c in chans]
    out = []
    for trial in trials:
        req = {"since_us": since_us, "until_us": until_us, "channels": chans, "rate_hz": rate,
               "pre_ms": rec.get("pre_ms", 0), "post_ms": rec["post_ms"],
               "train_us": round(trial.train_ms * 1000)}
        truths = mep_trials(model, req)
        t = truths[trial.trial]
        for ci, ch in enumerate(chans):
            from scipy import signal  # the test extra

            y = signal.sosfilt(sos, t["sweeps"][ch]) if len(sos) else t["sweeps"][ch]
            win = tuple(wins[ci]) if wins[ci] is not None else device_mep.window_ms(muscles[ci])
            u = trial.muscle(ch)
            name = montage.CHANNELS[ch].name
            m = t["model"][name] or {"latency_ms": float("nan"), "amplitude_uV": 0.0}
            out.append(Compared(trial.trial, ch, name, u,
                                measure(y, rate, pre, quiet, round(trial.train_ms * 1000),
                                        (float(win[0]), float(win[1])), u.threshold_uv),
                                float(m["latency_ms"]), float(m["amplitude_uV"])))
    return out


def present(cs: list[Compared], min_uv: float) -> Iterator[Compared]:
    """The comparisons whose true response is at least min_uv peak-to-peak."""
    return (c for c in cs if c.truth.pp_uv >= min_uv)
