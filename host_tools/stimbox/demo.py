"""`make demo`: the main job on a simulated unit, start to finish.

Starts a simulated unit with an empty flash, deploys the firmware to it the
way a bench engineer flashes a board (mpremote, verified build hash), shows
what the unit reports, plans a TcMEP train, then runs a median SSEP with the
averages measured on the unit and the delivered charge read back per pulse.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from simunit.supervisor import SimUnit

from stimbox import protocols
from stimbox.build import board_module
from stimbox.cli import main as cli_main
from stimbox.cli import print_plan
from stimbox.client import StimBox
from stimbox.deploy import deploy
from stimbox.session import run_protocol


def session(unit: SimUnit, say: Callable[[str], None] = print) -> int:
    """The demo's session on a running unit with an empty flash: deploy,
    info, plan, SSEP run. 0 on success. bench/bench_memory.py runs the same
    session to find the smallest heap it needs."""
    board = board_module("sim")
    report = deploy(unit.port, log=lambda s: say("  " + s))
    say(f"deployed build {report.slot} in {report.seconds:.1f} s\n")
    if cli_main(["info", "--port", unit.port]) != 0:
        return 1
    with StimBox.connect(unit.port) as box:
        say("\n== plan: TcMEP train (compiled on the unit, nothing delivered)")
        plan = box.plan(protocols.load("tcmep", board))
        plan["rows"] = plan["rows"][:6]
        print_plan(plan, board.OUTPUTS)

        say("\n== run: median SSEP, left and right interleaved at 4.7 Hz")
        ssep = protocols.load("ssep", board)
        r = run_protocol(box, ssep)
        s = r.summary
        charges = sorted({p.charge_nc for p in r.pulses})
        say(f"run {r.run}: {r.outcome}, {s['done']} pulses, delivered charge per pulse "
            f"{charges[0] / 1000:.2f}..{charges[-1] / 1000:.2f} uC (read back)")
        streams = (r.recording or {}).get("streams", [])
        for st in streams:
            c = st["components"][0]
            if c["lat_ms"] is None:
                say(f"  {st['stream']:>9}: {c['name']} absent ({c['absent']})")
                continue
            say(f"  {st['stream']:>9}: {c['name']} latency {c['lat_ms']:.1f} ms, "
                f"amplitude {c['amp_uv']:.2f} uV, {c['sweeps']} sweeps "
                f"(A {st['a'][0]} / B {st['b'][0]}), SNR {st['snr'][0]['snr']:.1f}")
        truth = unit.model.ground_truth()["ssep"]["median_L"]["N20"]
        say(f"  model's true N20 (left median): {truth['latency_ms']:.1f} ms")
        events = box.events()["events"]
        say(f"safety event log: {', '.join(e['kind'] for e in events) or 'empty'}")
        if r.outcome != "complete" or len(streams) != len(ssep["sites"]):
            return 1
    return 0


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="stimbox-demo-") as tmp:
        with SimUnit(name="demo", flash=Path(tmp) / "flash", seed=1) as unit:
            print(f"simulated unit started on {unit.port} (empty flash)")
            return session(unit)


if __name__ == "__main__":
    sys.exit(main())
