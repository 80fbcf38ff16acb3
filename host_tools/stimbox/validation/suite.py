"""run_validation: the whole suite on one connected unit, group by group."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stimbox import discovery
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


def _unit_name(port: str) -> str | None:
    for p, what in discovery.candidates():
        if p == port:
            return what
    return None


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
    result = summary.build(ctx, started, time.monotonic() - t0, _unit_name(box.port))
    if out_dir is not None:
        msgs = summary.write(result, Path(out_dir))
        if notes is not None:
            notes.extend(msgs)
    return result
