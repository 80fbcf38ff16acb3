"""`stimbox run`, `status` and `stop` against a simulated unit: what they
print against the model's ground truth, the session folder `run --out`
writes, global options on either side of the command, and Ctrl-C.

One runtime: the CLI is host code, and the firmware's behaviour on both
runtimes is what the other *_sim tests are for."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from simunit.supervisor import SimUnit
from stimbox import protocols
from stimbox.build import Image, install_offline
from stimbox.cli import exitcodes
from stimbox.client import StimBox
from stimbox.store import load_session

STIMBOX = str(Path(sys.executable).with_name("stimbox"))
ONE_RUNTIME = pytest.mark.parametrize("runtime", ["unix"], indirect=True)


def stimbox(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([STIMBOX, *args], capture_output=True, text=True, timeout=120, env=dict(os.environ))


def ssep_file(tmp_path: Path, count: int) -> Path:
    f = tmp_path / f"ssep{count}.toml"
    f.write_text((protocols.PROTOCOLS_DIR / "ssep.toml").read_text().replace("count = 200", f"count = {count}", 1))
    return f


@ONE_RUNTIME
def test_run_prints_the_components_and_stores_the_session(sim_unit: SimUnit, tmp_path: Path) -> None:
    out = tmp_path / "case"
    r = stimbox("run", str(ssep_file(tmp_path, 100)), "--baseline", "--out", str(out), "--port", sim_unit.port)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""  # not a terminal: no progress lines
    lines = r.stdout.splitlines()
    assert lines[0].startswith("run 1: complete, 200/200 pulses")
    truth = sim_unit.model.ground_truth()["ssep"]
    for stream, side in (("l_median", "median_L"), ("r_median", "median_R")):
        (counts,) = [ln for ln in lines if ln.startswith(f"  {stream}: ")]
        assert counts.startswith(f"  {stream}: 100 sweeps, 0 rejected, A 50 / B 50, SNR ch ")
        (comp,) = [ln for ln in lines if ln.lstrip().startswith(f"{stream}: N20/P25")]
        latency = float(comp.split("latency ")[1].split(" ms")[0])
        assert latency == pytest.approx(truth[side]["N20"]["latency_ms"], abs=1.0), comp
    assert lines[-1] == f"stored in session folder {out}"

    s = load_session(out)
    assert s.runs["1"]["baseline"] is True
    assert len([p for p in s.pulses if p["run"] == 1]) == 200 == sim_unit.model.fired
    (result,) = [x for x in s.results if x["run"] == 1]
    assert result["outcome"] == "complete"
    stored = {(a.stream, a.channel) for a in s.averages if a.run == 1 and a.split == "ab"}
    assert stored == {("l_median", c) for c in (1, 3, 4)} | {("r_median", c) for c in (0, 3, 5)}
    assert all(a.baseline for a in s.averages)


@ONE_RUNTIME
def test_global_options_go_before_or_after_the_command(sim_unit: SimUnit) -> None:
    before = stimbox("--port", sim_unit.port, "--json", "status")
    after = stimbox("status", "--json", "--port", sim_unit.port)
    assert before.returncode == after.returncode == 0, before.stderr + after.stderr
    a, b = json.loads(before.stdout), json.loads(after.stdout)
    assert a == b and a["state"] == "IDLE" and a["session"] is None and a["run"] is None
    human = stimbox("status", "--port", sim_unit.port).stdout
    assert "state  IDLE" in human and "run  none since boot" in human
    stop = stimbox("stop", "--port", sim_unit.port, "--json")
    assert stop.returncode == 0 and json.loads(stop.stdout)["stopped"] is False
    assert stimbox("stop", "--port", sim_unit.port).stdout.startswith("nothing was stimulating (unit IDLE)")


@ONE_RUNTIME
def test_ctrl_c_stops_stimulation_stores_and_exits_130(sim_unit: SimUnit, tmp_path: Path) -> None:
    out = tmp_path / "case"
    model = sim_unit.model
    proc = subprocess.Popen([STIMBOX, "run", str(ssep_file(tmp_path, 2500)), "--out", str(out),
                             "--port", sim_unit.port], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ))
    try:
        deadline = time.monotonic() + 60
        while model.fired < 20 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert model.fired >= 20, "the run never started"
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == exitcodes.INTERRUPTED, stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr and stdout == ""
    assert stderr.startswith("stimbox: interrupted: stimulation stopped, unit IDLE; run 1: ")
    assert f"stored in {out}" in stderr
    fired = model.fired
    assert fired < 5000  # stopped early
    with StimBox.connect(sim_unit.port) as box:
        st = box.status()
        assert st["state"] == "IDLE" and st["run"]["done"] == fired
        box.poll(0.3)
        assert model.fired == fired  # nothing more went out
    pulses = [p for p in load_session(out).pulses if p["run"] == 1]
    assert sorted(p["index"] for p in pulses) == list(range(fired))


@ONE_RUNTIME
def test_json_is_one_object_from_every_command(sim_unit: SimUnit, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    # In this process through the entry point (a process each costs a Python
    # start-up); deploy and validate print their report the same way, and
    # take much longer to run.
    from stimbox.cli import main

    p = ["--port", sim_unit.port, "--json"]
    objects = {}
    for args in (["info"], ["ports"], ["status"], ["stop"], ["events", "--keep"], ["plan", "tcmep"],
                 ["impedance"], ["emg", "--seconds", "0.5", "--channels", "8"],
                 ["run", str(ssep_file(tmp_path, 5))]):
        status = main([*args, *p])
        out, err = capsys.readouterr()
        assert status == 0 and err == "", (args, err)
        objects[args[0]] = json.loads(out)  # one object, nothing else
    assert objects["info"]["port"] == sim_unit.port
    assert objects["ports"]["ports"] == [{"port": sim_unit.port, "what": objects["ports"]["ports"][0]["what"]}]
    assert objects["plan"]["figures"]["pulses"] == 20
    assert objects["emg"]["summary"]["channels"] == [8]
    assert objects["run"]["outcome"] == "complete" and len(objects["run"]["pulses"]) == 10 == sim_unit.model.fired


MEP_TOML = """type = "tcmep"
name = "TcMEP C3-C4 recorded"
amp_mv = 300000
pulses = 5
isi_us = 3000
width_us = 75
anode = "C3"
cathode = "C4"
rate_hz = 1.0
count = 3

