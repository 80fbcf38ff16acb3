"""The stimbox CLI: conventional help, one-line errors, port discovery."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from simunit.supervisor import SimUnit
from stimbox import discovery
from stimbox.build import install_offline
from stimbox.client import StimBox
from stimbox.errors import PortError

STIMBOX = str(Path(sys.executable).with_name("stimbox"))


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([STIMBOX, *args], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, **(env or {})))


@pytest.mark.parametrize("cmd", [[], ["sim"], ["deploy"], ["info"], ["ports"], ["validate"], ["run"],
                                 ["status"], ["stop"]])
def test_help_is_conventional(cmd: list[str]) -> None:
    r = run(*cmd, "--help")
    assert r.returncode == 0 and r.stdout.startswith("usage: stimbox")
    assert "--port" in r.stdout and "--json" in r.stdout  # the global options, on every command


def test_missing_port_is_one_line_not_a_traceback() -> None:
    r = run("info", "--port", "/dev/ttyACM99")
    assert r.returncode == 3
    assert r.stderr == "stimbox: /dev/ttyACM99: no such port (is the unit plugged in, or the simulator running?)\n"


def test_no_unit_found_with_auto() -> None:
    r = run("info")
    assert r.returncode == 3 and "no StimBox found" in r.stderr and "Traceback" not in r.stderr


def test_auto_finds_the_one_running_unit_and_info_json(sim_unit: SimUnit) -> None:
    assert discovery.resolve("auto") == sim_unit.port
    r = run("info", "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["port"] == sim_unit.port and info["board"] == "sim"
    assert run("ports").stdout.startswith(sim_unit.port)


def test_several_units_need_a_choice(sim_unit: SimUnit, firmware_image, new_unit) -> None:
    with new_unit() as other:
        install_offline(firmware_image, other.flash)
        with pytest.raises(PortError, match="several units"):
            discovery.resolve(None)
        # STIMBOX_PORT chooses.
        r = run("info", env={"STIMBOX_PORT": other.port})
        assert r.returncode == 0 and other.port in r.stdout


def test_info_human_output(sim_unit: SimUnit) -> None:
    r = run("info", "--port", sim_unit.port)
    assert r.returncode == 0
    assert "board  sim" in r.stdout and "(intact)" in r.stdout and "errors: none" in r.stdout


@pytest.mark.parametrize("args,message", [
    (["--stage", "P1:gian_error=0.1"], "output P1: unknown output stage parameter(s) ['gian_error']; known: ["),
    (["--stage", "P9:gain_error=0.1"], "no output 'P9'; outputs: TC, P1, P2, P3, P4, PR, SCS"),
    (["--stage", "P1"], "--stage 'P1': expected OUT:field=value[,field=value...]"),
    (["--amp", "3:gain_error=lots"], "--amp '3:gain_error=lots': gain_error='lots' is not a number"),
    (["--amp", "Cv5:gain_error=0.1"], "--amp 'Cv5:gain_error=0.1': 'Cv5' is not a channel number"),
    (["--amp", "30:gain_error=0.1"], "amp: channel must be 0..17, got 30"),
    (["--amp", "3:phase=1"], "unknown amplifier parameter(s) ['phase']; known: ['gain_error', 'delay_us']"),
    (["--scenario", "no_such_scenario"], "no scenario 'no_such_scenario'"),
])
def test_sim_refuses_bad_stage_and_amp_options_in_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    r = run("sim", "--print-port", "--flash", str(tmp_path / "flash"), *args,
            env={"STIMBOX_SIM_HOME": str(tmp_path)})
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("stimbox: " + message) and r.stderr.count("\n") == 1, r.stderr


def test_sim_stage_and_amp_options_miscalibrate_the_unit(tmp_path: Path, runtime: str) -> None:
    from mpy import executable

    proc = subprocess.Popen(
        [STIMBOX, "sim", "--print-port", "--micropython", executable(runtime), "--flash", str(tmp_path / "flash"),
         "--scenario", "miscalibrated_unit", "--stage", "P1:gain_error=-0.02,jitter_us=1",
         "--stage", "P3:offset=50", "--amp", "3:delay_us=100", "--amp", "7:gain_error=0.05"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, STIMBOX_SIM_HOME=str(tmp_path)),
    )
    try:
        port = proc.stdout.readline().strip()
        assert port.startswith("/dev/pts/"), proc.stderr.read()
        with StimBox.connect(port) as box:
            truth = box.sim(groundtruth=True)["groundtruth"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    stage, amp = truth["output_stage"], truth["amp"]
    assert stage["P1"]["gain_error"] == -0.02 and stage["P1"]["jitter_us"] == 1.0  # the options win
    assert stage["P3"]["offset"] == 50.0 and stage["P2"]["gain_error"] == 0.0
    # channel 3 as the option says (replacing the scenario's), the others nominal
    assert amp == {"3": {"gain_error": 0.0, "delay_us": 100.0}, "7": {"gain_error": 0.05, "delay_us": 0.0}}
