"""One call per everyday job on a connected unit: build the protocol from
the examples (stimbox.api.builders), run it through
stimbox.session.run_protocol (the unit validates it like any other: a
refusal raises LimitError naming the limit, the value and the range), and
hand back typed results (stimbox.api.results). Averages are fetched from
the unit right after the run, while they are its last run's.

folder (a stimbox.store.SessionFolder): the run is also stored there as it
arrives (stimbox.store.Recorder), as `stimbox run --out` stores it. It is
not called out=, which names a stimulator output in every protocol."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any

from stimbox.api import builders
from stimbox.api.builders import ProtocolChoiceError
from stimbox.api.results import (
    Alarm,
    Average,
    Component,
    MepResult,
    PulseRun,
    SsepResult,
    ThresholdResult,
)
from stimbox.build import board_module
from stimbox.client import StimBox
from stimbox.session import RunResult, run_protocol
from stimbox.store import Recorder, SessionFolder

Progress = Callable[[dict[str, Any]], None]


def _board(box: StimBox) -> tuple[str, ModuleType]:
    name = str(box.info()["board"])
    return name, board_module(name)


def channel_labels(board_name: str) -> dict[int, str]:
    """What each amplifier channel records, where the host knows the
    montage: the simulated unit's (simunit.montage). A board's montage is
    the user's wiring, so elsewhere channels are "ch N" unless labels are
    given."""
    if board_name != "sim":
        return {}
    from simunit.montage import CHANNELS

    return {i: c.name for i, c in enumerate(CHANNELS)}


def _changes(changes: dict[str, Any]) -> dict[str, Any]:
    """The protocol keys a helper was given; a session folder among them
    was meant for folder= (out names a stimulator output in protocols)."""
    for k, v in changes.items():
        if isinstance(v, SessionFolder):
            raise ProtocolChoiceError(f"{k}=: a session folder goes in folder=")
    return changes


def _run(box: StimBox, board: ModuleType, protocol: dict[str, Any], baseline: bool,
         on_progress: Progress | None, folder: SessionFolder | None) -> tuple[RunResult, PulseRun]:
    recorder = None if folder is None else Recorder(box, folder)
    result = run_protocol(box, protocol, on_progress=on_progress, baseline=baseline, recorder=recorder)
    return result, PulseRun.from_run(result, protocol, board.OUTPUTS)


def pulses(box: StimBox, out: str = "P1", amp_ua: int = 5000, width_us: int = 200, count: int = 10,
           rate_hz: float = 2.0, baseline: bool = False, on_progress: Progress | None = None,
           folder: SessionFolder | None = None, **changes: Any) -> PulseRun:
    """count test pulses of amp_ua for width_us on output `out` at rate_hz
    (biphasic, charge-balanced, as the example; changes: any other key of a
    "pulses" protocol, amp_mv for the transcranial output)."""
    _, board = _board(box)
    p = builders.pulses_protocol(board, out, amp_ua, width_us, count, rate_hz, **_changes(changes))
    return _run(box, board, p, baseline, on_progress, folder)[1]


def averages(box: StimBox, result: RunResult, labels: Mapping[int, str],
             splits: Sequence[str] = ("ab",)) -> list[Average]:
    """Every channel of every recorded stream of the unit's last run (the
    run of `result`), in the splits asked for ("a", "b", "ab")."""
    out = []
    for st in (result.recording or {}).get("streams", []):
        for ch in st.get("channels") or []:
            for split in splits:
                samples = box.average(str(st["stream"]), split, int(ch))
                out.append(Average.from_samples(str(st["stream"]), int(ch), labels.get(ch, f"ch {ch}"),
                                                split, int(st["rate_hz"]), int(st["pre"]), samples))
    return out


def ssep(box: StimBox, nerve: str = "median", sides: str | Sequence[str] = ("L", "R"),
         sweeps: int | None = None, splits: Sequence[str] = ("ab",),
         labels: Mapping[int, str] | None = None, baseline: bool = False,
         on_progress: Progress | None = None, folder: SessionFolder | None = None,
         **changes: Any) -> SsepResult:
    """An SSEP of `nerve` ("median", "tibial") on the chosen sides, `sweeps`
    per side: every recorded channel's average (in `splits`), the
    components the unit measured, and its alarms. baseline=True makes
    this run's averages the reference later runs are judged against.
    labels: channel number to name, for a montage the host does not know."""
    name, board = _board(box)
    p = builders.ssep_protocol(board, nerve, sides, sweeps, **_changes(changes))
    result, pulse_run = _run(box, board, p, baseline, on_progress, folder)
    streams = (result.recording or {}).get("streams", [])
    return SsepResult(
        run=result.run, outcome=result.outcome,
        averages=averages(box, result, labels or channel_labels(name), splits),
        components=[Component.from_unit(st, c) for st in streams for c in st.get("components") or []],
        alarms=[Alarm.from_unit(a) for a in result.alarms], pulses=pulse_run,
        baseline_state={str(st["stream"]): str(st.get("baseline_state")) for st in streams},
    )


def mep(box: StimBox, amp_mv: int | None = None, trains: int | None = None,
        muscles: Sequence[str] | None = None, baseline: bool = False,
        on_progress: Progress | None = None, folder: SessionFolder | None = None,
        **changes: Any) -> MepResult:
    """Transcranial MEPs: `trains` trains of the TcMEP example at amp_mv,
    each muscle's MEP measured per trial by the unit (muscles: montage
    names such as "TA_R"; default those the anode drives)."""
    _, board = _board(box)
    p = builders.mep_protocol(board, amp_mv, trains, muscles, **_changes(changes))
    result, pulse_run = _run(box, board, p, baseline, on_progress, folder)
    return MepResult.from_run(result, pulse_run, p["record"]["mep"]["muscles"], p["record"]["channels"])


def threshold(box: StimBox, screw: str | None = None, muscles: Sequence[str] | None = None,
              on_progress: Progress | None = None, folder: SessionFolder | None = None,
              **changes: Any) -> ThresholdResult:
    """A triggered-EMG threshold search from the probe (the tEMG example):
    each muscle's threshold in mA and the steps tried. screw ("L5_L")
    records the muscles on its side; on a simulated unit the probe is put
    on that screw (on a patient, the surgeon holds it there)."""
    name, board = _board(box)
    p = builders.temg_protocol(board, screw, muscles, **_changes(changes))
    if screw is not None and name == "sim":
        box.sim(probe=screw)
    result, pulse_run = _run(box, board, p, False, on_progress, folder)
    return ThresholdResult.from_run(result, pulse_run, screw, p["muscles"], p["roots"],
                                    p["record"]["channels"])
