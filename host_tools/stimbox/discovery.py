"""Finding a unit: `--port auto` (or no port) looks at STIMBOX_PORT, then USB
serial ports that a board's USB_MATCH claims (the product or serial string
its firmware sets, or an id of its own: stimbox.usbmatch), then running
simulated units."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from serial.tools import list_ports
from serial.tools.list_ports_common import ListPortInfo
from simunit import registry

from stimbox import usbmatch
from stimbox.errors import PortError


def usb_matches() -> dict[str, Mapping[str, object]]:
    """board -> its USB_MATCH, for every board a USB unit can be (the
    simulated unit declares none: its registry entry finds it)."""
    from stimbox.build import board_module, boards

    out = {}
    for name in boards():
        match = getattr(board_module(name), "USB_MATCH", None)
        # A malformed one (which the build refuses) claims no port.
        if match and not usbmatch.problems(match):
            out[name] = match
    return out


def match_usb(ports: Iterable[ListPortInfo], declared: Mapping[str, Mapping[str, object]]) -> list[tuple[str, str]]:
    """(port, what it is) for the serial ports a board's USB_MATCH claims."""
    found = []
    for p in ports:
        names = [board for board, match in declared.items() if usbmatch.matches(match, p)]
        if names:
            # Boards with the same strings (one firmware, one product name):
            # info() tells them apart once connected.
            found.append((p.device, f"{' or '.join(names)} board, {usbmatch.describe(p)}"))
    return found


def candidates() -> list[tuple[str, str]]:
    """(port, what it is) for every unit this host can see."""
    found = match_usb(list_ports.comports(), usb_matches())
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
