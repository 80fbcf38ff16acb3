"""A board's USB identification (board.py USB_MATCH) and how a serial port
is matched against it.

Every MicroPython board of a port enumerates with the same VID:PID
(2e8a:0005 on rp2, f055:9800 on pyboard-class stm32), so a bare id would
claim any MicroPython board on the desk as a StimBox. A board therefore
declares the USB strings its firmware sets (boot.py / the frozen manifest),
optionally narrowed by VID and PID, or a VID:PID of its own:

    USB_MATCH = {"product": "StimBox"}
    USB_MATCH = {"product": "StimBox", "vid": 0xF055, "pid": 0x9800}
    USB_MATCH = {"vid": 0x1209, "pid": 0x5B1E}   # an id of its own

Every key given must match. A string ending in "*" matches as a prefix
(a serial number "SB-*"), any other exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

# USB_MATCH key -> pyserial ListPortInfo attribute.
STRINGS = {"product": "product", "serial": "serial_number", "manufacturer": "manufacturer"}
IDS = ("vid", "pid")
KEYS = tuple(STRINGS) + IDS

# The ids stock MicroPython firmware enumerates with: shared by every board
# of the port, so never enough on their own.
GENERIC_IDS = {
    (0x2E8A, 0x0005): "MicroPython on rp2",
    (0xF055, 0x9800): "MicroPython on pyboard-class stm32",
    (0xF055, 0x9802): "MicroPython on other TinyUSB ports",
}


class PortLike(Protocol):
    vid: int | None
    pid: int | None
    serial_number: str | None
    product: str | None
    manufacturer: str | None


def problems(match: object) -> list[str]:
    """What is wrong with a USB_MATCH declaration (nothing: [])."""
    if not isinstance(match, Mapping) or not match:
        return [f"USB_MATCH must be a non-empty dict of {', '.join(KEYS)}, not {match!r}"]
    out = []
    unknown = sorted(str(k) for k in match if k not in KEYS)
    if unknown:
        out.append(f"USB_MATCH has unknown key(s) {unknown}; known: {', '.join(KEYS)}")
    for k in STRINGS:
        v = match.get(k)
        if k in match and not (isinstance(v, str) and v.strip("*")):
            out.append(f"USB_MATCH[{k!r}] must be a non-empty string, not {v!r}")
    for k in IDS:
        v = match.get(k)
        if k in match and not (isinstance(v, int) and 0 <= v <= 0xFFFF):
            out.append(f"USB_MATCH[{k!r}] must be a 16-bit int, not {v!r}")
    if out:
        return out
    if not any(k in match for k in STRINGS):
        if not all(k in match for k in IDS):
            out.append("USB_MATCH without a USB string needs both vid and pid")
        elif (match["vid"], match["pid"]) in GENERIC_IDS:
            vid, pid = match["vid"], match["pid"]
            out.append(
                f"USB_MATCH {vid:04x}:{pid:04x} alone claims every board running "
                f"{GENERIC_IDS[(vid, pid)]}: add the product or serial string the firmware sets"
            )
    return out


def matches(match: Mapping[str, object], port: PortLike) -> bool:
    """Whether a serial port is a unit of the board that declares match."""
    if port.vid is None:  # not a USB port
        return False
    for key, want in match.items():
        if key in STRINGS:
            have = getattr(port, STRINGS[key])
            if not isinstance(have, str) or not isinstance(want, str):
                return False
            if not (have.startswith(want[:-1]) if want.endswith("*") else have == want):
                return False
        elif getattr(port, key) != want:
            return False
    return True


def describe(port: PortLike) -> str:
    """The port's USB identity, as a user would compare it with lsusb."""
    text = f"USB {port.vid or 0:04x}:{port.pid or 0:04x}"
    for key in ("product", "serial"):
        value = getattr(port, STRINGS[key])
        if value:
            text += f" {key} {value!r}"
    return text
