"""Running a protocol on a unit from the host: validate, arm, start, keep
the heartbeat going, gather the per-pulse records and events until the run
ends, disarm. The StimBox keeps the session token ARM returns and sends it
with START, HEARTBEAT and DISARM.

The unit enforces everything; the host only reports. A run the unit ends
early (stop, e-stop, interlock, heartbeat, output faults) comes back with
its outcome and the events that say why.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stimfw.link import messages as m

from stimbox.build import board_module
from stimbox.client import Push, StimBox
from stimbox.errors import DeviceError, ReplyTimeout, UnitLost, UnitReset

if TYPE_CHECKING:
    from stimbox.store.recorder import Recorder

HEARTBEAT_S = 0.25  # well inside the unit's 1 s watchdog
# A heartbeat unanswered this long is sent again: a reply held up for a
# moment (the host or the port busy) is not a lost unit.
HEARTBEAT_TIMEOUT_S = 0.5
# No reply to any heartbeat for this long, and no boot push, and the unit
# is lost: the run ends in about 2 s, whether the unit died or rebooted.
NO_REPLY_S = 2.0


@dataclass
class PulseRecord:
    """One pulse as the unit read it back from its output monitor."""

    index: int
    output: str  # the output's name (board.OUTPUTS)
    amp: int  # delivered phase-1 peak, in the output's unit (uA or mV)
    charge_nc: int  # delivered charge of phase 1, nC
    flags: list[str]
    amp2: int = 0  # phase 2 the same (0 for a monophasic pulse)
    charge2_nc: int = 0
    width_us: float = 0.0  # phase-1 width at half amplitude
    width2_us: float = 0.0
    gap_us: float = 0.0  # phase-1 trailing to phase-2 leading half crossing
    onset_us: float = 0.0  # phase-1 leading half crossing minus the scheduled start
    anodes: list[str] = field(default_factory=list)
    cathodes: list[str] = field(default_factory=list)

    @property
    def net_nc(self) -> int:
        return self.charge_nc - self.charge2_nc


def _contacts(names: Sequence[str], mask: int) -> list[str]:
    return [names[i] for i in range(len(names)) if mask >> i & 1]


def pulse_records(d: dict[str, Any], outputs: Sequence[dict[str, Any]]) -> list[PulseRecord]:
    """The pulses of one PUSH_PULSE (or a journal's pulses record, whose
    keys are the same) with names from the board's OUTPUTS. A pulse the
    boot reconciliation added (fired, never read back) reads as zeros."""
    def num(key: str, k: int) -> int:
        v = d[key][k]
        return 0 if v is None else int(v)

    recs = []
    for k, o in enumerate(d["out"]):
        names = outputs[o]["electrodes"]
        recs.append(PulseRecord(
            d["first"] + k, outputs[o]["name"], num("amp", k), num("q_nc", k), _flag_names(d["flags"][k]),
            num("amp2", k), num("q2_nc", k), num("w1_ns", k) / 1000, num("w2_ns", k) / 1000,
            num("gap_ns", k) / 1000, num("onset_ns", k) / 1000,
            _contacts(names, d["an"][k]), _contacts(names, d["ca"][k]),
        ))
    return recs


@dataclass
class RunResult:
    run: int
    protocol_hash: str
    summary: dict[str, Any]
    pulses: list[PulseRecord] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    alarms: list[dict[str, Any]] = field(default_factory=list)
    # TcMEP: per train, each muscle's MEP as the unit pushed it (stimbox.mep)
    meps: list[dict[str, Any]] = field(default_factory=list)
    # Cleared to stop sending heartbeats (shows the unit's watchdog at work).
    heartbeat: bool = True

    @property
    def outcome(self) -> str:
        return str(self.summary.get("outcome"))

    @property
    def recording(self) -> dict[str, Any] | None:
        """Averages measured on the unit: per stream, its components
        (latency, amplitude), counts, A/B SNR and the alarms they raised."""
        return self.summary.get("recording")

    @property
    def dwave(self) -> dict[str, Any] | None:
        """A D-wave run's measurement: rostral and caudal components and
        their amplitude ratio (stimbox.dwave.summary); None for other runs."""
        from stimbox import dwave

        return dwave.summary(self.recording)


def _flag_names(bits: int) -> list[str]:
    from stimfw.stim.delivery import flag_names

    return list(flag_names(bits))


def run_protocol(
    box: StimBox,
    protocol: dict[str, Any],
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    timeout_s: float = 600.0,
    during: Callable[[StimBox, RunResult], None] | None = None,
    baseline: bool = False,
    recorder: Recorder | None = None,
) -> RunResult:
    """Run one protocol to its end, or until the unit ends it. during(box,
    result) is called on every pass while the run goes on (a script's hook:
    stop it, change the simulated patient, stop the heartbeat). recorder
    (stimbox.store.Recorder): the run goes into its session folder as it
    arrives, about once a second, with its averages at the end; a run that
    fails keeps what could be stored."""
    verdict = box.check_protocol(protocol)
    h = verdict["hash"]
    outputs = board_module(box.info()["board"]).OUTPUTS
    result = RunResult(run=0, protocol_hash=h, summary={"outcome": "running"})
    ended = [False]

    def on_push(p: Push) -> None:
        d = p.data
        if recorder is not None:
            recorder.on_push(p)
        if p.mtype == m.PUSH_EVENT:
            result.events.append(d)
            if isinstance(d, dict) and d.get("kind") == "firmware_fault":
                # The unit stopped whatever ran and went to FAULT: nothing
                # more of this run will come, whatever its end said.
                ended[0] = True
        elif p.mtype == m.PUSH_ALARM:
            result.alarms.append(d)
        elif not isinstance(d, dict) or d.get("run") != result.run:
            return
        elif p.mtype == m.PUSH_MEP:
            result.meps.append(d)
        elif p.mtype == m.PUSH_PULSE:
            result.pulses.extend(pulse_records(d, outputs))
        elif p.mtype == m.PUSH_PROGRESS:
            if on_progress is not None:
                on_progress(d)
            if d.get("outcome") not in (None, "running"):
                result.summary = d
                ended[0] = True

    previous = box.on_push
    box.on_push = on_push
    gone = False
    stored = unit_lost = finished = False
    try:
        box.arm(h)
        result.run = box.start(baseline)
        if recorder is not None:
            recorder.begin_run(protocol, h, result.run, baseline)
        deadline = time.monotonic() + timeout_s
        last_hb = time.monotonic()
        last_reply = time.monotonic()
        while not ended[0]:
            if during is not None:
                during(box, result)
            if time.monotonic() > deadline:
                box.stop()
                raise TimeoutError(f"run {result.run} did not finish within {timeout_s:.0f} s")
            if box.rebooted:
                raise box.reset_error(f"during run {result.run}")
            if result.heartbeat and time.monotonic() - last_hb >= HEARTBEAT_S:
                try:
                    box.heartbeat(timeout=HEARTBEAT_TIMEOUT_S)
                except ReplyTimeout:
                    # Dead, or only slow: ask again until NO_REPLY_S. (A
                    # rebooting unit's boot push raised UnitReset already.)
                    if time.monotonic() - last_reply < NO_REPLY_S:
                        continue
                    raise UnitLost(
                        f"{box.port}: the unit stopped answering during run {result.run} "
                        f"(no reply for {time.monotonic() - last_reply:.1f} s)"
                    ) from None
                last_hb = last_reply = time.monotonic()
            else:
                box.poll(0.05)
            if recorder is not None:
                recorder.tick()
        try:
            result.summary = box.result(result.run)
        except DeviceError:
            # A run the unit faulted in may have no result on record.
            faults = [e for e in result.events if e.get("kind") == "firmware_fault"]
            if not faults:
                raise
            result.summary = {"run": result.run, "outcome": "firmware_fault",
                              "error": faults[-1].get("error")}
        finished = True
        return result
    except UnitReset:
        gone = True
        raise box.reset_error(f"during run {result.run}") from None
    except UnitLost:
        gone = unit_lost = True
        raise
    finally:
        box.on_push = previous
        if gone:
            # A unit that rebooted or vanished has its outputs off already,
            # and a reboot ended every session.
            box.token = box.session = None
        else:
            st = box.status()
            if box.session is not None and st.get("session") == box.session:
                if st["state"] in ("ARMED", "STIMULATING"):
                    box.disarm()
            else:
                # The unit ended the session itself (heartbeat loss, interlock,
                # e-stop, output fault): the token is spent.
                box.token = box.session = None
        if recorder is not None:
            if finished:
                # After the disarm: fetching the averages takes longer than
                # the unit's heartbeat watchdog, which an armed session
                # would trip; the unit keeps them until its next run.
                recorder.after_run(result)
                stored = True
            # Whatever ended the run early, keep what the unit journalled.
            recorder.end_run(salvage=not stored and not unit_lost)
