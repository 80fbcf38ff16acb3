"""One short monitored case on a simulated unit, stored in a session folder
as `run --out` stores one (stimbox.store.Recorder): what the export, plot
and report tests read. The cord_ischaemia scenario (leg MEPs lost from 2 to
5 minutes into the case): free-run EMG on four muscles, median SSEP and
TcMEP baselines, a pedicle screw's tEMG threshold search, the insult, then
TcMEP until the unit alarms, and a median SSEP (the arms stay normal)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simunit.supervisor import SimUnit
from stimbox import protocols
from stimbox.build import Image, board_module, install_offline
from stimbox.client import StimBox
from stimbox.session import RunResult, run_protocol
from stimbox.store import SessionFolder
from stimbox.store.recorder import Recorder

BOARD = board_module("sim")
SCENARIO = "cord_ischaemia"
SEED = 3
INSULT_S = 330.0  # scenario time: the leg MEPs are gone from 300 s
MUSCLES = ["APB_R", "TA_L", "TA_R", "AH_L"]
MEP_CHANNELS = [9, 12, 13, 14]
LEG_MUSCLES = {"TA_L", "TA_R", "AH_L"}
FREERUN = {"channels": MEP_CHANNELS, "rate_hz": 5000, "block_ms": 50}
SSEP_SWEEPS = 100
SCREW = "L5_L"  # intact in this scenario: every threshold above the 8 mA limit
TCMEP_RECORD: dict[str, Any] = {
    "channels": MEP_CHANNELS, "rate_hz": 10000, "pre_ms": 20, "post_ms": 80,
    "band": [10, 1500], "blank_us": [100, 8000], "split": False, "mep": {"muscles": MUSCLES}}


def ssep() -> dict[str, Any]:
    p = protocols.load("ssep", BOARD)
    p["count"] = SSEP_SWEEPS
    return p


def temg() -> dict[str, Any]:
    return protocols.load("temg", BOARD)  # the L5 left screw's muscles


def tcmep() -> dict[str, Any]:
    p = protocols.load("tcmep", BOARD)
    p.update(count=3, rate_hz=1.0, anode="Cz", cathode="Fz", record=dict(TCMEP_RECORD))
    return p


@dataclass
class Case:
    path: Path
    runs: list[RunResult] = field(default_factory=list)
    alarms: list[dict[str, Any]] = field(default_factory=list)  # as pushed during the runs
    delivered: int = 0  # the model's pulse count
    scenario_s: list[float] = field(default_factory=list)  # scenario time after each run
    # Each run's start and end on the host's clock, s after the folder was made.
    host_s: list[tuple[float, float]] = field(default_factory=list)
    freerun: list[dict[str, Any]] = field(default_factory=list)  # the unit's summary at each stop


def run_case(image: Image, micropython: str, path: Path) -> Case:
    unit = SimUnit(micropython=micropython, scenario=SCENARIO, seed=SEED)
    install_offline(image, unit.flash)
    case = Case(path)
    with unit, StimBox.connect(unit.port) as box, \
            SessionFolder.create(path, box.info(), unit.port) as folder:
        rec = Recorder(box, folder)
        box.on_push = rec.on_push  # free-run EMG between runs, too
        delivered0 = unit.model.pulse_count

        def run(p: dict[str, Any], baseline: bool = False) -> RunResult:
            t0 = folder.case_time()
            r = run_protocol(box, p, baseline=baseline, recorder=rec)
            case.host_s.append((t0, folder.case_time()))
            box.on_push = rec.on_push
            assert r.outcome == "complete", r.summary
            case.runs.append(r)
            case.alarms += r.alarms
            case.scenario_s.append(float(unit.model.ground_truth()["scenario"]["time_s"]))
            return r

        box.freerun_start(**FREERUN)
        run(ssep(), baseline=True)
        run(ssep())
        run(tcmep(), baseline=True)
        run(tcmep())
        box.sim(probe=SCREW)
        run(temg())
        # A jump of the clock past the model's sample ring would leave
        # free-run asking for samples that are gone (stimbox.longcase).
        case.freerun.append(box.freerun_stop())
        box.poll(0.2)
        box.sim(advance_s=max(0.0, INSULT_S - case.scenario_s[-1]))
        box.freerun_start(**FREERUN)
        run(tcmep())
        run(tcmep())
        run(ssep())
        case.freerun.append(box.freerun_stop())
        box.poll(0.2)
        rec.sync()
        box.on_push = None
        case.delivered = unit.model.pulse_count - delivered0
    return case
