"""The `stimbox` command line.

Every subcommand that talks to a unit takes --port (a device path, or "auto",
the default, which honours STIMBOX_PORT and then looks for a unit). Errors the
tools expect (no port, busy port, a refusal from the unit) print one line and
exit with status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simunit import SimError

from stimbox.errors import StimBoxError

Handler = Callable[[argparse.Namespace], int]


def _port_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--port",
        default="auto",
        help="serial port of the unit (default: auto = $STIMBOX_PORT, a USB unit, or a running simulated unit)",
    )


# --- stimbox sim ---------------------------------------------------------------
def cmd_sim(args: argparse.Namespace) -> int:
    from simunit.supervisor import SimUnit

    from stimbox.build import build_image, install_offline

    stage = _sim_errors(args.stage or [], "--stage", "OUT")
    amp = _sim_errors(args.amp or [], "--amp", "CH")
    try:
        unit = SimUnit(
            name=args.name,
            flash=args.flash,
            heap=args.heap,
            scenario=args.scenario,
            seed=args.seed,
            realtime=args.realtime,
            micropython=args.micropython,
            ticks_start_us=args.ticks_start_us,
            stage=stage,
            amp={int(ch): v for ch, v in amp.items()},
        )
    except ValueError as e:  # a bad scenario, stage or amplifier setting
        raise SimError(str(e)) from None
    fresh = not (unit.flash / "main.py").exists()
    if fresh and not args.blank:
        # A unit from the factory comes programmed: install the current build,
        # compiled for the runtime the unit runs on.
        image = build_image("sim", arch=unit.runtime.mpy_arch)
        install_offline(image, unit.flash)
        note = f"installed firmware build {image.slot} into the empty flash"
    else:
        note = None

    def stop(signum: int, frame: Any) -> None:
        unit.request_stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    unit.start()
    try:
        print(unit.port, flush=True)
        if not args.print_port:
            rt = unit.runtime
            print(
                f"simulated unit {unit.name}: flash {unit.flash}, heap {unit.heap}, "
                f"scenario {args.scenario} (seed {args.seed}"
                f"{', real time' if args.realtime else ', fast'})",
                flush=True,
            )
            print(f"runtime {rt.path}: {_runtime_text(rt.as_dict())}, mpy {rt.mpy_arch}", flush=True)
            for flag, table in (("stage", stage), ("amp", amp)):
                for who, fields in table.items():
                    print(f"{flag} {who}: " + ", ".join(f"{k}={v:g}" for k, v in fields.items()), flush=True)
            if note:
                print(note, flush=True)
            print("stop with Ctrl-C", flush=True)
        unit.wait()
    finally:
        unit.stop()
    return 0


def _sim_errors(options: list[str], flag: str, what: str) -> dict[str, dict[str, float]]:
    """--stage/--amp options ("P1:gain_error=-0.05,timing_offset_us=20"),
    by output or channel; the model checks the names and ranges."""
    out: dict[str, dict[str, float]] = {}
    for text in options:
        who, sep, rest = text.partition(":")
        who = who.strip()
        if not sep or not who or not rest.strip():
            raise SimError(f"{flag} {text!r}: expected {what}:field=value[,field=value...]")
        if flag == "--amp" and not who.isdigit():
            raise SimError(f"{flag} {text!r}: {who!r} is not a channel number")
        fields = out.setdefault(who, {})
        for item in rest.split(","):
            key, eq, value = (part.strip() for part in item.partition("="))
            if not eq or not key:
                raise SimError(f"{flag} {text!r}: {item!r} is not field=value")
            try:
                fields[key] = float(value)
            except ValueError:
                raise SimError(f"{flag} {text!r}: {key}={value!r} is not a number") from None
    return out


def _runtime_text(rt: dict[str, Any]) -> str:
    """32-bit, float32, ulab, ticks period 2**30"""
    period = rt.get("ticks_period")
    if isinstance(period, int) and period > 0 and period & (period - 1) == 0:
        ticks = f"2**{period.bit_length() - 1}"
    else:
        ticks = str(period)
    return (f"{rt.get('bits')}-bit, {rt.get('float')}, {'ulab' if rt.get('ulab') else 'no ulab'}, "
            f"ticks period {ticks}")


def add_sim(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sim",
        help="run a simulated unit on a pseudo-terminal",
        description="Run a simulated StimBox: the real firmware under the MicroPython Unix port, "
        "its console on a pseudo-terminal whose path is printed first, alone on a line.",
    )
    p.add_argument("--print-port", action="store_true", help="print only the port path")
    p.add_argument("--flash", type=Path, help="flash folder (default: under the user's cache)")
    p.add_argument("--heap", help="MicroPython heap size, e.g. 96k (default: 384k on the 64-bit "
                   "PyPI port, 256k on a 32-bit runtime; see docs/SIMULATOR.md)")
    p.add_argument("--micropython", metavar="PATH",
                   help="MicroPython executable to run the firmware on (default: the Unix port "
                   "installed beside this Python), e.g. a 32-bit float32 build with ulab")
    p.add_argument("--name", help="unit name (default: the first free simN)")
    p.add_argument("--blank", action="store_true", help="do not program an empty flash")
    p.add_argument("--scenario", default="stable_baseline",
                   help="scenario name or TOML file (default: stable_baseline; see docs/SIMULATOR.md)")
    p.add_argument("--seed", type=int, default=0, help="random seed: same seed, same unit")
    p.add_argument("--realtime", action="store_true",
                   help="pace the simulation to wall time (default: as fast as it runs)")
    p.add_argument("--ticks-start-us", type=int, default=0, metavar="N",
                   help="the unit's tick counter starts at N (mod its ticks period), e.g. 1073000000 "
                   "to cross a 32-bit board's 2**30 us wrap within a minute; the model's timeline, "
                   "scenarios and ground truth are unaffected")
    p.add_argument("--stage", action="append", metavar="OUT:FIELD=V,...",
                   help="an output stage error on top of the scenario's, e.g. P1:gain_error=-0.05 "
                   "(fields of the output stage model, docs/SIMULATOR.md; repeatable)")
    p.add_argument("--amp", action="append", metavar="CH:FIELD=V,...",
                   help="a recording channel's error, e.g. 3:gain_error=0.05,delay_us=100 (repeatable)")
    p.set_defaults(func=cmd_sim)


# --- stimbox deploy ------------------------------------------------------------
def cmd_deploy(args: argparse.Namespace) -> int:
    from stimbox import discovery
    from stimbox.deploy import deploy

    port = discovery.resolve(args.port)
    log = (lambda s: None) if args.quiet else (lambda s: print(s, file=sys.stderr))
    r = deploy(port, board=args.board, log=log)
    print(f"deployed build {r.slot} to {r.port} ({r.board}) in {r.seconds:.1f} s; build hash verified")
    return 0


def add_deploy(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "deploy",
        help="build, flash and verify the firmware",
        description="Compile the firmware with mpy-cross for the unit's board, copy it with "
        "mpremote, reboot the unit and check that it runs exactly that build.",
    )
    _port_option(p)
    p.add_argument("--board", help="board folder name (default: what the unit reports)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_deploy)


# --- stimbox info --------------------------------------------------------------
def cmd_info(args: argparse.Namespace) -> int:
    from stimbox.client import StimBox

    with StimBox.connect(args.port) as box:
        info = box.info()
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
        return 0
    link = info.get("link", {})
    errors = {k: v for k, v in link.items() if k != "frames_ok" and v}
    rows = [
        ("port", info["port"]),
        ("board", info["board"]),
        ("firmware", info["fw"]),
        ("build", f"{info['build']} ({'intact' if info['build_ok'] else 'FILES CHANGED'})"),
        ("protocol", info["protocol"]),
        ("limits", info.get("limits")),
        ("runtime", _runtime_text(info["runtime"]) if "runtime" in info else "?"),
        ("dsp", info.get("dsp_backend", "?")
         + (f" ({info['dsp_backend_reason']})" if info.get("dsp_backend_reason") else "")),
        ("uptime", f"{info['uptime_ms'] / 1000:.1f} s"),
        ("heap", f"{info['heap_used']} used, {info['heap_free']} free"),
        ("link", f"{link.get('frames_ok', 0)} frames ok; errors: {errors or 'none'}"),
    ]
    for k, v in rows:
        print(f"{k:>9}  {v}")
    return 0


def add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="show what the unit runs", description="Show firmware, board, "
                       "protocol version, limits profile, MicroPython runtime, DSP backend, uptime "
                       "and link error counters.")
    _port_option(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_info)


# --- stimbox ports ---------------------------------------------------------------
def cmd_ports(args: argparse.Namespace) -> int:
    from stimbox import discovery

    found = discovery.candidates()
    for port, what in found:
        print(f"{port}  {what}")
    if not found:
        print("no units found", file=sys.stderr)
    return 0


def add_ports(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ports", help="list the units this host can see")
    p.set_defaults(func=cmd_ports)


# --- stimbox plan / run / events -------------------------------------------------
def _load_protocol(path: str) -> dict[str, Any]:
    """The file's own errors, before any unit is needed."""
    from stimbox import protocols

    return protocols.load(path)


