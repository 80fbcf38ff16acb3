"""stimbox run: validate, arm, stimulate; the delivered charge per pulse,
the averages' components, MEPs and alarms; a session folder with --out."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from stimbox.cli import interrupt, output, protofile
from stimbox.cli.exitcodes import Interrupted, RunFault

NAME = "run"
# Outcomes that are the run's normal end: all pulses out, or stopped on request.
CLEAN = ("complete", "stopped")
log = logging.getLogger("stimbox")


def add(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME,
        help="run a protocol: validate, arm, stimulate, report delivered charge and responses",
        description="Validate a protocol on the unit, arm it (the interlock must be closed), run "
        "it while sending heartbeats, and print the per-pulse delivered amplitude and charge "
        "as the unit measured them, the averaged responses' components (latency, amplitude "
        "per channel), TcMEP trials and alarms. Ctrl-C stops stimulation, stores what was "
        "gathered (with --out) and exits 130.",
    )
    p.add_argument("protocol", help="protocol TOML file, or an example name (tcmep, ssep, ...)")
    p.add_argument("--show", type=int, default=10, help="pulses to list (default 10)")
    p.add_argument("--baseline", action="store_true",
                   help="this run's averages become the reference later runs are alarmed against")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="session folder to store the run in as it happens (created, or added to)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from stimbox.client import StimBox
    from stimbox.session import run_protocol

    proto = protofile.load(args.protocol)
    seen_run: list[int] = []

    def progress(d: dict[str, Any]) -> None:
        if not seen_run and isinstance(d.get("run"), int):
            seen_run.append(d["run"])
            log.info("run %s started", d["run"])
        log.debug("progress %s", d)
        if bars is not None:
            bars.update(d)

    with StimBox.connect(args.port) as box, interrupt.first_only():
        protofile.check_for(box, proto, args.protocol)
        if args.out is not None:
            box.check_protocol(proto)  # a refused protocol leaves no empty session folder behind
        recorder = _recorder(box, args.out)
        try:
            with output.run_progress(args, _sweeps(proto)) as bars:
                r = run_protocol(box, proto, on_progress=progress, baseline=args.baseline, recorder=recorder)
        except KeyboardInterrupt:
            raise Interrupted(_interrupted(box, recorder, seen_run, args)) from None
        finally:
            if recorder is not None:
                recorder.folder.close()
    log.info("run %s: %s, %s pulses", r.run, r.outcome, r.summary.get("done"))
    _report(args, r)
    if r.outcome not in CLEAN:
        raise RunFault(f"run {r.run} ended by a fault: {r.outcome}"
                       + (f" ({_why(r)})" if _why(r) else ""))
    return 0


def _recorder(box: Any, out: Path | None) -> Any:
    """A Recorder into the session folder at out (made if new), or None."""
    if out is None:
        return None
    from stimbox.store import Recorder, SessionFolder

    return Recorder(box, SessionFolder.open_or_create(out, box.info(), box.port))


def _interrupted(box: Any, recorder: Any, seen_run: list[int], args: argparse.Namespace) -> str:
    """After Ctrl-C: stop stimulation (anyone may), store what came, and say so."""
    from stimbox.errors import DeviceError
    from stimbox.session import RunResult

    box.stop()
    st = box.status()
    run = st.get("run") or {}
    text = f"interrupted: stimulation stopped, unit {st.get('state')}"
    if run:
        text += f"; run {run.get('run')}: {run.get('outcome')}, {run.get('done')}/{run.get('total')} pulses"
    if recorder is not None:
        try:
            if seen_run:
                recorder.after_run(RunResult(run=seen_run[0], protocol_hash="", summary=box.result(seen_run[0])))
            else:
                recorder.sync()
        except DeviceError:
            recorder.salvage()  # no result to fetch averages by: the journal alone
        text += f"; what was gathered is stored in {args.out} ({recorder.stored} journal records)"
    return text


def _sweeps(proto: dict[str, Any]) -> int | None:
    """Sweeps each recorded stream takes, where the protocol says: one per
    stimulus of each site (SSEP) or train (TcMEP)."""
    count = proto.get("count")
    return count if isinstance(count, int) and proto.get("type") in ("ssep", "tcmep", "dwave") else None


def _why(r: Any) -> str:
    """The figures of the event that ended the run (the one named as its
    outcome, else the last that is not routine)."""
    routine = (None, "armed", "started", "disarmed", "stopped")
    events = [ev for ev in r.events if isinstance(ev, dict)]
    cause = next((ev for ev in events if ev.get("kind") == r.outcome), None)
    cause = cause or next((ev for ev in reversed(events) if ev.get("kind") not in routine), None)
    if cause is None:
        return ""
    return " ".join(f"{k}={v}" for k, v in cause.items() if k not in ("seq", "kind", "t_ms", "run", "session"))


def _report(args: argparse.Namespace, r: Any) -> None:
    from stimbox import dwave

    if args.json:
        output.emit_json({"run": r.run, "hash": r.protocol_hash, "outcome": r.outcome, "summary": r.summary,
                          "recording": r.recording, "meps": r.meps, "alarms": r.alarms,
                          "pulses": [vars(p) for p in r.pulses], "events": r.events,
                          "out": None if args.out is None else str(args.out)})
        return
    s = r.summary
    print(f"run {r.run}: {r.outcome}, {s.get('done')}/{s.get('total')} pulses, "
          f"delivered charge {s.get('charge_nc', 0) / 1000:.1f} uC in all")
    for p in r.pulses[: args.show]:
        print(f"  pulse {p.index:>4} {p.output:<4} {'+'.join(p.anodes)}>{'+'.join(p.cathodes)}: "
              f"delivered {p.amp:>7}, charge {p.charge_nc / 1000:8.3f} uC, "
              f"width {p.width_us:6.1f} us, onset {p.onset_us:+5.1f} us"
              + (f"; phase 2 {p.amp2:>7}, {p.charge2_nc / 1000:8.3f} uC, width {p.width2_us:6.1f} us, "
                 f"gap {p.gap_us:5.1f} us" if p.amp2 else "")
              + (f"  {','.join(p.flags)}" if p.flags else ""))
    if len(r.pulses) > args.show:
        print(f"  ... {len(r.pulses) - args.show} more pulses (--json for all)")
    for st in (r.recording or {}).get("streams", []):
        print(_stream_line(st))
        for c in st.get("components") or []:
            print(dwave.component_line(str(st.get("stream")), c))
    d = dwave.summary(r.recording)
    if d is not None and d["ratio"] is not None:
        print(f"  D-wave caudal/rostral amplitude ratio {d['ratio']:.2f}")
    for line in _mep_lines(r.meps):
        print(line)
    # Every alarm the unit raised, as pushed: the averages' and a threshold search's.
    for ev in r.alarms:
        print(dwave.alarm_line(ev))
    for ev in r.events:
        print(f"  event {ev.get('seq')}: {ev.get('kind')} "
              + " ".join(f"{k}={v}" for k, v in ev.items() if k not in ("seq", "kind", "t_ms")))
    if args.out is not None:
        print(f"stored in session folder {args.out}")


def _stream_line(st: dict[str, Any]) -> str:
    """A recorded stream's counts: sweeps, rejects, A/B split and SNR."""
    rejected = st.get("rejected_total")
    snr = [x.get("snr") for x in st.get("snr") or [] if isinstance(x, dict)]
    text = f"  {st.get('stream')}: {st.get('sweeps')} sweeps"
    if rejected is not None:
        text += f", {rejected} rejected"
    if st.get("a") and st.get("b") and any(st["b"]):  # an A/B split was taken
        text += f", A {st['a'][0]} / B {st['b'][0]}"
    if snr and all(isinstance(x, int | float) for x in snr):
        chans = st.get("channels") or []
        text += ", SNR " + ", ".join(f"ch {c} {x:.1f}" for c, x in zip(chans, snr, strict=False))
    return text


def _mep_lines(meps: list[dict[str, Any]]) -> list[str]:
    """TcMEP trials, one line per muscle: present or not, onset, peak-to-peak."""
    from stimbox.mep import from_record

    out = []
    for d in meps:
        t = from_record(d)
        for m in t.muscles:
            who = m.name or f"ch {m.ch}"
            if m.present:
                out.append(f"  MEP trial {t.trial} {who}: onset {m.onset_ms:.1f} ms, {m.pp_uv:.0f} uVpp, "
                           f"area {m.area_uvms:.1f} uV.ms")
            else:
                out.append(f"  MEP trial {t.trial} {who}: absent (threshold {m.threshold_uv:.0f} uV)")
    return out
