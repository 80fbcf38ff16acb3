"""What the simulated unit really did and what the physiology really was,
for tests and phantom validation to compare measurements against: served by
the sim request {"groundtruth": true}, SimUnit.model.ground_truth(), and the
JSON file written beside the unit's flash folder."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simunit import montage
from simunit.boardfiles import board

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
