"""run_validation: the whole suite on one connected unit, group by group."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stimbox.build import board_module
from stimbox.client import StimBox
from stimbox.errors import DeviceError, StimBoxError
from stimbox.validation import faults, outputs, phantom, recording, summary, timing, tolerances
from stimbox.validation.checks import Check
from stimbox.validation.context import Context
from stimbox.validation.phantom import Phantom

GROUPS: dict[str, Callable[[Context], None]] = {
    "output": outputs.run,  # and biphasic
    "timing": timing.run,
    "faults": faults.run,
    "recording": recording.run,
}


def _simulated(box: StimBox) -> bool:
    try:
        box.sim()
    except DeviceError:
        return False
    return True


def _identity(port: str) -> tuple[str | None, str | None]:
    """The unit's serial and a name for it: a simulated unit's registry
    name, a USB unit's serial number and description."""
    from serial.tools import list_ports
    from simunit import registry

    for u in registry.running():
        if u.get("port") == port:
            return str(u["name"]), f"simulated unit {u['name']}"
    for p in list_ports.comports():
        if p.device == port:
            return p.serial_number, p.description
    return None, None


def run_validation(
    box: StimBox,
    phantom_file: str | Path | Phantom | None = None,
    out_dir: str | Path | None = None,
    *,
    load_ohm: float | None = None,
    tolerance_file: str | Path | None = None,
    groups: tuple[str, ...] = tuple(GROUPS),
    on_check: Callable[[Check], None] | None = None,
    notes: list[str] | None = None,
) -> dict[str, Any]:
    """Validate the unit into the phantom; returns the summary (summary.json's
    content) and, with out_dir, writes summary.json and report.html there.
    phantom_file: a phantom file, a Phantom, or None for the board's default
    bench phantom; load_ohm: one resistor on every output instead. on_check
    sees each check as it is judged; notes gets what the user should know
    (a report not written)."""
    started = summary.now()
    t0 = time.monotonic()
    unknown = set(groups) - set(GROUPS)
    if unknown:
        raise StimBoxError(f"no validation group(s) {sorted(unknown)}; groups: {', '.join(GROUPS)}")
    info = box.info()
    board = str(info["board"])
    bd = board_module(board)
    names = [o["name"] for o in getattr(bd, "OUTPUTS", ())]
    ph = (phantom_file if isinstance(phantom_file, Phantom)
          else phantom.for_unit(board, phantom_file, load_ohm, names))
    tol = tolerances.load(board, Path(tolerance_file) if tolerance_file else None)
    ctx = Context(box, bd, info, ph, tol, _simulated(box), on_check)
    try:
        if ctx.simulated:
            for name in names:
                ctx.put_load(name)  # the bench phantom on every output
        for g in GROUPS:
            if g in groups:
                GROUPS[g](ctx)
    finally:
        if ctx.simulated:
            for name in names:
                box.sim(load={"output": name, "kind": "default"})
    result = summary.build(ctx, started, time.monotonic() - t0, *_identity(box.port))
    if out_dir is not None:
        msgs = summary.write(result, Path(out_dir))
        if notes is not None:
            notes.extend(msgs)
    return result
