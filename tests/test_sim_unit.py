"""The simulated unit behaves as a board on a USB port: a stable port path,
reboots on every kind of exit, its own flash and heap, several at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mpy import executable
from simunit import romflash
from simunit.supervisor import SimUnit
from stimbox.build import install_offline
from stimbox.client import StimBox
from stimbox.deploy import mpremote

STIMBOX = str(Path(sys.executable).with_name("stimbox"))


def wait_for(cond, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def test_port_path_survives_every_kind_of_reboot(sim_unit: SimUnit) -> None:
    port = sim_unit.port
    with StimBox.connect(port) as box:
        boots = sim_unit.boots
        box.reboot()  # the firmware's own reboot request (machine.soft_reset in main.py)
        assert sim_unit.boots == boots + 1
    # machine.soft_reset() typed at the REPL, through mpremote.
    mpremote(port, "exec", "import machine\nmachine.soft_reset()", timeout=20)
    wait_for(lambda: sim_unit.boots == boots + 2)
    # A crash of the MicroPython process is a (hard) reboot too.
    os.kill(sim_unit._proc.pid, signal.SIGKILL)
    wait_for(lambda: sim_unit.boots == boots + 3)
    assert sim_unit.port == port and os.path.exists(port)
    with StimBox.connect(port) as box:
        assert box.info()["board"] == "sim"


def test_ctrl_d_in_raw_repl_comes_back_in_raw_repl_as_a_board_does(sim_unit: SimUnit) -> None:
    # Plain `mpremote ls` (no resume) soft-resets in the raw REPL and then
    # expects the raw REPL back, without main.py running.
    r = subprocess.run(
        [str(Path(sys.executable).with_name("mpremote")), "connect", sim_unit.port, "ls"],
        capture_output=True, text=True, timeout=30,
    )
    assert r.returncode == 0, r.stderr
    assert "main.py" in r.stdout and "fw/" in r.stdout


def test_units_have_their_own_flash_heap_and_port(firmware_image, new_unit, tmp_path: Path) -> None:
    a = new_unit(heap="288k")
    b = new_unit(flash=tmp_path / "flash-b", heap="384k")
    install_offline(firmware_image, a.flash)
    install_offline(firmware_image, b.flash)
    with a, b:
        assert a.port != b.port and a.name != b.name
        with StimBox.connect(a.port) as ba, StimBox.connect(b.port) as bb:
            ia, ib = ba.info(), bb.info()
        total_a = romflash.board_total(ia["heap_free"], ia["heap_used"], a.rom())
        total_b = romflash.board_total(ib["heap_free"], ib["heap_used"], b.rom())
        assert 280_000 < total_a <= 288 * 1024
        assert 380_000 < total_b <= 384 * 1024
        assert b.flash == tmp_path / "flash-b" and (b.flash / "fw" / "active").exists()


def test_a_named_unit_cannot_run_twice() -> None:
    from simunit import SimError

    with SimUnit(name="bench1"):
        with pytest.raises(SimError, match="already running"):
            SimUnit(name="bench1")


# Names are the host's business, the same on every runtime: the PyPI port only.
@pytest.mark.parametrize("runtime", ["unix"])
def test_units_asked_for_by_prefix_never_collide(new_unit, firmware_image) -> None:
    # Two demos or test runs on one machine: each asks for a prefix, not a
    # name, and gets its own name, folder, flash, console and model socket.
    a, b = new_unit(prefix="demo"), new_unit(prefix="demo")
    for unit in (a, b):
        install_offline(firmware_image, unit.flash)
    with a, b:
        assert (a.name, b.name) == ("demo0", "demo1")
        assert len({a.slot.dir, b.slot.dir}) == len({a.flash, b.flash}) == 2
        assert a.port != b.port and a.model_server.path != b.model_server.path
        for unit in (a, b):
            with StimBox.connect(unit.port) as box:
                assert box.info()["build"] == firmware_image.build


def test_unit_output_is_dropped_while_no_host_holds_the_port(sim_unit: SimUnit) -> None:
    # As a USB CDC port without a host: the boot push went nowhere, and a host
    # that opens the port later starts from a clean line.
    time.sleep(0.5)
    assert sim_unit.relay.dropped_to_host > 0
    with StimBox.connect(sim_unit.port) as box:
        assert box.ping()["t_ms"] >= 0
        assert box.link_counters()["garbage_bytes"] == 0


def test_cli_sim_prints_the_port_first_and_alone_and_stops_on_sigterm(tmp_path: Path, runtime: str) -> None:
    env = dict(os.environ, STIMBOX_SIM_HOME=str(tmp_path))
    proc = subprocess.Popen(
        [STIMBOX, "sim", "--print-port", "--heap", "400k", "--micropython", executable(runtime)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        port = proc.stdout.readline().strip()
        assert port.startswith("/dev/pts/")
        out = subprocess.run(
            [str(Path(sys.executable).with_name("mpremote")), "connect", port, "resume", "exec", "print(1)"],
            capture_output=True, text=True, timeout=20,
        )
        assert out.stdout.strip() == "1"
        with StimBox.connect(port) as box:  # takes the firmware back after mpremote
            info = box.info()
        (report,) = tmp_path.glob("*/rom.json")
        total = romflash.board_total(info["heap_free"], info["heap_used"], romflash.read_report(report))
        assert info["build_ok"] and total <= 400 * 1024
    finally:
        proc.send_signal(signal.SIGTERM)
        # Not communicate(): with a timeout it reads the pipe's fd and would
        # miss what readline() has already buffered.
        proc.wait(timeout=10)
        rest, err = proc.stdout.read(), proc.stderr.read()
    assert proc.returncode == 0, err
    assert rest == ""  # --print-port prints the port and nothing else
    # The unit is gone from the registry, so `--port auto` no longer finds it.
    assert not list(tmp_path.glob("*/unit.json"))
