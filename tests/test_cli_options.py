"""The CLI without a unit: --version, global options on either side of the
command, usage errors in one line with exit code 2, the exit code of each
kind of error, and docs/CLI.md against the commands and codes there are."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from simunit import SimError
from stimbox.cli import app, exitcodes, main
from stimbox.errors import (
    BuildError,
    DeployError,
    DeviceError,
    LimitError,
    PortError,
    ReplyTimeout,
    UnitLost,
    UnitReset,
)
from stimbox.protocols import ProtocolFileError

ROOT = Path(__file__).resolve().parents[1]
STIMBOX = str(Path(sys.executable).with_name("stimbox"))


def test_version_is_the_installed_package_version() -> None:
    r = subprocess.run([STIMBOX, "--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout == f"stimbox {version('stimbox')}\n"


@pytest.mark.parametrize("argv", [
    ["--port", "/dev/X", "--json", "-q", "info"],
    ["info", "--port", "/dev/X", "--json", "-q"],
    ["--json", "info", "-q", "--port", "/dev/X"],
])
def test_global_options_either_side(argv: list[str]) -> None:
    args = app.parse(argv)
    assert (args.command, args.port, args.json, args.quiet, args.verbose) == ("info", "/dev/X", True, True, 0)


def test_global_defaults_and_verbosity() -> None:
    args = app.parse(["status"])
    assert (args.port, args.json, args.quiet, args.verbose) == ("auto", False, False, 0)
    assert app.parse(["-vv", "status"]).verbose == 2


@pytest.mark.parametrize("argv,text", [
    (["info", "--bogus"], "unrecognized arguments: --bogus (see 'stimbox info --help')"),
    (["emg", "--seconds", "soon"], "argument --seconds: invalid float value: 'soon' (see 'stimbox emg --help')"),
    (["nosuch"], "argument COMMAND: invalid choice: 'nosuch'"),
    ([], "the following arguments are required: COMMAND"),
    (["run", "ssepp"], "no protocol 'ssepp': give a TOML file or an example: dwave, pulses, scs, ssep, "
                       "ssep_tibial, tcmep, temg"),
    (["impedance", "--pair", "CP4"], "--pair 'CP4': write ACTIVE:REFERENCE"),
])
def test_usage_errors_are_one_line_and_exit_2(argv: list[str], text: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    # impedance checks its pairs before it looks for a unit: none is needed here.
    assert main([*argv, "--port", "/dev/ttyNOPE9"] if argv else argv) == exitcodes.USAGE
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("stimbox: ") and err.count("\n") == 1 and text in err, err


def test_a_bad_protocol_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "p.toml"
    f.write_text("type = 'ssep'\ncount = [\n")
    assert main(["plan", str(f), "--port", "/dev/ttyNOPE9"]) == exitcodes.USAGE
    assert capsys.readouterr().err.startswith(f"stimbox: {f}: not valid TOML")


@pytest.mark.parametrize("error,code", [
    (PortError("p: no such port"), exitcodes.NO_UNIT),
    (ReplyTimeout("no reply"), exitcodes.NO_UNIT),
    (UnitReset("rebooted"), exitcodes.NO_UNIT),
    (UnitLost("gone"), exitcodes.NO_UNIT),
    (TimeoutError("run did not finish"), exitcodes.NO_UNIT),
    (LimitError(5, "limit", "too much", {"limit": "amp_ua"}), exitcodes.LIMIT),
    (DeviceError(7, "not_owner", "another host holds the session"), exitcodes.REFUSED),
    (exitcodes.RunFault("run 1 ended by a fault"), exitcodes.RUN_FAULT),
    (exitcodes.CheckFailed("validation FAIL"), exitcodes.CHECK_FAILED),
    (ProtocolFileError("p.toml", "amp_ua", "not a number"), exitcodes.USAGE),
    (exitcodes.UsageError("bad"), exitcodes.USAGE),
    (exitcodes.Interrupted("interrupted"), exitcodes.INTERRUPTED),
    (KeyboardInterrupt(), exitcodes.INTERRUPTED),
    (BuildError("no hal.py"), exitcodes.HOST_ERROR),
    (DeployError("mpremote failed"), exitcodes.HOST_ERROR),
    (SimError("no free simulated unit name"), exitcodes.HOST_ERROR),
    (ValueError("a bug"), exitcodes.HOST_ERROR),
])
def test_each_kind_of_error_has_its_exit_code(error: BaseException, code: int) -> None:
    assert exitcodes.code_for(error) == code


def test_an_unexpected_error_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    # A command with a bug: the person gets one line naming it, the exit code
    # for a host error, and the traceback only with -v.
    def broken(args: object) -> int:
        return {}["missing"]  # type: ignore[no-any-return]

    monkeypatch.setattr(app.ports, "run", broken)  # add() sets the module's run as the command
    assert main(["ports"]) == exitcodes.HOST_ERROR
    err = capsys.readouterr().err
    assert err == "stimbox: internal error: KeyError: 'missing' (-v shows the traceback)\n"
    assert main(["-v", "ports"]) == exitcodes.HOST_ERROR
    err = capsys.readouterr().err
    assert "Traceback" in err and err.rstrip().endswith("(-v shows the traceback)")


def test_the_docs_list_every_command_and_exit_code() -> None:
    doc = (ROOT / "docs" / "CLI.md").read_text()
    for mod in app.COMMANDS:
        assert f"### stimbox {mod.NAME}" in doc, mod.NAME
    table = {int(c): text for c, text in re.findall(r"^\| (\d+) \| (.+?) \|$", doc, re.M)}
    assert sorted(table) == sorted(code for code, _ in exitcodes.TABLE)
