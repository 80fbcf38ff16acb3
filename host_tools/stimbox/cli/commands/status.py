"""stimbox status: the unit's state, who holds its session, the run's progress."""

from __future__ import annotations

import argparse
from typing import Any

from stimbox.cli import output

NAME = "status"


def add(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="show the unit's state, session owner and run progress",
                       description="Show the unit's safety state (IDLE, ARMED, STIMULATING, FAULT), "
                       "the interlock and e-stop, whether a host holds its session (and how long "
                       "since it was last heard), and the current or last run's progress.")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from stimbox.client import StimBox

    with StimBox.connect(args.port) as box:
        st = box.status()
    if args.json:
        output.emit_json(st)
        return 0
    for line in lines(st):
        print(line)
    return 0


def lines(st: dict[str, Any]) -> list[str]:
    if st.get("session") is None:
        owner = "none (free: any host may arm it)"
    else:
        age = st.get("session_age_ms")
        owner = (f"session {st['session']} held by a host"
                 + (f", last heard {age / 1000:.1f} s ago" if isinstance(age, int | float) else ""))
    rows = [
        ("state", st.get("state")),
        ("session", owner),
        ("armed", st.get("armed") or "-"),
        ("interlock", "closed" if st.get("interlock") else "OPEN"),
        ("e-stop", "PRESSED" if st.get("estop") else "released"),
        ("run", run_text(st.get("run"))),
    ]
    return [f"{k:>9}  {v}" for k, v in rows]


def run_text(run: dict[str, Any] | None) -> str:
    if not run:
        return "none since boot"
    return (f"run {run.get('run')}: {run.get('outcome')}, {run.get('done')}/{run.get('total')} pulses, "
            f"{(run.get('charge_nc') or 0) / 1000:.1f} uC delivered")
