"""A validation summary (summary.json's shape) built from the simulator's
own models, without a unit: pulses from the output stage model into the
1 kohm phantom (one output deliberately 6 % low, so its checks FAIL), read
off the int16 monitor trace as the unit would send it and measured from it
on the host; recording-chain averages of the calibrator's known sine through
amplifier noise. For the report's tests and its documentation screenshot."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

import numpy as np
from simunit import loads, outputstage, signals
from simunit.boardfiles import board

OHMS = 1000
GAP_US = 20
# The suite's grid: amplitudes at these fractions of each output's maximum, widths at the
# ends and middle of its range. One output is made 6 % low (its stage's gain error).
AMP_FRACTIONS = (0.1, 0.5, 1.0)
GAIN_ERROR = {"PR": -0.06}


def grid(decl: dict[str, Any]) -> tuple[list[int], list[int]]:
    lo, hi = decl["width_us"]
    res = decl["res"]
    amps = sorted({max(res, round(decl["max"] * f / res) * res) for f in AMP_FRACTIONS})
    return amps, sorted({lo, (lo + hi) // 2 // 10 * 10, hi})


TOL = {  # name: (kind, value, unit); as the sim board's tolerance file sets them
    "amplitude": ("pct", 3.0, "%"), "charge": ("pct", 3.0, "%"), "width": ("abs", 3.0, "us"),
    "onset": ("abs", 5.0, "us"), "balance": ("max", 2.0, "%"), "gain": ("pct", 2.0, "%"),
    "latency": ("abs", 0.1, "ms"), "rec_amplitude": ("pct", 3.0, "%"), "noise": ("max", 1.0, "uV rms"),
}
SOURCE = "StimBox design target"
# Recording chain: the calibrator's one-cycle sine after each pulse, averaged.
CAL = {"freq_hz": 100.0, "amp_uv": 200.0, "delay_ms": 10.0}
AMP_RATE_HZ = 20_000
SWEEPS = 64
SWEEP_MS = 40.0
CHANNELS = ((3, 0.0, 0.0), (4, 0.01, 0.05))  # (channel, gain error, delay ms) of the model chain


def output_index(name: str) -> int:
    return next(i for i, o in enumerate(board.OUTPUTS) if o["name"] == name)


def check(name: str, requested: Any, measured: Any, unit: str, tol: str | None,
          reason: str | None = None, outcome: str | None = None) -> dict[str, Any]:
    """A check as the suite writes it; judged here against TOL when numeric."""
    lo = hi = None
    text = ""
    if tol is not None:
        kind, v, tunit = TOL[tol]
        if kind == "pct":
            lo, hi = requested * (1 - v / 100), requested * (1 + v / 100)
            text = f"±{v:g} %"
        elif kind == "abs":
            lo, hi = requested - v, requested + v
            text = f"±{v:g} {tunit}"
        else:
            hi = v
            text = f"≤ {v:g} {tunit}"
    lo, hi = (None if b is None else float(f"{b:.6g}") for b in (lo, hi))
    if outcome is None:
        ok = measured is not None and (lo is None or measured >= lo) and (hi is None or measured <= hi)
        outcome = "PASS" if ok else "FAIL"
    return {"name": name, "group": name.split(".")[0], "subject": name.split(".")[1],
            "requested": requested, "measured": measured, "unit": unit, "lo": lo, "hi": hi,
            "tolerance": text, "source": SOURCE if tol else "", "outcome": outcome, "reason": reason}


def _crossings(t: np.ndarray, y: np.ndarray, level: float) -> tuple[float, float]:
    """First rising and last falling crossing of level, linearly interpolated."""
    above = np.flatnonzero(y >= level)
    k0, k1 = int(above[0]), int(above[-1])
    up = t[k0 - 1] + (level - y[k0 - 1]) / (y[k0] - y[k0 - 1]) * (t[k0] - t[k0 - 1])
    down = t[k1] + (y[k1] - level) / (y[k1] - y[k1 + 1]) * (t[k1 + 1] - t[k1])
    return float(up), float(down)


def measure_pulse(t_us: np.ndarray, i_ua: np.ndarray, v_mv: np.ndarray, cv: bool, w1: int) -> dict[str, float]:
    """What the host reads off one monitor trace: phase-1 plateau (in the
    output's own unit), width at half of it, onset, and each phase's charge."""
    y = v_mv if cv else i_ua
    sign = 1.0 if y[(t_us >= 0) & (t_us < w1)].sum() >= 0 else -1.0
    ph1 = np.where(t_us < w1 + GAP_US / 2, y * sign, 0.0)
    core = (t_us >= w1 * 0.25) & (t_us < w1 * 0.75)
    amp = float(np.median(ph1[core]))
    up, down = _crossings(t_us, ph1, amp / 2)
    dt = float(t_us[1] - t_us[0])
    q = i_ua * sign * dt / 1000  # nC per sample
    early = t_us < w1 + GAP_US / 2
    return {"amp": amp, "width_us": down - up, "onset_us": up,
            "q1_nc": float(q[early & (q > 0)].sum()), "q2_nc": float(-q[~early & (q < 0)].sum())}


def pulse_traces() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    traces: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    load = loads.resistor(OHMS)
    for o, decl in enumerate(board.OUTPUTS):
        name = decl["name"]
        amps, widths = grid(decl)
        gain_error = GAIN_ERROR.get(name, 0.0)
        cv = decl["kind"] == "CV"
        unit = "V" if cv else "mA"
        params = outputstage.with_changes(outputstage.default_params(o), {"gain_error": gain_error})
        balance: list[float] = []
        onsets: list[float] = []
        for amp in amps:
            for w in widths:
                d = outputstage.deliver(o, amp, w, GAP_US, w, -amp, load, params)
                mon = outputstage.monitor_int16(d, o, board.MONITOR_MAX_SAMPLES).astype(float)
                i_ua, v_mv = mon[0::2] * decl["mon_ua_lsb"], mon[1::2] * decl["mon_mv_lsb"]
                t_us = (np.arange(len(i_ua)) - outputstage.PRE_SAMPLES) * outputstage.DT_US
                m = measure_pulse(t_us, i_ua, v_mv, cv, w)
                cell = f"{amp / 1000:g}{unit}/{w}us"
                want_q = amp * w / (OHMS if cv else 1000)  # nC
                checks += [
                    check(f"output.{name}.amplitude@{cell}", amp / 1000, round(m["amp"] / 1000, 4), unit, "amplitude"),
                    check(f"output.{name}.charge@{cell}", want_q / 1000, round(m["q1_nc"] / 1000, 5), "uC", "charge"),
                    check(f"output.{name}.width@{cell}", w, round(m["width_us"], 2), "us", "width"),
                ]
                balance.append(100 * abs(m["q1_nc"] - m["q2_nc"]) / m["q1_nc"])
                onsets.append(m["onset_us"])
                traces.append({"subject": name, "cell": cell,
                               "requested": {"amp": amp / 1000, "unit": unit, "width_us": w, "shape": "bi",
                                             "gap_us": GAP_US},
                               "t_us": t_us.round(3).tolist(), "current_ua": i_ua.tolist(),
                               "voltage_mv": v_mv.tolist()})
        checks.append(check(f"timing.{name}.onset", 0.0, round(float(np.mean(onsets)), 3), "us", "onset"))
        checks.append(check(f"biphasic.{name}.balance", 0.0, round(max(balance), 3), "%", "balance"))
    # An open output: the stage runs into its compliance, as the fault check expects.
    o = output_index("P1")
    d = outputstage.deliver(o, 10_000, 200, GAP_US, 200, -10_000, loads.open_circuit(),
                            outputstage.default_params(o))
    checks.append(check("faults.P1.compliance", "compliance flagged", "flagged" if d.limited else "not flagged",
                        "", None, outcome="PASS" if d.limited else "FAIL"))
    return traces, checks


def calibrator_uv(t_ms: np.ndarray) -> np.ndarray:
    """The calibrator's known signal after a pulse at t = 0: one sine cycle."""
    x = (t_ms - CAL["delay_ms"]) * CAL["freq_hz"] / 1000
    return np.where((x >= 0) & (x < 1), CAL["amp_uv"] * np.sin(2 * math.pi * x), 0.0)


def averages() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each channel: SWEEPS sweeps of the calibrator through the channel's
    gain and delay errors plus the simulator's amplifier noise, quantised to
    the amplifier's LSB, averaged; gain and latency fitted on the host."""
    n = int(SWEEP_MS * AMP_RATE_HZ / 1000)
    t_ms = np.arange(n) * 1000 / AMP_RATE_HZ
    expected = calibrator_uv(t_ms)
    noise = signals.white()
    out: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    for ch, gain_error, delay_ms in CHANNELS:
        clean = (1 + gain_error) * calibrator_uv(t_ms - delay_ms)
        sweeps = [np.round((clean + signals.AMP_NOISE_UV * noise[(ch * SWEEPS + k) * n:(ch * SWEEPS + k + 1) * n])
                           / board.AMP_UV_PER_LSB) * board.AMP_UV_PER_LSB for k in range(SWEEPS)]
        measured = np.mean(sweeps, axis=0)
        lags = np.arange(0, int(2 * AMP_RATE_HZ / 1000))  # up to 2 ms
        lag = int(lags[np.argmax([np.dot(measured[k:], expected[:n - k]) for k in lags])])
        ref = expected[:n - lag]
        gain = float(np.dot(measured[lag:], ref) / np.dot(ref, ref))
        quiet = t_ms < CAL["delay_ms"] - 1
        s = f"recording.ch{ch}"
        checks += [
            check(f"{s}.gain", 1.0, round(gain, 4), "", "gain"),
            check(f"{s}.latency", 0.0, lag * 1000 / AMP_RATE_HZ, "ms", "latency"),
            check(f"{s}.amplitude", round(float(np.ptp(expected)), 3), round(float(np.ptp(measured)), 3), "uV",
                  "rec_amplitude"),
            check(f"{s}.noise", 0.0, round(float(np.std(sweeps[0][quiet])), 3), "uV rms", "noise"),
            check(f"{s}.mains", None, None, "dB", None, outcome="SKIP",
                  reason="the phantom's calibrator declares no mains signal"),
        ]
        out.append({"subject": f"ch{ch}", "t_ms": t_ms.round(4).tolist(),
                    "measured_uv": measured.round(4).tolist(), "expected_uv": expected.round(4).tolist()})
    return out, checks


def counts(checks: Iterable[dict[str, Any]]) -> dict[str, int]:
    cs = list(checks)
    return {k: sum(1 for c in cs if c["outcome"] == k) for k in ("PASS", "FAIL", "SKIP")}


def model_summary() -> dict[str, Any]:
    traces, checks = pulse_traces()
    avs, rec = averages()
    checks += rec
    n = counts(checks)
    return {
        "unit": {"board": "sim", "serial": "SIM-MODEL-0001", "firmware": "0.1.0",
                 "build": "output-stage model", "port": None, "name": "model-built summary"},
        "phantom": {"name": "sim bench phantom", "file": "boards/sim/phantom.toml",
                    "loads": {o["name"]: {"kind": "resistor", "ohms": OHMS} for o in board.OUTPUTS},
                    "calibrator": {"waveform": "sine1", **CAL}},
        "tolerances": {"file": "boards/sim/validation.toml", "board": "sim"},
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "duration_s": 0.0,
        "outcome": "FAIL" if n["FAIL"] else "PASS",
        "counts": n,
        "checks": checks,
        "traces": traces,
        "averages": avs,
    }
