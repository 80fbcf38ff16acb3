"""What the demo shows on the terminal as the case goes: a header per step,
a line per finding, alarms as they come. With rich installed and a terminal
to draw on, in colour; plain lines otherwise (a pipe, a log, a test)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO


class Progress:
    def __init__(self, steps: int, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.steps = steps
        self.stream = stream or sys.stdout
        self.quiet = quiet
        self.console: Any = None
        if not quiet and self.stream.isatty():
            try:
                from rich.console import Console
            except ImportError:
                pass
            else:
                self.console = Console(file=self.stream, highlight=False)

    def step(self, n: int, title: str, clock: str = "") -> None:
        self.section(f"[{n}/{self.steps}] {title}" + (f"  ({clock})" if clock else ""))

    def section(self, text: str) -> None:
        if self.quiet:
            return
        if self.console is not None:
            from rich.markup import escape

            self.console.rule(f"[bold]{escape(text)}", align="left")
        else:
            print(f"\n== {text}", file=self.stream, flush=True)

    def line(self, text: str) -> None:
        if self.quiet:
            return
        if self.console is not None:
            self.console.print("  " + text, markup=False)
        else:
            print("  " + text, file=self.stream, flush=True)

    def alarm(self, text: str) -> None:
        if self.quiet:
            return
        if self.console is not None:
            from rich.markup import escape

            self.console.print(f"  [bold red]ALARM[/] {escape(text)}")
        else:
            print(f"  ALARM {text}", file=self.stream, flush=True)

    def note(self, text: str) -> None:
        """Outside the steps: the unit starting, the summary."""
        if self.quiet:
            return
        if self.console is not None:
            self.console.print(text, markup=False)
        else:
            print(text, file=self.stream, flush=True)

    @contextmanager
    def working(self, text: str) -> Iterator[Callable[[str], None]]:
        """A live status line while something runs (rich on a terminal
        only); yields a function that updates its text."""
        if self.console is None:
            yield lambda _: None
            return
        with self.console.status(text) as status:
            yield lambda more: status.update(f"{text}: {more}")
