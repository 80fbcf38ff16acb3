"""`make demo`: the main job on a simulated unit, start to finish.

Starts a simulated unit with an empty flash, deploys the firmware to it the
way a bench engineer flashes a board (mpremote, verified build hash), and
shows what the unit reports.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from simunit.supervisor import SimUnit

from stimbox.cli import main as cli_main
from stimbox.deploy import deploy


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="stimbox-demo-") as tmp:
        with SimUnit(name="demo", flash=Path(tmp) / "flash") as unit:
            print(f"simulated unit started on {unit.port} (empty flash)")
            report = deploy(unit.port, log=lambda s: print("  " + s))
            print(f"deployed build {report.slot} in {report.seconds:.1f} s\n")
            return cli_main(["info", "--port", unit.port])


if __name__ == "__main__":
    sys.exit(main())
