"""The whole case on a fresh simulated unit, into one folder: `stimbox demo
--out DIR` and `make demo`.

The unit is started with an empty flash and the demo scenario
(boards/sim/simunit/scenarios/demo_case.toml), in a registry home of its
own under a temporary folder: two demos on one machine never meet, nothing
of the unit is left behind, and a user's `--port auto` never picks it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from simunit import scenarios
from simunit.supervisor import SimUnit

from stimbox import extras
from stimbox.casedriver import CaseDriver
from stimbox.client import StimBox
from stimbox.demo import steps
from stimbox.demo.progress import Progress
from stimbox.demo.summary import Outcome, summary_lines
from stimbox.errors import StimBoxError
from stimbox.store import Recorder, SessionFolder, load_session

SCENARIO = "demo_case"
STEPS = 7
SESSION_DIR = "session"
# What the demo writes into DIR; a second demo into the same DIR replaces them.
OUTPUTS = (SESSION_DIR, "case.edf", "csv", "plots", "report.html")


class DemoError(StimBoxError):
    """The demo cannot start (its output folder is unusable)."""


@contextlib.contextmanager
def _own_sim_home(tmp: Path) -> Iterator[None]:
    """The simulated units' registry home (simunit.registry) under tmp while
    the demo's unit starts; the unit keeps the folder it claimed."""
    old = os.environ.get("STIMBOX_SIM_HOME")
    os.environ["STIMBOX_SIM_HOME"] = str(tmp / "sim")
    try:
        yield
    finally:
        if old is None:
            del os.environ["STIMBOX_SIM_HOME"]
        else:
            os.environ["STIMBOX_SIM_HOME"] = old


def _clear_outputs(out: Path) -> None:
    """Make room in out for the demo's files, touching nothing else."""
    if out.exists() and not out.is_dir():
        raise DemoError(f"{out} is a file, not a folder")
    session = out / SESSION_DIR
    if session.exists() and not (session / "session.json").exists():
        raise DemoError(f"{session} exists and is not a session folder; choose another --out")
    for name in OUTPUTS:
        p = out / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()


def run_demo(out: Path, micropython: str | None = None, seed: int = 1, heap: str | None = None,
             quiet: bool = False) -> int:
    """The whole case into out (made if missing), then its summary: 0 when
    every step came out as the scenario says it must, 1 otherwise (the
    summary says which), 130 after a Ctrl-C. quiet: no progress lines, the
    summary alone."""
    outcome = demo_case(out, micropython, seed, heap, quiet)
    for line in summary_lines(outcome):
        print(line, flush=True)
    return outcome.exit_code


def demo_case(out: Path, micropython: str | None = None, seed: int = 1, heap: str | None = None,
              quiet: bool = False) -> Outcome:
    """The whole case into out, with progress lines unless quiet."""
    extras.require("report", "stimbox demo")  # before the case, not after it
    out = Path(out)
    _clear_outputs(out)
    out.mkdir(parents=True, exist_ok=True)
    show = Progress(STEPS, quiet=quiet)
    w0 = time.monotonic()
    scenario = scenarios.load(SCENARIO)
    outcome = Outcome(out=out, session=out / SESSION_DIR)
    with tempfile.TemporaryDirectory(prefix="stimbox-demo-") as tmp:
        with _own_sim_home(Path(tmp)):
            unit = SimUnit(name="demo", flash=Path(tmp) / "flash", seed=seed, scenario=SCENARIO,
                           micropython=micropython, heap=heap)
            with unit:
                show.note(f"simulated unit {unit.name!r} started on {unit.port}: empty flash, scenario "
                          f"{SCENARIO} ({Path(scenario.source).name})")
                try:
                    _case(unit, scenario, out, show, outcome)
                except steps.DemoFailed as e:  # deploying: nothing to store yet
                    outcome.failed = str(e)
    outcome.wall_s = time.monotonic() - w0
    return outcome


def _case(unit: SimUnit, scenario: scenarios.Scenario, out: Path, show: Progress,
          outcome: Outcome) -> None:
    show.step(1, "deploy and verify the firmware (mpremote, build hash)")
    _, info = steps.deploy_and_verify(unit.port, unit.runtime.mpy_arch, show.line)
    outcome.build = str(info["build"])
    box = StimBox.connect(unit.port)
    try:
        drive = CaseDriver(unit, box)
        folder = SessionFolder.create(out / SESSION_DIR, box.info(), unit.port)
        try:
            drive.restart_clock()  # the case starts with its folder
            recorder = Recorder(box, folder)
            d = steps.Demo(drive, folder, recorder, show)
            outcome.demo = d
            recorder.sync(settle=True)  # the boot and the deploy's reboots
            folder.note("demo_scenario", name=scenario.name, source=Path(scenario.source).name,
                        screws=scenario.screws, scs=scenario.scs, insults=scenario.insults())
            try:
                _steps(d, scenario)
            except steps.DemoFailed as e:
                # What the case gathered up to here is stored and exported all the same.
                outcome.failed = str(e)
            except KeyboardInterrupt:
                # run_protocol has disarmed the unit on its way out: nothing stimulates.
                outcome.failed = "interrupted (Ctrl-C)"
                outcome.interrupted = True
            if drive.freerun_channels:
                fr = drive.stop_freerun()
                recorder.flush()
                # The stop's reply: the detections not pushed yet, and the summary.
                folder.add_emg([{k: v for k, v in fr.items() if k != "sos"}])
                folder.note("freerun_stop", **{k: v for k, v in fr.items() if k not in ("events", "sos")})
                outcome.freerun = fr
            recorder.sync(settle=True)
        finally:
            folder.close()
    finally:
        box.close()
    if d.runs:
        _exports(out, show, outcome)


def _steps(d: steps.Demo, scenario: scenarios.Scenario) -> None:
    show = d.show
    show.step(2, "impedance check", d.clock())
    steps.impedance(d)
    show.step(3, "baselines: median and tibial SSEP, TcMEP", d.clock())
    show.line("free-run EMG starts first (step 4: it streams under every run to the end)")
    steps.start_freerun(d)
    steps.baselines(d)
    show.step(4, "free-run EMG throughout", d.clock())
    show.line(f"so far: {d.freerun_counts() or 'no detections'}; it goes on under the next steps")
    show.step(5, "pedicle screws: tEMG threshold per screw", d.clock())
    steps.temg(d, scenario.screws)
    show.step(6, "SCS lead placement: laterality", d.clock())
    steps.scs(d)
    show.step(7, "monitoring: TcMEP and SSEP until the cord's ischaemia raises alarms", d.clock())
    insult_s = min(e.start_s for e in scenario.effects)
    show.line(f"(the scenario's insult, {scenario.effects[0].name.split(':')[0]}, starts at "
              f"{insult_s / 60:.1f} min)")
    steps.monitor(d, insult_s)


def _exports(out: Path, show: Progress, outcome: Outcome) -> None:
    """EDF+, CSV, plots and the report from the stored session, read back
    from its folder (what `stimbox export` and `stimbox report` make of it)."""
    from stimbox.casereport import write_report
    from stimbox.display import write_plots
    from stimbox.export.csv import write_csv
    from stimbox.export.edf import write_edf

    show.section("files: the case report, EDF+, CSV and plots, from the session folder")
    session = load_session(out / SESSION_DIR)
    written = [write_report(session, out / "report.html"), write_edf(session, out / "case.edf")]
    written += write_csv(session, out / "csv")
    written += write_plots(session, out / "plots")
    show.line(f"{len(written)} files written")
    outcome.files = sorted((out / SESSION_DIR).rglob("*.*")) + written

