"""Running firmware code under a real MicroPython in tests.

Two runtimes:
- "unix": the MicroPython Unix port installed from PyPI (64-bit, float64, no
  ulab); always present.
- "mcu32": the Unix port built 32-bit and float32 with real ulab, standing in
  for a Cortex-M board's runtime (ticks period 2**30, 32-bit objects). It lives
  outside the project, at ../shared/tools/mcu-micropython/micropython-mcu32
  beside the checkout, or where $STIMBOX_MCU32 points; where it is absent the
  tests that need it skip and say so.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"
BOARD_SIM = ROOT / "boards" / "sim"
MICROPYTHON = str(Path(sys.executable).with_name("micropython"))
MCU32 = os.environ.get("STIMBOX_MCU32") or str(
    ROOT.parent / "shared" / "tools" / "mcu-micropython" / "micropython-mcu32"
)
HAVE_MCU32 = os.access(MCU32, os.X_OK)
NO_MCU32 = f"board-like runtime not found at {MCU32} (set STIMBOX_MCU32)"

RUNTIMES = {"unix": MICROPYTHON, "mcu32": MCU32}
# Parametrize a test over both runtimes: @pytest.mark.parametrize("runtime", BOTH)
BOTH = [
    pytest.param("unix", id="unix"),
    pytest.param("mcu32", id="mcu32", marks=pytest.mark.skipif(not HAVE_MCU32, reason=NO_MCU32)),
]

# Near a real MCU's free heap (pyboard ~100 KB); see docs/PERFORMANCE.md.
MCU_HEAP = "96k"


def executable(runtime: str) -> str:
    if runtime == "mcu32" and not HAVE_MCU32:
        pytest.skip(NO_MCU32)
    return RUNTIMES[runtime]


def runtime_for_arch(arch: str) -> str:
    """The runtime that loads .mpy native code of arch (a firmware image's)."""
    from stimbox.runtime import probe

    for name in RUNTIMES:
        if probe(executable(name)).mpy_arch == arch:
            return name
    raise LookupError(f"no runtime here runs {arch} code")


# The whole firmware loaded into RAM (modules and the parts App() builds),
# as device scripts load it from an image's .mpy files. The simulated unit
# runs it from its ROMFS partition instead, in a board's smaller heap
# (docs/SIMULATOR.md, Heap): loaded into RAM it takes 195 KB at boot on
# micropython-mcu32, more than an RP2040's 192 KB.
# On the 64-bit port the per-trial TcMEP measurement and threshold tracking
# added 3.4 KB to the firmware in RAM, and a device script's 19.5 KB JSON
# text (tests/device/books.py) then found no block at 320k + 64k: 352k.
RAM_FIRMWARE_HEAP = {"unix": "352k", "mcu32": "256k"}


def ram_firmware_heap(runtime: str) -> str:
    """A heap that holds the whole firmware loaded into RAM on that runtime."""
    executable(runtime)
    return RAM_FIRMWARE_HEAP[runtime]


def run_mp(
    code: str,
    heap: str = MCU_HEAP,
    paths: tuple[Path, ...] = (FIRMWARE, BOARD_SIM),
    timeout: float = 60,
    check: bool = True,
    runtime: str = "unix",
) -> str:
    """Run code under `micropython -X heapsize=heap` with the firmware importable.

    Returns stdout; with check, a non-zero exit (an uncaught exception) fails
    the calling test with the device's own traceback."""
    prelude = "import sys\n" + "".join(f"sys.path.insert(0, {str(p)!r})\n" for p in paths)
    src = prelude + textwrap.dedent(code)
    r = subprocess.run(
        [executable(runtime), "-X", f"heapsize={heap}", "-c", src],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and r.returncode != 0:
        raise AssertionError(
            f"micropython ({runtime}) exited {r.returncode}\n--- stdout ---\n{r.stdout}\n"
            f"--- stderr ---\n{r.stderr}"
        )
    return r.stdout


def run_mp_file(
    script: str | Path,
    *args: object,
    data: object = None,
    heap: str = MCU_HEAP,
    paths: tuple[Path, ...] = (FIRMWARE, BOARD_SIM),
    runtime: str = "unix",
    timeout: float = 60,
    check: bool = True,
    stdin: int | None = None,
) -> str:
    """Run a device script (a .py file; a relative path is taken under
    tests/) as `micropython -X heapsize=heap script args...`, args as strings.

    The script's own folder comes first on its sys.path, then paths (as in
    run_mp, a later one shadows an earlier one), through MICROPYPATH. data,
    when not None, goes to the script as JSON in a file named by
    $STIMBOX_DEVICE_DATA (tests/device/devargs.py reads it). stdin: a file
    descriptor for the script's stdin (default: inherited). Returns stdout;
    with check, a non-zero exit fails the calling test with the device's
    own traceback."""
    import json
    import tempfile

    path = Path(script)
    if not path.is_absolute():
        path = Path(__file__).resolve().parent / path
    env = dict(os.environ)
    env["MICROPYPATH"] = os.pathsep.join([str(p) for p in reversed(paths)] + [".frozen"])
    env.pop("STIMBOX_DEVICE_DATA", None)
    tmp = None
    if data is not None:
        fd, tmp = tempfile.mkstemp(suffix=".json", prefix="stimbox-device-")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
        env["STIMBOX_DEVICE_DATA"] = tmp
    # A folder of its own as the working directory: what the firmware writes
    # to its flash (the journal) goes there and is gone afterwards.
    cwd = tempfile.TemporaryDirectory(prefix="stimbox-device-cwd-")
    try:
        r = subprocess.run(
            [executable(runtime), "-X", f"heapsize={heap}", str(path), *map(str, args)],
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=cwd.name,
        )
    finally:
        cwd.cleanup()
        if tmp is not None:
            os.unlink(tmp)
    if check and r.returncode != 0:
        raise AssertionError(
            f"micropython ({runtime}) {path.name} exited {r.returncode}\n--- stdout ---\n"
            f"{r.stdout}\n--- stderr ---\n{r.stderr}"
        )
    return r.stdout
