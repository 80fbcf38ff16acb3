"""Where simulated units live on this machine, and how the host finds them.

Each unit has a folder under the user's cache (its default flash, and a
unit.json naming its port while it runs). A unit holds an exclusive lock on
its folder, so two units never share a flash and `--port auto` can tell a
running unit from a stale entry.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from simunit import SimError


def root() -> Path:
    base = os.environ.get("STIMBOX_SIM_HOME")
    if base:
        return Path(base)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "stimbox" / "sim"


class Slot:
    def __init__(self, name: str, fd: int) -> None:
        self.name = name
        self.dir = root() / name
        self._fd = fd

    def publish(self, **fields: object) -> None:
        tmp = self.dir / "unit.json.tmp"
        tmp.write_text(json.dumps(dict(fields, name=self.name)))
        tmp.replace(self.dir / "unit.json")

    def release(self) -> None:
        try:
            (self.dir / "unit.json").unlink()
        except FileNotFoundError:
            pass
        os.close(self._fd)


def _try_lock(name: str) -> int | None:
    d = root() / name
    d.mkdir(parents=True, exist_ok=True)
    fd = os.open(d / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def claim(name: str | None = None, prefix: str = "sim") -> Slot:
    """Lock the named unit folder, or when name is None the first free
    <prefix>N (sim0, sim1, ...; demo0, demo1, ... with prefix "demo"): two
    callers asking for a prefix on one machine never get the same unit."""
    if name is not None:
        fd = _try_lock(name)
        if fd is None:
            raise SimError(f"simulated unit {name!r} is already running")
        return Slot(name, fd)
    if not prefix or "/" in prefix or prefix.startswith("."):
        raise SimError(f"{prefix!r} cannot start a simulated unit's name")
    for i in range(1000):
        fd = _try_lock(f"{prefix}{i}")
        if fd is not None:
            return Slot(f"{prefix}{i}", fd)
    raise SimError(f"no free simulated unit name {prefix}0 to {prefix}999")


def running() -> list[dict[str, object]]:
    """The units that are running now (their folder is locked)."""
    out: list[dict[str, object]] = []
    base = root()
    if not base.is_dir():
        return out
    for d in sorted(base.iterdir()):
        entry = d / "unit.json"
        if not entry.exists():
            continue
        fd = _try_lock(d.name)
        if fd is not None:  # nobody holds it: a stale entry
            os.close(fd)
            continue
        try:
            out.append(json.loads(entry.read_text()))
        except (OSError, ValueError):
            continue
    return out
