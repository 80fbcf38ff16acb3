"""stimbox sim: a simulated unit on a pseudo-terminal."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from typing import Any

from stimbox.cli import output
from stimbox.cli.exitcodes import UsageError

NAME = "sim"


def add(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME,
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
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
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
        raise UsageError(str(e)) from None
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
        if args.json:
            # One object, as soon as the port is there: a script reads one line.
            print(_json_line(unit, args, note), flush=True)
        else:
            print(unit.port, flush=True)
        if not args.print_port and not args.json:
            rt = unit.runtime
            print(
                f"simulated unit {unit.name}: flash {unit.flash}, heap {unit.heap}, "
                f"scenario {args.scenario} (seed {args.seed}"
                f"{', real time' if args.realtime else ', fast'})",
                flush=True,
            )
            print(f"runtime {rt.path}: {output.runtime_text(rt.as_dict())}, mpy {rt.mpy_arch}", flush=True)
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


def _json_line(unit: Any, args: argparse.Namespace, note: str | None) -> str:
    import json

    return json.dumps({"port": unit.port, "name": unit.name, "flash": str(unit.flash), "heap": unit.heap,
                       "scenario": args.scenario, "seed": args.seed, "realtime": args.realtime,
                       "runtime": unit.runtime.as_dict(), "installed": note})


def _sim_errors(options: list[str], flag: str, what: str) -> dict[str, dict[str, float]]:
    """--stage/--amp options ("P1:gain_error=-0.05,timing_offset_us=20"),
    by output or channel; the model checks the names and ranges."""
    out: dict[str, dict[str, float]] = {}
    for text in options:
        who, sep, rest = text.partition(":")
        who = who.strip()
        if not sep or not who or not rest.strip():
            raise UsageError(f"{flag} {text!r}: expected {what}:field=value[,field=value...]")
        if flag == "--amp" and not who.isdigit():
            raise UsageError(f"{flag} {text!r}: {who!r} is not a channel number")
        fields = out.setdefault(who, {})
        for item in rest.split(","):
            key, eq, value = (part.strip() for part in item.partition("="))
            if not eq or not key:
                raise UsageError(f"{flag} {text!r}: {item!r} is not field=value")
            try:
                fields[key] = float(value)
            except ValueError:
                raise UsageError(f"{flag} {text!r}: {key}={value!r} is not a number") from None
    return out