def _check_for(box: Any, proto: dict[str, Any], path: str) -> str:
    """The protocol's shape against the connected unit's board; its name."""
    from stimbox import protocols
    from stimbox.build import board_module

    board = str(box.info()["board"])
    protocols.from_dict(proto, board_module(board), path)
    return board


def _limit_text(e: Exception) -> str:
    from stimbox.errors import limit_text

    return limit_text(e)


def _electrodes(names: tuple[str, ...], mask: int) -> str:
    return "+".join(n for i, n in enumerate(names) if mask >> i & 1) or "-"


def print_plan(plan: dict[str, Any], outputs: tuple[dict[str, Any], ...]) -> None:
    """The compiled timeline as edges: every phase's start and end, in us
    from the run's start, with the output, its electrodes and amplitude."""
    print(f"{plan['name']} ({plan['type']}): protocol hash {plan['hash'][:16]}, "
          f"limits profile {plan['limits']}")
    fig = plan["figures"]
    print(f"  {fig.get('pulses')} pulses over {fig.get('duration_us', 0) / 1e6:.3f} s, "
          f"average current {fig.get('avg_current_ua')} uA")
    for st in fig.get("streams", []):
        print(f"  {st.get('label')} on {st.get('output')}: charge/phase {st.get('charge_uc')} uC, "
              f"density {st.get('density_uc_cm2')} uC/cm2 (Shannon k {st.get('shannon_k')}), "
              f"energy {st.get('energy_mj')} mJ/pulse")
    print(f"{'pulse':>5}  {'output':<6} {'anode>cathode':<14} {'amplitude':>12}  "
          f"{'phase 1 (us)':>21}  {'phase 2 (us)':>21}")
    for k, r in enumerate(plan["rows"]):
        o = outputs[r["output"]]
        unit = "mV" if o["kind"] == "CV" else "uA"
        t0 = r["t_us"]
        t1 = t0 + r["w1_us"]
        ph2 = "-"
        if r["w2_us"]:
            t2 = t1 + r["gap_us"]
            ph2 = f"{t2}..{t2 + r['w2_us']} at {r['amp2']}"
        route = _electrodes(o["electrodes"], r["anodes"]) + ">" + _electrodes(o["electrodes"], r["cathodes"])
        print(f"{k:>5}  {o['name']:<6} {route:<14} {r['amp']:>9} {unit}  {f'{t0}..{t1}':>21}  {ph2:>21}")
    total = fig.get("pulses", len(plan["rows"]))
    if total > len(plan["rows"]):
        print(f"  ... the first {len(plan['rows'])} of {total} pulses")


