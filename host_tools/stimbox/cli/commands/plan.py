"""stimbox plan: a protocol's compiled timeline, nothing delivered."""

from __future__ import annotations

import argparse
from typing import Any

from stimbox.cli import output, protofile

NAME = "plan"


def add(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME,
        help="show a protocol's compiled timeline without stimulating",
        description="Send a protocol to the unit, which validates and compiles it: prints its "
        "exact pulse edges (us from the run's start) and its charge and energy figures.",
    )
    p.add_argument("protocol", help="protocol TOML file, or an example name (tcmep, ssep, ...)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from stimbox.build import board_module
    from stimbox.client import StimBox

    proto = protofile.load(args.protocol)
    with StimBox.connect(args.port) as box:
        board = protofile.check_for(box, proto, args.protocol)
        plan = box.plan(proto)
    if args.json:
        output.emit_json(plan)
    else:
        print_plan(plan, board_module(board).OUTPUTS)
    return 0


def _electrodes(names: tuple[str, ...], mask: int) -> str:
    return "+".join(n for i, n in enumerate(names) if mask >> i & 1) or "-"


def print_plan(plan: dict[str, Any], outputs: tuple[dict[str, Any], ...]) -> None:
    """The compiled timeline as edges: every phase's start and end, in us
    from the run's start, with the output, its electrodes and amplitude."""
    print(f"{plan['name']} ({plan['type']}): protocol hash {plan['hash'][:16]}, "
          f"limits profile {plan['limits']}")
    fig = plan["figures"]
    print(f"  {fig.get('pulses')} pulses over {fig.get('duration_us', 0) / 1e6:.3f} s, "
          f"average current {fig.get('avg_current_ua')} uA")
    for st in fig.get("streams", []):
        print(f"  {st.get('label')} on {st.get('output')}: charge/phase {st.get('charge_uc')} uC, "
              f"density {st.get('density_uc_cm2')} uC/cm2 (Shannon k {st.get('shannon_k')}), "
              f"energy {st.get('energy_mj')} mJ/pulse")
    print(f"{'pulse':>5}  {'output':<6} {'anode>cathode':<14} {'amplitude':>12}  "
          f"{'phase 1 (us)':>21}  {'phase 2 (us)':>21}")
    for k, r in enumerate(plan["rows"]):
        o = outputs[r["output"]]
        unit = "mV" if o["kind"] == "CV" else "uA"
        t0 = r["t_us"]
        t1 = t0 + r["w1_us"]
        ph2 = "-"
        if r["w2_us"]:
            t2 = t1 + r["gap_us"]
            ph2 = f"{t2}..{t2 + r['w2_us']} at {r['amp2']}"
        route = _electrodes(o["electrodes"], r["anodes"]) + ">" + _electrodes(o["electrodes"], r["cathodes"])
        print(f"{k:>5}  {o['name']:<6} {route:<14} {r['amp']:>9} {unit}  {f'{t0}..{t1}':>21}  {ph2:>21}")
    total = fig.get("pulses", len(plan["rows"]))
    if total > len(plan["rows"]):
        print(f"  ... the first {len(plan['rows'])} of {total} pulses")
