"""The stimulator output stage driving a load, sampled as its monitor ADC
sees it: DAC quantisation, gain and offset error, finite rise and fall time,
and the compliance limit (constant current) or current limit (constant
voltage). Every non-ideality is a field of StageParams, so a deliberately
miscalibrated unit is one changed field.

Units follow board.OUTPUTS: constant-current outputs are commanded in uA,
constant-voltage outputs in mV; waveforms come back in uA and mV.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np

from simunit.boardfiles import board
from simunit.loads import Load

DT_US = 1e6 / board.MONITOR_RATE_HZ
# The monitor trace starts this many samples before the pulse's scheduled
# start, so a late pulse shows as a late edge,
PRE_SAMPLES = board.MONITOR_PRE_SAMPLES
POST_US = 60.0  # and runs on past its end to show the load's recovery


@dataclass(frozen=True)
class StageParams:
    dac_step: float  # output units per DAC step
    gain_error: float = 0.0  # delivered = commanded * (1 + gain_error) + offset
    offset: float = 0.0  # output units, added while a phase is on
    rise_us: float = 4.0  # time for a full-scale edge away from zero
    fall_us: float = 4.0  # and back towards zero
    compliance: float = 0.0  # CC: mV of headroom; CV: current limit in uA
    jitter_us: float = 0.2  # r.m.s. timing jitter of each pulse's start
    timing_offset_us: float = 0.0  # every pulse starts this much late
    width_error_us: float = 0.0  # each phase lasts this much longer than set
    phase2_error: float = 0.0  # phase-2 amplitude x (1 + phase2_error)

    def describe(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.__dict__.items()}


def default_params(output: int) -> StageParams:
    o = board.OUTPUTS[output]
    limit = o["compliance"] if o["kind"] == "CC" else o["current_limit"]
    return StageParams(dac_step=float(o["res"]), compliance=float(limit))


def with_changes(p: StageParams, changes: dict[str, float]) -> StageParams:
    unknown = set(changes) - set(p.__dict__)
    if unknown:
        raise ValueError(
            f"unknown output stage parameter(s) {sorted(unknown)}; known: {sorted(p.__dict__)}"
        )
    return replace(p, **{k: float(v) for k, v in changes.items()})


@dataclass(frozen=True)
class Delivered:
    """One pulse as the output stage delivered it into its load."""

    current_ua: np.ndarray  # monitor-rate samples, from PRE_SAMPLES before the scheduled start
    voltage_mv: np.ndarray
    onset_us: float  # the first edge, after the scheduled start
    width1_us: float  # each phase as the stage timed it (set + width_error_us)
    gap_us: float
    width2_us: float  # 0: monophasic
    amp1: float  # each phase's peak of the output's own quantity (uA for CC, mV for CV), unsigned
    amp2: float
    charge1_uc: float  # delivered charge of phase 1 (signed)
    charge2_uc: float
    peak_ua: float  # largest |current|
    peak_mv: float  # largest |voltage|
    limited: bool  # compliance (CC) or current limit (CV) cut the pulse

    def summary(self) -> dict[str, object]:
        return {
            "charge1_uC": round(self.charge1_uc, 4),
            "charge2_uC": round(self.charge2_uc, 4),
            "peak_mA": round(self.peak_ua / 1000, 4),
            "peak_V": round(self.peak_mv / 1000, 3),
            "limited": self.limited,
            "onset_us": self.onset_us,
            "width1_us": self.width1_us,
            "gap_us": self.gap_us,
            "width2_us": self.width2_us,
            "amp1": round(self.amp1, 1),
            "amp2": round(self.amp2, 1),
        }


def _quantise(amp: float, p: StageParams) -> float:
    if amp == 0:
        return 0.0
    q = round(amp / p.dac_step) * p.dac_step
    return q * (1.0 + p.gain_error) + p.offset


@functools.lru_cache(maxsize=256)
def deliver(
    output: int, amp: int, w1: int, gap: int, w2: int, amp2: int, load: Load, p: StageParams, delay_us: int = 0
) -> Delivered:
    """One pulse whose first edge comes delay_us after its scheduled start
    (timing offset and jitter), sampled from PRE_SAMPLES before that start."""
    o = board.OUTPUTS[output]
    cc = o["kind"] == "CC"
    full = float(o["max"])
    up = full * DT_US / max(p.rise_us, 1e-3)  # max change per sample
    down = full * DT_US / max(p.fall_us, 1e-3)
    a1 = _quantise(amp, p)
    a2 = _quantise(amp2, p) * (1.0 + p.phase2_error) if w2 > 0 else 0.0
    d1 = max(w1 + p.width_error_us, 0.0)
    d2 = max(w2 + p.width_error_us, 0.0) if w2 > 0 else 0.0
    end_us = d1 + gap + d2
    n = min(PRE_SAMPLES + int((delay_us + end_us + POST_US) / DT_US) + 1, board.MONITOR_MAX_SAMPLES)
    cur = np.zeros(n)
    vol = np.zeros(n)
    q1 = q2 = 0.0
    limited = False
    cmd = 0.0
    vc = 0.0  # double-layer voltage, V
    rs = load.rs
    rct = load.rct
    cdl = load.cdl
    interface = load.has_interface()
    dt = DT_US * 1e-6
    limit = p.compliance
    for k in range(n):
        t = (k - PRE_SAMPLES) * DT_US - delay_us
        if 0 <= t < d1:
            target, phase = a1, 1
        elif d1 + gap <= t < end_us and w2 > 0:
            target, phase = a2, 2
        else:
            target, phase = 0.0, 0
        step = up if abs(target) > abs(cmd) else down
        if target > cmd:
            cmd = min(target, cmd + step)
        else:
            cmd = max(target, cmd - step)
        if cc:
            i_a = cmd * 1e-6
            if cmd == 0 and phase == 0:
                # Output switched off: the interface discharges through Rct.
                v = vc
            else:
                v = i_a * rs + vc
                vmax = limit * 1e-3
                if abs(v) > vmax:
                    v = vmax if v > 0 else -vmax
                    i_a = (v - vc) / rs
                    limited = True
        else:
            v = cmd * 1e-3
            i_a = (v - vc) / rs
            imax = limit * 1e-6
            if abs(i_a) > imax:
                i_a = imax if i_a > 0 else -imax
                v = i_a * rs + vc
                limited = True
        if interface:
            vc += (i_a - vc / rct) / cdl * dt
        cur[k] = i_a * 1e6
        vol[k] = v * 1e3
        if phase == 1:
            q1 += i_a * dt * 1e6
        elif phase == 2:
            q2 += i_a * dt * 1e6
    cur.setflags(write=False)
    vol.setflags(write=False)
    own = cur if cc else vol
    t = (np.arange(n) - PRE_SAMPLES) * DT_US - delay_us
    ph1 = own[(t >= 0) & (t < d1 + DT_US)]
    ph2 = own[(t >= d1 + gap) & (t < end_us + DT_US)] if w2 > 0 else own[:0]
    return Delivered(
        cur, vol, float(delay_us), d1, float(gap), d2,
        float(np.abs(ph1).max(initial=0.0)), float(np.abs(ph2).max(initial=0.0)),
        q1, q2, float(np.abs(cur).max()), float(np.abs(vol).max()), limited,
    )


def monitor_int16(d: Delivered, output: int, max_samples: int) -> np.ndarray:
    """Current and voltage interleaved, int16 at the board's monitor scales."""
    o = board.OUTPUTS[output]
    n = min(len(d.current_ua), max_samples)
    out = np.empty(2 * n, dtype="<i2")
    out[0::2] = np.clip(np.round(d.current_ua[:n] / o["mon_ua_lsb"]), -32768, 32767)
    out[1::2] = np.clip(np.round(d.voltage_mv[:n] / o["mon_mv_lsb"]), -32768, 32767)
    return out
