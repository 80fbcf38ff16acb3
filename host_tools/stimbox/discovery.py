"""Finding a unit: `--port auto` (or no port) looks at STIMBOX_PORT, then USB
serial ports whose VID/PID a board declares, then running simulated units."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from serial.tools import list_ports
from serial.tools.list_ports_common import ListPortInfo
from simunit import registry

from stimbox.errors import PortError


def usb_ids() -> dict[tuple[int, int], str]:
    from stimbox.build import board_module, boards

    ids = {}
    for name in boards():
        for vid, pid in getattr(board_module(name), "USB_IDS", ()):
            ids[(vid, pid)] = name
    return ids


def match_usb(ports: Iterable[ListPortInfo], ids: dict[tuple[int, int], str]) -> list[tuple[str, str]]:
    """The serial ports whose USB VID/PID a board declares."""
    found = []
    for p in ports:
        if p.vid is not None and (p.vid, p.pid) in ids:
            found.append((p.device, f"{ids[(p.vid, p.pid)]} board, USB {p.vid:04x}:{p.pid:04x}"))
    return found


def candidates() -> list[tuple[str, str]]:
    """(port, what it is) for every unit this host can see."""
    found = match_usb(list_ports.comports(), usb_ids())
    for u in registry.running():
        rt = u.get("runtime")
        on = f" on {Path(str(rt['path'])).name} ({rt['bits']}-bit, {rt['float']})" if isinstance(rt, dict) else ""
        found.append((str(u["port"]), f"simulated unit {u['name']}{on}"))
    return found


def resolve(port: str | None) -> str:
    if port and port != "auto":
        return port
    env = os.environ.get("STIMBOX_PORT")
    if env and env != "auto":
        return env
    found = candidates()
    if not found:
        raise PortError(
            "no StimBox found: plug in a unit, or start one with `stimbox sim` (or give --port)"
        )
    if len(found) > 1:
        listing = "; ".join(f"{p} ({what})" for p, what in found)
        raise PortError(f"several units found, choose one with --port: {listing}")
    return found[0][0]