[record]
channels = [9, 11, 13, 15]
rate_hz = 10000
pre_ms = 20
post_ms = 80
band = [10, 1500]
blank_us = [100, 8000]
split = false
mep = { muscles = ["APB_R", "QUAD_R", "TA_R", "AH_R"] }
"""


@ONE_RUNTIME
def test_run_prints_meps_and_the_alarms_of_cord_ischaemia(firmware_image: Image, new_unit: Callable[..., SimUnit],
                                                         tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The model's cord ischaemia takes the right leg's MEPs by 5 minutes; the
    # hand (APB_R, above the cord) keeps its own. In this process through
    # the entry point: five runs as processes would cost five start-ups.
    from stimbox.cli import main

    f = tmp_path / "mep.toml"
    f.write_text(MEP_TOML)
    unit = new_unit(scenario="cord_ischaemia", seed=4)
    install_offline(firmware_image, unit.flash)
    with unit:
        p = ["--port", unit.port, "--show", "0"]
        assert main(["run", str(f), "--baseline", *p]) == 0
        base = capsys.readouterr().out
        assert main(["run", str(f), *p]) == 0  # the baseline is two reproducible runs
        with StimBox.connect(unit.port) as box:
            box.sim(advance_s=320)
        assert main(["run", str(f), *p]) == 0
        assert main(["run", str(f), *p]) == 0
        late = capsys.readouterr().out.split("\nrun ")[-1]
    # A trial's onset may be missed now and then; the hand's MEP, large and
    # above the cord, never is.
    trials = [ln for ln in base.splitlines() if ln.startswith("  MEP trial ")]
    assert len(trials) == 3 * 4, base
    hand = [ln for ln in base.splitlines() + late.splitlines() if ln.startswith("  MEP trial ") and " APB_R:" in ln]
    assert len(hand) == 6 and all(" uVpp, " in ln for ln in hand), hand
    lost = [ln.split()[3].rstrip(":") for ln in late.splitlines() if ln.startswith("  MEP trial ") and "absent" in ln]
    assert sorted(set(lost)) == ["AH_R", "QUAD_R", "TA_R"] and len(lost) == 3 * 3
    alarms = [ln for ln in late.splitlines() if ln.startswith("  ALARM ")]
    assert sorted(ln.split()[2] for ln in alarms) == ["AH_R", "QUAD_R", "TA_R"]
    assert all(ln.split()[1] == "mep_loss" and "lost below 20.00 uV" in ln for ln in alarms), alarms


@ONE_RUNTIME
def test_progress_display_on_a_terminal(sim_unit: SimUnit, tmp_path: Path) -> None:
    # On a terminal (a pseudo-terminal here) run shows its progress: pulses
    # done of the total and each stream's sweeps and rejects; the display is
    # cleared before the result is printed.
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([STIMBOX, "run", str(ssep_file(tmp_path, 100)), "--port", sim_unit.port],
                            stdout=slave, stderr=subprocess.PIPE, env=dict(os.environ, COLUMNS="120"))
    os.close(slave)
    screen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        screen += chunk
    os.close(master)
    assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    bars, result = screen.decode(errors="replace").split("run 1: complete, 200/200 pulses", 1)
    assert "pulses" in bars and "200/200" in bars
    assert "l_median sweeps" in bars and "100/100" in bars and "0 rejected" in bars
    assert "N20/P25" in result
