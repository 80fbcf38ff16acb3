"""One MicroPython port's stubs in a folder of their own.

The port stub packages (micropython-rp2-rpi-pico2-stubs,
micropython-stm32-pybv11-stubs) install their modules at the top of
site-packages, so the two ports' machine.pyi, time.pyi, ... overwrite each
other there, and whichever pip installed last wins. A test that reads a
port's stubs reads them from folder(package) instead: the package and the
MicroPython stdlib stubs, at the versions installed here (the test extra),
installed with pip --target once per environment. Without the package, or
without a package index on the first use, the test skips and says why.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from test_packaging import NO_INDEX

STDLIB = "micropython-stdlib-stubs"


def folder(package: str) -> Path:
    """The folder holding package's stubs and the MicroPython stdlib stubs
    (stdlib/VERSIONS: a typeshed for mypy)."""
    try:
        pins = [f"{package}=={metadata.version(package)}", f"{STDLIB}=={metadata.version(STDLIB)}"]
    except metadata.PackageNotFoundError as e:
        pytest.skip(f"{e.name} is not installed: pip install -e '.[test]'")
    where = Path(sys.prefix) / "stimbox-port-stubs" / "-".join(p.replace("==", "-") for p in pins)
    if not (where / "stdlib" / "VERSIONS").exists():
        partial = where.with_name(where.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--no-deps",
                            "--target", str(partial), *pins], capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            if NO_INDEX.search(r.stderr):
                pytest.skip(f"cannot install {package} from the package index: "
                            f"{r.stderr.strip().splitlines()[-1]}")
            pytest.fail(r.stderr)
        partial.rename(where)
    return where
