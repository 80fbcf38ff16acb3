"""What commands print: one JSON object with --json, plain lines otherwise,
notes on stderr (silent with -q), and a live progress display for runs
only when stdout is a terminal (a pipe or a log file gets the result
alone)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_emitted = [False]


def reset() -> None:
    _emitted[0] = False


def emitted() -> bool:
    """Whether this command printed its JSON object already."""
    return _emitted[0]


def emit_json(obj: Any) -> None:
    """The command's one JSON object on stdout."""
    _emitted[0] = True
    print(json.dumps(obj, indent=1, default=_plain), flush=True)


def _plain(o: Any) -> Any:
    # numpy scalars and arrays, paths, dataclasses: what results carry.
    if hasattr(o, "tolist"):
        return o.tolist()
    if hasattr(o, "__dataclass_fields__"):
        return vars(o)
    return str(o)


def note(args: argparse.Namespace, text: str) -> None:
    """A remark for the person at the terminal (stderr; not with -q)."""
    if not getattr(args, "quiet", False):
        print(f"stimbox: {text}", file=sys.stderr, flush=True)


def live(args: argparse.Namespace) -> bool:
    """A live display is wanted: stdout a terminal, no --json, no -q."""
    return sys.stdout.isatty() and not args.json and not args.quiet


def runtime_text(rt: dict[str, Any]) -> str:
    """32-bit, float32, ulab, ticks period 2**30"""
    period = rt.get("ticks_period")
    if isinstance(period, int) and period > 0 and period & (period - 1) == 0:
        ticks = f"2**{period.bit_length() - 1}"
    else:
        ticks = str(period)
    return (f"{rt.get('bits')}-bit, {rt.get('float')}, {'ulab' if rt.get('ulab') else 'no ulab'}, "
            f"ticks period {ticks}")


class RunProgress:
    """A run's progress pushes as rich progress bars: pulses done of the
    total, and per recorded stream its sweeps (of the protocol's count, when
    it has one), rejects and SNR when the push carries one."""

    def __init__(self, sweeps_per_stream: int | None) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.sweeps = sweeps_per_stream
        self.bars = Progress(TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("{task.fields[extra]}"), TimeElapsedColumn(), transient=True)
        self.pulses = self.bars.add_task("pulses", total=None, extra="")
        self.streams: dict[str, Any] = {}

    def update(self, d: dict[str, Any]) -> None:
        stream = d.get("stream")
        if stream is None:
            self.bars.update(self.pulses, completed=d.get("done", 0), total=d.get("total"))
            return
        task = self.streams.get(stream)
        if task is None:
            task = self.streams[stream] = self.bars.add_task(f"  {stream} sweeps", total=self.sweeps,
                                                             extra="")
        extra = f"{d.get('rejected_total', 0)} rejected"
        snr = d.get("snr")
        if isinstance(snr, int | float):
            extra += f", SNR {snr:.1f}"
        self.bars.update(task, completed=d.get("sweeps", 0), extra=extra)


@contextmanager
def run_progress(args: argparse.Namespace, sweeps_per_stream: int | None) -> Iterator[RunProgress | None]:
    """A RunProgress shown while the block runs, or None where it would not
    be seen (not a terminal, --json, -q)."""
    if not live(args):
        yield None
        return
    p = RunProgress(sweeps_per_stream)
    with p.bars:
        yield p
