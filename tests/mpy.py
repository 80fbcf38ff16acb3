"""Running firmware code under the real MicroPython Unix port in tests."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"
BOARD_SIM = ROOT / "boards" / "sim"
MICROPYTHON = str(Path(sys.executable).with_name("micropython"))

# Near a real MCU's free heap (pyboard ~100 KB); see docs/PERFORMANCE.md.
MCU_HEAP = "96k"


def run_mp(
    code: str,
    heap: str = MCU_HEAP,
    paths: tuple[Path, ...] = (FIRMWARE, BOARD_SIM),
    timeout: float = 60,
    check: bool = True,
) -> str:
    """Run code under `micropython -X heapsize=heap` with the firmware importable.

    Returns stdout; with check, a non-zero exit (an uncaught exception) fails
    the calling test with the device's own traceback."""
    prelude = "import sys\n" + "".join(f"sys.path.insert(0, {str(p)!r})\n" for p in paths)
    src = prelude + textwrap.dedent(code)
    r = subprocess.run(
        [MICROPYTHON, "-X", f"heapsize={heap}", "-c", src],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and r.returncode != 0:
        raise AssertionError(
            f"micropython exited {r.returncode}\n--- stdout ---\n{r.stdout}\n--- stderr ---\n{r.stderr}"
        )
    return r.stdout