def cmd_plan(args: argparse.Namespace) -> int:
    from stimbox.build import board_module
    from stimbox.client import StimBox
    from stimbox.errors import LimitError

    proto = _load_protocol(args.protocol)
    with StimBox.connect(args.port) as box:
        board = _check_for(box, proto, args.protocol)
        try:
            plan = box.plan(proto)
        except LimitError as e:
            print(f"stimbox: {_limit_text(e)}", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps(plan, indent=2))
    else:
        print_plan(plan, board_module(board).OUTPUTS)
    return 0


def add_plan(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plan",
        help="show a protocol's compiled timeline without stimulating",
        description="Send a protocol to the unit, which validates and compiles it: prints its "
        "exact pulse edges (us from the run's start) and its charge and energy figures.",
    )
    _port_option(p)
    p.add_argument("protocol", help="protocol TOML file, or an example name (tcmep, ssep, ...)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_plan)


def cmd_run(args: argparse.Namespace) -> int:
    from stimbox import dwave
    from stimbox.client import StimBox
    from stimbox.errors import LimitError
    from stimbox.session import run_protocol

    proto = _load_protocol(args.protocol)

    def progress(d: dict[str, Any]) -> None:
        if not args.quiet:
            print(f"  {d.get('done', 0)}/{d.get('total', '?')} pulses", file=sys.stderr)

    with StimBox.connect(args.port) as box:
        _check_for(box, proto, args.protocol)
        try:
            r = run_protocol(box, proto, on_progress=progress)
        except LimitError as e:
            print(f"stimbox: {_limit_text(e)}", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps({"run": r.run, "hash": r.protocol_hash, "summary": r.summary,
                          "pulses": [vars(p) for p in r.pulses], "events": r.events}, indent=1))
    else:
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
        for line in dwave.recording_lines(r.recording):
            print(line)
        for ev in r.events:
            print(f"  event {ev.get('seq')}: {ev.get('kind')} "
                  + " ".join(f"{k}={v}" for k, v in ev.items() if k not in ("seq", "kind", "t_ms")))
    return 0 if r.outcome == "complete" else 1


def add_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run a protocol: validate, arm, stimulate, report delivered charge",
        description="Validate a protocol on the unit, arm it (the interlock must be closed), run "
        "it while sending heartbeats, and print the per-pulse delivered amplitude and charge "
        "as the unit measured them.",
    )
    _port_option(p)
    p.add_argument("protocol", help="protocol TOML file, or an example name (tcmep, ssep, ...)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--show", type=int, default=10, help="pulses to list (default 10)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_run)


def _record_line(r: dict[str, Any]) -> str:
    kind = r.get("type")
    if kind == "pulses":
        n = len(r["amp"])
        # Pulses the boot reconciliation added (fired, never read back) have no charge.
        unverified = sum(1 for q in r["q_nc"] if q is None)
        flagged = sum(1 for f in r["flags"] if f) - unverified
        return (f"{r['seq']:>6} pulses      run {r['run']} pulses {r['first']}..{r['first'] + n - 1}: "
                f"{sum(q for q in r['q_nc'] if q is not None) / 1000:.1f} uC"
                f"{f', {flagged} flagged' if flagged else ''}"
                f"{f', {unverified} unverified (fired, not read back)' if unverified else ''}")
    if kind == "result":
        return (f"{r['seq']:>6} result      run {r.get('run')}: {r.get('outcome')}, "
                f"{r.get('done')}/{r.get('total')} pulses, {r.get('charge_nc', 0) / 1000:.1f} uC"
                + (f", {r['unverified']} unverified" if r.get("unverified") else "")
                + (f" ({r['incomplete']})" if "incomplete" in r else ""))
    if kind == "segment":
        n = len(r["out"])
        return (f"{r['seq']:>6} segment     run {r['run']} pulses {r['first']}..{r['first'] + n - 1} "
                f"handed to the output stage")
    if kind == "part":
        return f"{r['seq']:>6} (part {r['part']} of the record at seq {r['of']})"
    if kind == "missing":
        return f"{r['seq']:>6} (missing: lost to a crash or an overflow of the ring)"
    rest = " ".join(f"{k}={v}" for k, v in sorted(r.items())
                    if k not in ("seq", "kind", "t_ms", "type") and v is not None)
    return f"{r['seq']:>6} {r.get('t_ms', 0) / 1000:10.3f} s  {r.get('kind', '?'):<16} {rest}"


def cmd_events(args: argparse.Namespace) -> int:
    from stimbox.client import StimBox, join_parts
    from stimbox.errors import DeviceError

    refused = None
    with StimBox.connect(args.port) as box:
        first = box.records()
        recs = list(first.records)
        page = first
        while page.more:
            page = box.records(page.next)
            recs.extend(page.records)
        recs = join_parts(recs)
        # Acknowledge what was shown (and, with --json, printed): the unit
        # may then reuse its room. While another host holds the unit's
        # session, only that host may.
        acked = first.acked
        if recs and not args.keep:
            try:
                acked = box.ack(page.next)
            except DeviceError as e:
                if e.name != "not_owner":
                    raise
                refused = str(e)
    if args.json:
        print(json.dumps({"records": recs, "acked": acked, "last_seq": page.last_seq,
                          "lost": page.lost, "ack_refused": refused}, indent=1))
        return 0
    for r in recs:
        print(_record_line(r))
    print(f"{len(recs)} records since seq {first.acked}; acknowledged up to {acked}"
          + (f"; {page.lost} lost to an overflow since boot" if page.lost else ""))
    if refused:
        print(f"not acknowledged: {refused}")
    return 0


def add_events(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("events", help="show the unit's journal since the last acknowledgement, "
                       "and acknowledge it")
    _port_option(p)
    p.add_argument("--keep", action="store_true", help="do not acknowledge: show them again next time")
    p.add_argument("--ack", action="store_true", help=argparse.SUPPRESS)  # the default now
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_events)


# --- stimbox impedance / emg -----------------------------------------------------
def _pairs(text: list[str]) -> list[tuple[str, str]]:
    out = []
    for t in text:
        a, sep, b = t.partition(":")
        if not sep or not a or not b:
            raise StimBoxError(f"pair {t!r}: write ACTIVE:REFERENCE")
        out.append((a, b))
    return out


def cmd_impedance(args: argparse.Namespace) -> int:
    from stimbox.client import StimBox
    from stimbox.errors import DeviceError

    with StimBox.connect(args.port) as box:
        try:
            r = box.impedance(args.electrodes or None, _pairs(args.pair), args.max_kohm, args.mismatch_kohm)
        except DeviceError as e:
            print(f"stimbox: {_limit_text(e)}", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps(r, indent=1))
        return 0 if r["pass"] else 1
    for el in r["electrodes"]:
        print(f"{el['electrode']:<8} {el['kohm']:9.2f} kOhm  {'PASS' if el['pass'] else 'FAIL'}"
              f"  (limit {el['max']} kOhm)")
    for p in r["pairs"]:
        print(f"{p['pair'][0] + '-' + p['pair'][1]:<14} mismatch {p['mismatch_kohm']:8.2f} kOhm  "
              f"{'PASS' if p['pass'] else 'FAIL'}  (limit {p['max']} kOhm)")
    print("all PASS" if r["pass"] else "FAIL")
    return 0 if r["pass"] else 1


def add_impedance(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("impedance", help="electrode impedance check (kOhm, PASS/FAIL)",
                       description="Measure electrode impedances with the unit's test signal; "
                       "pass at or below --max-kohm, pairs pass at a mismatch at or below "
                       "--mismatch-kohm. Refused while a run is stimulating. Exit status 1 on a FAIL.")
    _port_option(p)
    p.add_argument("electrodes", nargs="*", help="electrode names (default: every recording electrode)")
    p.add_argument("--pair", action="append", default=[], metavar="ACTIVE:REF",
                   help="check the mismatch of this pair (repeatable)")
    p.add_argument("--max-kohm", type=float, default=None, help="limit per electrode (default 5)")
    p.add_argument("--mismatch-kohm", type=float, default=None, help="limit per pair (default 1.5)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_impedance)


def _emg_line(e: dict[str, Any]) -> str:
    return (f"{e['t_ms'] / 1000:9.3f} s  ch {e['ch']:>2}  {e['kind']:<5}  {e['dur_ms']:8.1f} ms  "
            f"{e['spikes']:>5} spikes  peak {e['peak_uv']:7.1f} uV")


def cmd_emg(args: argparse.Namespace) -> int:
    from stimbox.client import Push, StimBox
    from stimbox.errors import DeviceError

    done: list[dict[str, Any]] = []

    def on_push(p: Push) -> None:
        if p.name != "emg":
            return
        for e in p.data["events"]:
            print(_emg_line(e), flush=True)
        if p.data.get("done"):
            done.append(p.data)

    opts: dict[str, Any] = {"thr_uv": args.thr_uv, "duration_ms": int(args.seconds * 1000)}
    if args.band:
        opts["band"] = args.band
    with StimBox.connect(args.port) as box:
        box.on_push = on_push
        try:
            box.freerun_start(args.channels, args.rate, args.block_ms, **opts)
        except DeviceError as e:
            print(f"stimbox: {_limit_text(e)}", file=sys.stderr)
            return 1
        try:
            # The unit streams duration_ms of its own clock, then pushes the summary.
            give_up = time.monotonic() + args.seconds + 30
            while not done and time.monotonic() < give_up:
                box.poll(0.2)
            if not done:
                raise KeyboardInterrupt
        except KeyboardInterrupt:
            done.append(box.freerun_stop())
            for ev in done[0]["events"]:
                print(_emg_line(ev))
    s = done[0]
    print(f"{s['t_ms'] / 1000:.3f} s of free-run EMG, {s['blocks']} blocks, "
          f"{s['dropped']} detections dropped")
    for i, ch in enumerate(s["channels"]):
        print(f"  ch {ch:>2}: {s['spikes'][i]} spikes, {s['bursts'][i]} bursts, {s['trains'][i]} trains, "
              f"train time {s['train_ms'][i] / 1000:.3f} s")
    print(f"  cumulative train time {s['train_ms_total'] / 1000:.3f} s")
    return 0


def add_emg(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("emg", help="free-run EMG: stream, print detections, then the summary",
                       description="Stream free-run EMG on the unit for --seconds of its clock; "
                       "prints spikes, bursts and neurotonic trains as they are detected, then "
                       "counts and cumulative train time per channel.")
    _port_option(p)
    p.add_argument("--seconds", type=float, default=10.0, help="how long to stream (default 10)")
    p.add_argument("--channels", type=int, nargs="+", default=list(range(8, 16)),
                   help="amplifier channels (default 8..15, the muscles)")
    p.add_argument("--rate", type=int, default=10000, help="sample rate, Hz (5000, 10000, 20000)")
    p.add_argument("--block-ms", type=float, default=10, help="block length, ms (default 10)")
    p.add_argument("--band", type=float, nargs=2, metavar=("LOW", "HIGH"), help="band-pass, Hz")
    p.add_argument("--thr-uv", type=float, default=50, help="detection threshold, uV (default 50)")
    p.set_defaults(func=cmd_emg)


# --- stimbox validate ------------------------------------------------------------
def cmd_validate(args: argparse.Namespace) -> int:
    from stimbox.client import StimBox
    from stimbox.validation import run_validation
    from stimbox.validation.checks import Check, line

    failed: list[Check] = []

    def show(c: Check) -> None:
        if c.outcome == "FAIL":
            failed.append(c)
        if not args.quiet and not args.json:
            print(line(c), flush=True)

    notes: list[str] = []
    with StimBox.connect(args.port) as box:
        summary = run_validation(box, args.phantom, args.out, load_ohm=args.load_ohm,
                                 tolerance_file=args.tolerances, on_check=show, notes=notes)
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        if args.quiet:
            for c in failed:  # with their figures: a quiet run still says why
                print(line(c))
        u, n = summary["unit"], summary["counts"]
        print(f"{summary['outcome']}: unit {u['serial']} ({u['board']}, firmware {u['firmware']} build "
              f"{str(u['build'])[:16]}) into {summary['phantom']['name']}: {n['PASS']} PASS, {n['FAIL']} FAIL, "
              f"{n['SKIP']} SKIP in {summary['duration_s']:.1f} s"
              + (f"; record in {args.out}" if args.out else ""))
    for note in notes:
        print(f"stimbox: {note}", file=sys.stderr)
    return 1 if summary["outcome"] != "PASS" else 0


def add_validate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate", help="validate a unit into a phantom load: PASS/FAIL per check",
        description="Run the validation suite on a unit connected to a phantom load: every output's "
        "delivered amplitude, charge and width over a grid of settings, timing, biphasic charge "
        "balance, load faults, and the recording chain against a known signal. Prints each check "
        "(requested, measured, tolerance, PASS/FAIL/SKIP) and a verdict; exit status 1 on any FAIL. "
        "See docs/VALIDATION.md.")
    _port_option(p)
    p.add_argument("--out", type=Path, help="folder for summary.json and report.html")
    p.add_argument("--phantom", type=Path, metavar="FILE",
                   help="phantom file: the lab's loads and phantom box (default: the board's bench phantom)")
    p.add_argument("--load-ohm", type=float, metavar="OHMS", help="one resistor of OHMS on every output")
    p.add_argument("--tolerances", type=Path, metavar="FILE",
                   help="tolerance file (default: boards/<board>/validation.toml)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="only failures and the verdict")
    p.set_defaults(func=cmd_validate)


COMMANDS = [add_sim, add_deploy, add_info, add_ports, add_plan, add_run, add_events, add_impedance, add_emg,
            add_validate]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stimbox",
        description="Host tools for the StimBox stimulator/amplifier unit.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (StimBoxError, SimError) as e:
        print(f"stimbox: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Output piped into `head` and the like: stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
