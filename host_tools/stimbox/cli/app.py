"""The `stimbox` command line: the parser, the global options, dispatch,
and every exception turned into one line on stderr and an exit code
(stimbox.cli.exitcodes; docs/CLI.md).

Global options (--port, --json, -q, -v) may come before or after the
command: both the main parser and every command's parser take them, with
no default of their own, and main() fills in the defaults afterwards.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from types import ModuleType
from typing import Any, NoReturn

from stimbox.cli import exitcodes, output
from stimbox.cli.commands import (
    demo,
    deploy,
    emg,
    events,
    export,
    impedance,
    info,
    plan,
    ports,
    pull,
    report,
    run,
    sim,
    status,
    stop,
    validate,
)
from stimbox.cli.exitcodes import UsageError

# Every command, in the order `stimbox --help` lists them. A new command is
# one module in stimbox/cli/commands/ (NAME, add, run) and one entry here.
COMMANDS: list[ModuleType] = [
    sim,
    deploy,
    info,
    ports,
    status,
    plan,
    run,
    stop,
    events,
    impedance,
    emg,
    pull,
    export,
    report,
    validate,
    demo,
]

DEFAULTS: dict[str, Any] = {"port": "auto", "json": False, "quiet": False, "verbose": 0}
log = logging.getLogger("stimbox")


class Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line (and exit code 2) instead of
    the usage text and an exit from inside the parser."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def add_global_options(p: argparse.ArgumentParser) -> None:
    """--port, --json, -q, -v on a parser, unless a command defined its own."""
    def add(*flags: str, **kw: Any) -> None:
        if not any(f in p._option_string_actions for f in flags):
            p.add_argument(*flags, default=argparse.SUPPRESS, **kw)

    add("--port", help="serial port of the unit (default: auto = $STIMBOX_PORT, a USB unit, "
        "or the one running simulated unit)")
    add("--json", action="store_true", help="print one JSON object on stdout")
    add("-q", "--quiet", action="store_true", help="no progress, notes or per-step lines")
    add("-v", "--verbose", action="count", help="log what happens, and an error's traceback (-vv: debug)")


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("stimbox")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="stimbox", description="Host tools for the StimBox stimulator/amplifier unit. "
                    "Exit codes: see docs/CLI.md.")
    parser.add_argument("--version", action="version", version=f"stimbox {version()}")
    add_global_options(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        add_global_options(module.add(sub))
    return parser


def parse(argv: list[str] | None) -> argparse.Namespace:
    args, extra = build_parser().parse_known_args(argv)
    if extra:
        # Named against the command's own help, which lists what it takes.
        raise UsageError(f"unrecognized arguments: {' '.join(extra)} (see 'stimbox {args.command} --help')")
    for key, value in DEFAULTS.items():
        if not hasattr(args, key):
            setattr(args, key, value)
    return args


def _logging(args: argparse.Namespace) -> None:
    level = logging.ERROR if args.quiet else (logging.WARNING, logging.INFO)[min(args.verbose, 1)]
    if args.verbose >= 2:
        level = logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("stimbox: %(levelname)s: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


def message(e: BaseException) -> str:
    """One line for the person at the terminal."""
    from stimbox.errors import DeviceError, limit_text

    if isinstance(e, KeyboardInterrupt):
        return "interrupted"
    if isinstance(e, DeviceError):
        text = limit_text(e)
    elif isinstance(e, TimeoutError):
        text = f"timed out: {e}" if str(e) else "timed out"
    else:
        text = str(e)
    if exitcodes.code_for(e) == exitcodes.HOST_ERROR and not _expected(e):
        # A bug or an error nobody raised on purpose: name it, keep it one line.
        text = f"internal error: {type(e).__name__}: {text} (-v shows the traceback)"
    return " ".join(text.split()) or type(e).__name__


def _expected(e: BaseException) -> bool:
    from simunit import SimError

    from stimbox.errors import StimBoxError

    return isinstance(e, StimBoxError | SimError | OSError)


def main(argv: list[str] | None = None) -> int:
    output.reset()
    try:
        args = parse(argv)
    except UsageError as e:
        print(f"stimbox: {message(e)}", file=sys.stderr)
        return exitcodes.USAGE
    except SystemExit as e:  # --help, --version
        return int(e.code or 0) if not isinstance(e.code, str) else exitcodes.USAGE
    _logging(args)
    log.info("stimbox %s: %s", version(), args.command)
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        # Output piped into `head` and the like: the reader has what it wanted.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return exitcodes.OK
    except (Exception, KeyboardInterrupt) as raised:
        from stimbox.extras import explain

        err = explain(raised)
        code = exitcodes.code_for(err)
        text = message(err)
        log.info("%s", text, exc_info=True)
        if args.json and not output.emitted():
            output.emit_json({"error": text, "exit_code": code})
        print(f"stimbox: {text}", file=sys.stderr, flush=True)
        return code


if __name__ == "__main__":
    sys.exit(main())
