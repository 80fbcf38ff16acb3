"""Every command against a unit that is not there, a port another program
holds, and a unit that keeps rebooting: one line on stderr that names the
problem, no traceback, and the exit code docs/CLI.md gives for it.

The commands run in this process through stimbox.cli.main (the entry point
itself; a subprocess per case would cost a Python start-up each), and once
as a real `stimbox` process per case for what only a process shows."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from simunit.supervisor import SimUnit
from stimbox.cli import app, exitcodes
from stimbox.cli import main as cli_main
from stimbox.transport import SerialTransport
from stimfw.link import codec as lc
from stimfw.link import messages as m

STIMBOX = str(Path(sys.executable).with_name("stimbox"))

# Every command that talks to a unit, with the arguments it needs besides --port.
ON_A_UNIT: dict[str, list[str]] = {
    "deploy": [],
    "info": [],
    "status": [],
    "plan": ["ssep"],
    "run": ["ssep"],
    "stop": [],
    "events": [],
    "impedance": [],
    "emg": ["--seconds", "1"],
    "validate": [],
    "pull": [],
}
# Commands that open no unit: they make one (sim, demo), list ports, or
# work on a session folder.
NO_UNIT_NEEDED = {"sim", "ports", "export", "report", "demo"}

# A unit that reboots about ten times a second: its main.py sends the boot
# push, as the firmware does first thing, then soft-resets.
BOOT_LOOP = """import sys, time
sys.stdout.buffer.write({frame!r})
time.sleep(0.05)
sys.exit()
"""


def registered() -> list[str]:
    return [mod.NAME for mod in app.COMMANDS]


def test_every_command_is_driven_here() -> None:
    missing = [n for n in registered() if n not in ON_A_UNIT and n not in NO_UNIT_NEEDED]
    assert not missing, f"add {missing} to ON_A_UNIT or NO_UNIT_NEEDED"


@pytest.fixture(scope="module")
def rebooting_unit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimUnit]:
    """A simulated unit stuck rebooting (not the firmware: a boot loop; the
    unit model is what it always is). Module-scoped: one for all commands."""
    home = tmp_path_factory.mktemp("bootloop")
    flash = home / "flash"
    flash.mkdir()
    boot = json.dumps({"fw": "loop", "board": "sim", "reset": {"cause": "soft"}, "seq": 0}).encode()
    frame = bytes(lc.encode_frame(lc.KIND_PUSH, m.PUSH_BOOT, 0, boot))
    (flash / "main.py").write_text(BOOT_LOOP.format(frame=frame))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STIMBOX_SIM_HOME", str(home))
        with SimUnit(flash=flash) as unit:
            yield unit


@pytest.fixture
def busy_port(rebooting_unit: SimUnit) -> Iterator[str]:
    """A port another program holds open (exclusively, as the host does)."""
    held = SerialTransport(rebooting_unit.port)
    try:
        yield rebooting_unit.port
    finally:
        held.close()


def one_line(err: str) -> str:
    assert "Traceback" not in err
    assert err.startswith("stimbox: ") and err.count("\n") == 1, err
    return err


def cases() -> list[tuple[str, str]]:
    present = set(registered())
    return [(name, case) for name in ON_A_UNIT if name in present for case in ("missing", "busy", "rebooting")]


# What each case says (a pattern), and its exit code. A rebooting unit's boot
# push ends the request in flight; on a machine so loaded that a boot takes
# longer than a request's timeout, the request times out instead. Deploy
# cannot ask a unit that never answers which board it is, and says so (its
# own failure, not the link's).
EXPECTED = {
    "missing": ("no such port", exitcodes.NO_UNIT),
    "busy": ("port is busy", exitcodes.NO_UNIT),
    "rebooting": ("the unit rebooted while waiting for|no reply to", exitcodes.NO_UNIT),
}
DEPLOY_REBOOTING = ("runs no StimBox firmware", exitcodes.HOST_ERROR)


@pytest.mark.parametrize("name,case", cases())
def test_each_command_fails_in_one_line(name: str, case: str, request: pytest.FixtureRequest,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    if case == "missing":
        port = "/dev/ttyNOPE9"
    elif case == "busy":
        port = request.getfixturevalue("busy_port")
    else:
        port = request.getfixturevalue("rebooting_unit").port
    text, code = DEPLOY_REBOOTING if (name, case) == ("deploy", "rebooting") else EXPECTED[case]
    status = cli_main([name, *ON_A_UNIT[name], "--port", port])
    out, err = capsys.readouterr()
    assert re.search(text, one_line(err)) and status == code, (status, err)


@pytest.mark.parametrize("case", ["missing", "busy", "rebooting"])
def test_a_real_process_and_json(case: str, request: pytest.FixtureRequest) -> None:
    """The installed entry point: one line, no traceback, the exit code; with
    --json (before the command) one JSON object naming the error."""
    port = {"missing": lambda: "/dev/ttyNOPE9", "busy": lambda: request.getfixturevalue("busy_port"),
            "rebooting": lambda: request.getfixturevalue("rebooting_unit").port}[case]()
    text, code = EXPECTED[case]
    r = subprocess.run([STIMBOX, "--json", "status", "--port", port], capture_output=True, text=True,
                       timeout=60, env=dict(os.environ))
    assert r.returncode == code and re.search(text, one_line(r.stderr))
    assert json.loads(r.stdout) == {"error": r.stderr.removeprefix("stimbox: ").strip(), "exit_code": code}
