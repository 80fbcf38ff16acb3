"""Ctrl-C while the unit works: the first one interrupts, and the command
then stops the unit and stores what it gathered without a second Ctrl-C
cutting that short."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def first_only() -> Iterator[None]:
    """Inside: the first SIGINT raises KeyboardInterrupt and later ones are
    ignored, until the block (the command's clean-up included) is left.
    Off the main thread, where no signal arrives, it changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def first(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
