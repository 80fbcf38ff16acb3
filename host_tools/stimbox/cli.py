"""The `stimbox` command line.

Every subcommand that talks to a unit takes --port (a device path, or "auto",
the default, which honours STIMBOX_PORT and then looks for a unit). Errors the
tools expect (no port, busy port, a refusal from the unit) print one line and
exit with status 1.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
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
    from simunit.supervisor import DEFAULT_HEAP, SimUnit

    from stimbox.build import build_image, install_offline

    unit = SimUnit(name=args.name, flash=args.flash, heap=args.heap or DEFAULT_HEAP)
    fresh = not (unit.flash / "main.py").exists()
    if fresh and not args.blank:
        # A unit from the factory comes programmed: install the current build.
        image = build_image("sim")
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
            print(f"simulated unit {unit.name}: flash {unit.flash}, heap {unit.heap}", flush=True)
            if note:
                print(note, flush=True)
            print("stop with Ctrl-C", flush=True)
        unit.wait()
    finally:
        unit.stop()
    return 0


def add_sim(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sim",
        help="run a simulated unit on a pseudo-terminal",
        description="Run a simulated StimBox: the real firmware under the MicroPython Unix port, "
        "its console on a pseudo-terminal whose path is printed first, alone on a line.",
    )
    p.add_argument("--print-port", action="store_true", help="print only the port path")
    p.add_argument("--flash", type=Path, help="flash folder (default: under the user's cache)")
    p.add_argument("--heap", help="MicroPython heap size, e.g. 96k (default: 192k, as an RP2040)")
    p.add_argument("--name", help="unit name (default: the first free simN)")
    p.add_argument("--blank", action="store_true", help="do not program an empty flash")
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
        ("uptime", f"{info['uptime_ms'] / 1000:.1f} s"),
        ("heap", f"{info['heap_used']} used, {info['heap_free']} free"),
        ("link", f"{link.get('frames_ok', 0)} frames ok; errors: {errors or 'none'}"),
    ]
    for k, v in rows:
        print(f"{k:>9}  {v}")
    return 0


def add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="show what the unit runs", description="Show firmware, board, "
                       "protocol version, limits profile, uptime and link error counters.")
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


COMMANDS = [add_sim, add_deploy, add_info, add_ports]


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


if __name__ == "__main__":
    sys.exit(main())
