"""stimbox stop: end stimulation now. Any host may: stopping never needs
the session's token."""

from __future__ import annotations

import argparse

from stimbox.cli import output
from stimbox.cli.commands.status import run_text

NAME = "stop"


def add(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="stop stimulation now (no session needed)",
                       description="Stop whatever run the unit is delivering, whoever started it: "
                       "the unit ends output at once and stays armed for its owner. Harmless when "
                       "nothing runs.")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from stimbox.client import StimBox

    with StimBox.connect(args.port) as box:
        before = box.status()
        after = box.stop()
        after["run"] = box.status().get("run")
    was = before.get("state") == "STIMULATING"
    if args.json:
        output.emit_json({"stopped": was, "before": before["state"], "status": after})
        return 0
    if was:
        print(f"stopped: unit {after.get('state')}; {run_text(after.get('run'))}")
    else:
        print(f"nothing was stimulating (unit {before.get('state')}); {run_text(after.get('run'))}")
    return 0
