"""The demo's opening session alone, on a running unit with an empty flash:
deploy the firmware the way a bench engineer flashes a board (mpremote,
verified build hash), plan a TcMEP train, then run a median SSEP with the
averages measured on the unit and the delivered charge read back per
pulse. bench/bench_memory.py runs it to find the smallest heap the
firmware needs for it; the whole case is stimbox.demo.case."""

from __future__ import annotations

from collections.abc import Callable

from simunit.supervisor import SimUnit

from stimbox import protocols
from stimbox.build import board_module
from stimbox.client import StimBox
from stimbox.demo.steps import deploy_and_verify, ssep_lines
from stimbox.session import run_protocol


def session(unit: SimUnit, say: Callable[[str], None] = print) -> int:
    """Deploy, plan, SSEP run: 0 on success."""
    board = board_module("sim")
    deploy_and_verify(unit.port, unit.runtime.mpy_arch, lambda s: say("  " + s))
    with StimBox.connect(unit.port) as box:
        plan = box.plan(protocols.load("tcmep", board))
        fig = plan["figures"]
        say(f"plan: {plan['name']}: {fig.get('pulses')} pulses over "
            f"{fig.get('duration_us', 0) / 1e6:.3f} s, compiled on the unit, nothing delivered")
        ssep = protocols.load("ssep", board)
        r = run_protocol(box, ssep)
        charges = sorted({p.charge_nc for p in r.pulses})
        say(f"run {r.run}: {r.outcome}, {r.summary['done']} pulses, delivered charge per pulse "
            f"{charges[0] / 1000:.2f}..{charges[-1] / 1000:.2f} uC (read back)")
        for line in ssep_lines(r):
            say("  " + line)
        streams = (r.recording or {}).get("streams", [])
        if r.outcome != "complete" or len(streams) != len(ssep["sites"]):
            return 1
    return 0
