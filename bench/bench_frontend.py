"""ADS1299 driver cost: the Python work of the DRDY handler per frame and of
read() per int16 sample, for one device (8 channels) and a daisy chain (16),
under the PyPI micropython Unix port and micropython-mcu32, with the SPI bus
and pins stubbed (device side: bench/device/frontend_cost.py). These are
this machine's figures, not a board's: a Cortex-M runs MicroPython many
times slower, and the SPI transfer (27 bytes per device) comes on top.

Run: .venv/bin/python bench/bench_frontend.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from mpy import FIRMWARE, HAVE_MCU32, MCU32, MICROPYTHON  # noqa: E402

SCRIPT = ROOT / "bench" / "device" / "frontend_cost.py"


def run(exe: str, devices: int) -> dict[str, float]:
    env = dict(os.environ, MICROPYPATH=str(FIRMWARE))
    out = subprocess.run([exe, "-X", "heapsize=256k", str(SCRIPT), str(devices)],
                         capture_output=True, text=True, check=True, env=env)
    return dict(json.loads(out.stdout))


def main() -> None:
    runtimes = {"unix": MICROPYTHON}
    if HAVE_MCU32:
        runtimes["mcu32"] = MCU32
    for name, exe in runtimes.items():
        for devices in (1, 2):
            r = run(exe, devices)
            print(f"{name:6s} {8 * devices:2d} ch: DRDY handler {r['drdy_us_per_frame']:.2f} us/frame, "
                  f"read() {r['read_us_per_sample']:.3f} us/sample")


if __name__ == "__main__":
    main()
