"""The MicroPython runtime a simulated unit runs on: probed on the host, chosen
with `stimbox sim --micropython`, reported by the unit's info(), and the
firmware image compiled for its .mpy architecture."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from mpy import MICROPYTHON, executable
from simunit import romflash
from simunit.supervisor import DEFAULT_HEAP, DEFAULT_HEAP_32, SimUnit
from stimbox import runtime as rt
from stimbox.build import board_arch, board_module, boards, build_image
from stimbox.errors import MicroPythonError

STIMBOX = str(Path(sys.executable).with_name("stimbox"))

# What each runtime is (tests/mpy.py): the PyPI Unix port, and the board-like
# 32-bit build with ulab.
EXPECTED = {
    "unix": {"mpy_arch": "x64", "bits": 64, "float": "float64", "ticks_period": 2**62, "ulab": False},
    "mcu32": {"mpy_arch": "x86", "bits": 32, "float": "float32", "ticks_period": 2**30, "ulab": True},
}


def test_probe_tells_what_each_runtime_is(runtime: str) -> None:
    found = rt.probe(executable(runtime))
    assert {k: getattr(found, k) for k in EXPECTED[runtime]} == EXPECTED[runtime]
    assert found.mpy_version == 6 and found.path == os.path.abspath(executable(runtime))
    assert rt.probe(executable(runtime)) is found  # once per path


def test_the_default_runtime_is_the_port_beside_this_python() -> None:
    assert rt.default_executable() == MICROPYTHON
    assert rt.probe() is rt.probe(MICROPYTHON)


def test_arch_names_come_from_the_arch_bits_of_mpy() -> None:
    assert rt.arch_name(6) is None  # .mpy v6, no native code
    assert rt.arch_name(6 | 3 << 8 | 1 << 10) == "x86"
    assert rt.arch_name(6 | 3 << 8 | 2 << 10) == "x64"
    assert rt.arch_name(6 | 4 << 10) == "armv6m"
    assert rt.arch_name(6 | 7 << 10) == "armv7emsp"
    assert rt.arch_name(6 | 10 << 10) == "xtensawin"
    assert rt.arch_name(6 | 12 << 10) == "rv64imc"
    with pytest.raises(MicroPythonError, match="unknown native architecture 13"):
        rt.arch_name(13 << 10)


@pytest.mark.parametrize(
    "path, message",
    [
        ("/nonexistent/micropython", "no such MicroPython executable"),
        ("/", "not an executable file"),
        (sys.executable, "not a MicroPython executable"),
        ("/bin/true", "not a MicroPython executable"),
    ],
)
def test_a_missing_or_foreign_executable_is_a_clear_error(path: str, message: str) -> None:
    with pytest.raises(MicroPythonError, match=message):
        rt.probe(path)
    with pytest.raises(MicroPythonError, match=message):
        SimUnit(micropython=path)


def test_cli_sim_with_a_bad_micropython_is_one_line() -> None:
    r = subprocess.run([STIMBOX, "sim", "--micropython", "/nonexistent/micropython"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 7
    assert r.stderr == "stimbox: /nonexistent/micropython: no such MicroPython executable\n"


def test_the_sim_image_is_built_for_the_runtime_and_real_boards_for_their_own(tmp_path: Path) -> None:
    assert board_module("sim").MPY_ARCH is None  # not a constant: the runtime's
    assert board_arch("sim") == rt.probe().mpy_arch == "x64"
    hardware = [b for b in boards() if board_module(b).MPY_ARCH is not None]
    assert hardware and all(board_arch(b) == board_module(b).MPY_ARCH for b in hardware)
    x64 = build_image("sim", tmp_path / "x64")
    x86 = build_image("sim", tmp_path / "x86", arch="x86")
    assert (x64.arch, x86.arch) == ("x64", "x86") and x64.build != x86.build
    assert json.loads((x86.slot_dir / "manifest.json").read_text())["arch"] == "x86"


def _expected_dsp(runtime: str) -> tuple[str, str]:
    """(backend, text its reason must hold) on this runtime: real ulab with
    scipy.signal.sosfilt and float32 (the board-like runtime) runs the ulab
    backend; a build without ulab (the PyPI port) the fixed-point one."""
    if EXPECTED[runtime]["ulab"]:
        return "ulab", "scipy.signal.sosfilt in float32"
    return "fixed", "no ulab in this build"


def test_cli_sim_on_a_runtime_and_info_reports_it(runtime: str, tmp_path: Path) -> None:
    exe = executable(runtime)
    env = dict(os.environ, STIMBOX_SIM_HOME=str(tmp_path))
    # stderr to a file, and no communicate(): with a timeout it reads the pipe's
    # fd and loses what readline() has buffered.
    errors = open(tmp_path / "stderr", "w+")
    proc = subprocess.Popen([STIMBOX, "sim", "--micropython", exe], stdout=subprocess.PIPE,
                            stderr=errors, text=True, env=env)
    try:
        port = proc.stdout.readline().strip()
        assert port.startswith("/dev/pts/")
        (entry,) = [json.loads(p.read_text()) for p in tmp_path.glob("*/unit.json")]
        r = subprocess.run([STIMBOX, "info", "--json", "--port", port],
                           capture_output=True, text=True, timeout=60, env=env)
        assert r.returncode == 0, r.stderr
        info = json.loads(r.stdout)
        human = subprocess.run([STIMBOX, "info", "--port", port],
                               capture_output=True, text=True, timeout=60, env=env).stdout
        ports = subprocess.run([STIMBOX, "ports"], capture_output=True, text=True, timeout=60,
                               env=env).stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        rest = proc.stdout.read()
        errors.close()
    assert proc.returncode == 0, (tmp_path / "stderr").read_text()
    want = EXPECTED[runtime]
    assert info["runtime"] == {k: want[k] for k in ("bits", "float", "ulab", "ticks_period")}
    # The registry entry says which runtime the unit runs on, and its heap.
    heap = DEFAULT_HEAP_32 if want["bits"] == 32 else DEFAULT_HEAP
    assert entry["runtime"] == rt.probe(exe).as_dict() and entry["heap"] == heap
    (report,) = tmp_path.glob("*/rom.json")
    total = romflash.board_total(info["heap_free"], info["heap_used"], romflash.read_report(report))
    assert int(heap[:-1]) * 1000 < total <= int(heap[:-1]) * 1024
    backend, reason = _expected_dsp(runtime)
    assert info["dsp_backend"] == backend and reason in info["dsp_backend_reason"]
    bits = f"{want['bits']}-bit, {want['float']}"
    assert f"runtime {os.path.abspath(exe)}: {bits}" in rest
    ticks = "2**30" if want["ticks_period"] == 2**30 else "2**62"
    assert f"  runtime  {bits}, {'ulab' if want['ulab'] else 'no ulab'}, ticks period {ticks}\n" in human
    assert f"      dsp  {backend}" in human
    assert f"{port}  simulated unit sim0 on {Path(exe).name} ({bits})\n" in ports

