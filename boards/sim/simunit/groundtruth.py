"""What the simulated unit really did and what the physiology really was,
for tests and phantom validation to compare measurements against: served by
the sim request {"groundtruth": true}, SimUnit.model.ground_truth(), and the
JSON file written beside the unit's flash folder.

truth_average() is the like-for-like reference for an average the unit
measured: the noise-free average of what a channel saw over the sweeps of
the trials actually delivered, passed through the same band."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from simunit import montage
from simunit.boardfiles import board
from simunit.signals import HORIZON_US, LEADOFF_OHMS

if TYPE_CHECKING:
    from simunit.model import HardwareModel


def snapshot(m: HardwareModel) -> dict[str, Any]:
    now = m.clock.now_us()
    t_s = m.scenario_time_s(now)
    mods = m._mods(now)
    s = m.scenario
    insults = []
    for e in s.effects:
        d = e.describe()
        d["start_us"] = m.scenario_start_us + int(e.start_s * 1e6)
        d["started"] = t_s >= e.start_s
        d["progress"] = round(e.progress(t_s), 4)
        insults.append(d)
    return {
        "seed": m.seed,
        "scenario": {"name": s.name, "source": s.source, "description": s.description,
                     "loaded_at_us": m.scenario_start_us, "time_s": round(t_s, 6)},
        "clock": {"now_us": now, "realtime": m.clock.realtime, "ticks_period": m.ticks_period},
        "insults": insults,
        "ssep": m.physiology.ssep_truth(mods),
        "mep": m.physiology.mep_truth(mods),
        "dwave": m.physiology.dwave_truth(mods),
        "screws": m.physiology.screw_truth(),
        "probe_screw": m.probe_screw,
        "scs": m.physiology.scs_truth(),
        "mains_hz": s.mains_hz,
        "bursts": [
            {"kind": k, "start_s": round(e["t0"], 3), "duration_s": round(e["dur"], 3)}
            for k, e in m.renderer.bursts(max(0.0, now / 1e6 - 60), now / 1e6, s.movement_per_min, s.cautery_per_min)
        ],
        "electrodes_ohm": {e: round(m.electrode_ohms(e, now), 1) for e in montage.RECORDING_ELECTRODES},
        "loads": {o["name"]: m.load_at(o["name"], now).describe() for o in board.OUTPUTS},
        "output_stage": {o["name"]: m.stage[i].describe() for i, o in enumerate(board.OUTPUTS)},
        # gain and delay errors by channel number (JSON keys are strings), of
        # the channels that have any: the rest are nominal. Every channel
        # would add 0.8 KB to a reply the firmware holds in its heap.
        "amp": {str(c): e.describe() for c, e in sorted(m.amp_errors.items())},
        "calibrator": dict(m.calibrator),
        "safety": {"interlock_closed": m.interlock, "estop_pressed": m.estop,
                   "pulses_while_estop": m.pulses_while_estop,
                   "pulses_while_interlock_open": m.pulses_while_interlock_open},
        "pulses": {"count": m.pulse_count, "recent": list(m.pulse_log)[-100:]},
        "responses": list(m.response_log)[-50:],
        "montage": montage.describe(),
    }


def write(m: HardwareModel, path: Path) -> None:
    data = m.ground_truth()
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=float))
    os.replace(tmp, path)


def truth_average(m: HardwareModel, req: dict[str, Any]) -> dict[str, Any]:
    """The noise-free expected average of one channel over the trials of one
    output delivered between since_us and until_us (the model's timeline):
    each trial's own responses (its latencies and amplitudes, trial-to-trial
    variability included) and any other response reaching the channel inside
    its sweep, attenuated by the electrodes' contact as the recording is,
    on the sweep's sample grid from the trial's actual pulse time. Not
    filtered: through() applies a band, outside the model (see there).

    req: output, channel, since_us, until_us, rate_hz, pre_ms, post_ms and
    optionally first, count: the samples of the average the reply carries
    (default all). The sweep's sample grid is the firmware's
    (stimfw.record.averager): pre = int(pre_ms * rate / 1000) samples before
    the trigger, n = pre + int(post_ms * rate / 1000).

    Reply: trials, pre, n, rate_hz, first, wave_f32 (those samples of the
    average, uV, little-endian float32 in base64; wave() decodes it), and
    per component the mean over the trials of its true latency and
    amplitude (the model's, at the component's centre, before any filter)."""
    output = str(req["output"])
    ch = int(req["channel"])
    if not 0 <= ch < len(montage.CHANNELS):
        raise ValueError(f"no channel {ch}")
    rate = int(req["rate_hz"])
    pre = int(float(req["pre_ms"]) * rate / 1000)
    n = pre + int(float(req["post_ms"]) * rate / 1000)
    if not 0 < n <= 100_000:
        raise ValueError(f"{n} samples")
    pre_us = pre * 1_000_000 // rate
    since, until = int(req["since_us"]), int(req["until_us"])
    trials = [t for t in m.trials if t[1] == output and since <= t[0] <= until]
    lo = since - pre_us - HORIZON_US
    hi = until + n * 1e6 / rate + HORIZON_US
    waves = [w for t in m.trials if lo <= t[0] <= hi for w in t[2] if w.channel == ch]
    c = montage.CHANNELS[ch]
    total = np.zeros(n)
    comps: dict[str, list[tuple[float, float]]] = {}
    for t_us, _out, _waves, truth in trials:
        t = t_us - pre_us + np.arange(n) * (1e6 / rate)
        z = m.electrode_ohms(c.active, t[0]) + m.electrode_ohms(c.ref, t[0])
        gain = 1.0 / (1.0 + (z / LEADOFF_OHMS) ** 2)
        for w in waves:
            if t[0] - 6 * w.sigma_us <= w.t_us <= t[-1] + 6 * w.sigma_us:
                total += gain * w.amp_uv * np.exp(-0.5 * ((t - w.t_us) / w.sigma_us) ** 2)
        for name, v in truth.items():
            if isinstance(v, dict) and "latency_ms" in v:
                comps.setdefault(name, []).append((float(v["latency_ms"]), float(v["amplitude_uV"])))
    k = len(trials)
    avg = total / k if k else total
    first = int(req.get("first", 0))
    count = int(req.get("count", n))
    if not 0 <= first <= n or count < 0:
        raise ValueError(f"samples {first}..{first + count} of {n}")
    part = avg[first:first + count]
    return {
        "trials": k, "output": output, "channel": ch, "rate_hz": rate, "pre": pre, "n": n,
        "first": first,
        # float32 bytes in base64: a third of the JSON numbers' size, which
        # matters on the sim request path, where the firmware holds the
        # reply in its heap
        "wave_f32": base64.b64encode(part.astype("<f4").tobytes()).decode(),
        "components": {name: {"latency_ms": round(float(np.mean([a for a, _ in v])), 4),
                              "amplitude_uV": round(float(np.mean([b for _, b in v])), 4)}
                       for name, v in comps.items()},
    }


def wave(reply: dict[str, Any]) -> np.ndarray:
    """The average of a truth_average reply, in uV."""
    return np.frombuffer(base64.b64decode(reply["wave_f32"]), dtype="<f4").astype(float)


def through(reply: dict[str, Any], sos: list[list[float]]) -> dict[str, Any]:
    """A whole truth_average reply with its average passed forward and
    backward through sos (rows [b0, b1, b2, 1, a1, a2]: the band the unit
    ran) by scipy.signal.sosfiltfilt. Applied by the caller, never inside
    the model: the first scipy import takes seconds, and while the firmware
    waits on a sim request, or on the model's lock, its 2 s watchdog runs
    (a unit was reset so)."""
    from scipy import signal  # the test extra: only this needs it

    x = wave(reply)
    if reply.get("first", 0) != 0 or len(x) != reply["n"]:
        raise ValueError("through() needs the whole average")
    y = signal.sosfiltfilt(np.asarray(sos, dtype=float), x) if reply["trials"] else x
    return dict(reply, wave_f32=base64.b64encode(y.astype("<f4").tobytes()).decode(), sos=sos)


def mep_trials(m: HardwareModel, req: dict[str, Any]) -> list[dict[str, Any]]:
    """Per TcMEP train delivered between since_us and until_us (the model's
    timeline; a train's time is its last pulse's), the noise-free sweep of
    each requested channel on the unit's sample grid, not filtered (the
    caller applies the band, as through() does), and the model's own onset
    latency (ms after the last pulse) and peak-to-peak per muscle.

    req: since_us, until_us, channels, rate_hz, pre_ms, post_ms, train_us
    (the train's last pulse after its first: the sweep starts pre before
    the first pulse, as the unit's does)."""
    rate = int(req["rate_hz"])
    pre = int(float(req["pre_ms"]) * rate / 1000)
    n = pre + int(float(req["post_ms"]) * rate / 1000)
    pre_us = pre * 1_000_000 // rate
    since, until = int(req["since_us"]), int(req["until_us"])
    chans = [int(c) for c in req["channels"]]
    out = []
    for t_last, output, _waves, truth in m.trials:
        if output != "TC" or not since <= t_last <= until:
            continue
        t = t_last - float(req["train_us"]) - pre_us + np.arange(n) * (1e6 / rate)
        lo, hi = t[0] - HORIZON_US, t[-1] + HORIZON_US
        waves = [w for tt in m.trials if lo <= tt[0] <= hi for w in tt[2]]
        sweeps = {}
        for ch in chans:
            c = montage.CHANNELS[ch]
            z = m.electrode_ohms(c.active, t[0]) + m.electrode_ohms(c.ref, t[0])
            gain = 1.0 / (1.0 + (z / LEADOFF_OHMS) ** 2)
            y = np.zeros(n)
            for w in waves:
                if w.channel == ch and t[0] - 6 * w.sigma_us <= w.t_us <= t[-1] + 6 * w.sigma_us:
                    y += gain * w.amp_uv * np.exp(-0.5 * ((t - w.t_us) / w.sigma_us) ** 2)
            sweeps[ch] = y
        out.append({"t_us": t_last, "rate_hz": rate, "pre": pre, "n": n, "sweeps": sweeps,
                    "model": {montage.CHANNELS[ch].name: truth.get(montage.CHANNELS[ch].name) for ch in chans}})
    return out
