"""Session folders written from the simulated unit, checked against the
hardware model and the unit's own replies: a run stored live reads back
as delivered (every pulse, the result with its recording, the averages as
the unit holds them), storing again and pulling add nothing twice, and a
host killed with SIGKILL mid-run leaves a folder that `stimbox pull`
completes to every delivered pulse, every seq once, without a gap; a run
the firmware's crash ends still leaves every pulse in the folder.

Runtime "unix" only: what is tested here is the host's storing; the
firmware's journal across a killed host, an interrupt and a crash is
covered on both runtimes by tests/test_faults_sim.py and
tests/test_journal_sim.py."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from simunit.supervisor import SimUnit
from stimbox import protocols
from stimbox.build import board_module
from stimbox.client import StimBox
from stimbox.errors import UnitReset
from stimbox.session import RunResult, run_protocol
from stimbox.store import Recorder, SessionFolder, load_session, pull_session
from stimbox.store.reader import Session
from stimfw.link import messages as m

BOARD = board_module("sim")

# The killed host's run: 5000 pulses, far more than are out when the host
# dies, so the unit's heartbeat watchdog (not the end of the run) ends it,
# however fast the simulated clock runs (as in tests/test_faults_sim.py).
KILLED_SWEEPS = 2500
HOST = f"""
import sys
from stimbox import protocols
from stimbox.build import board_module
from stimbox.client import StimBox
from stimbox.errors import UnitReset
from stimbox.session import RunResult, run_protocol
from stimbox.store import Recorder, SessionFolder
p = protocols.load("ssep", board_module("sim"))
p["count"] = {KILLED_SWEEPS}
with StimBox.connect(sys.argv[1]) as box:
    folder = SessionFolder.create(sys.argv[2], box.info(), box.port)
    run_protocol(box, p, recorder=Recorder(box, folder))
"""
# `stimbox pull` as the command line runs it.
PULL = """
import sys
from stimbox.cli import app
sys.exit(app.main())
"""


def ssep(count: int) -> dict[str, Any]:
    p = protocols.load("ssep", BOARD)
    p["count"] = count
    return p


def journal_lines(s: Session) -> Counter[int]:
    """How many lines of the folder carry each journal seq, the pulses'
    counted once per record."""
    n: Counter[int] = Counter()
    for lines in (s.events, s.results, s.meps, s.segments):
        n.update(int(x["seq"]) for x in lines if x.get("seq") is not None)
    n.update({int(x["seq"]) for x in s.pulses})
    return n


def pulse_keys(s: Session) -> list[tuple[int, int]]:
    return [(int(p["run"]), int(p["index"])) for p in s.pulses]


@pytest.mark.parametrize("runtime", ["unix"])  # host storing; see the module's docstring
def test_a_run_stored_live_reads_back_as_delivered_and_nothing_is_stored_twice(
        sim_unit: SimUnit, box: StimBox, tmp_path: Path) -> None:
    d = tmp_path / "case"
    folder = SessionFolder.create(d, box.info(), box.port)
    # A sync on every pass of the run's loop: the open per-pulse record
    # is read many times while it grows.
    rec = Recorder(box, folder, interval_s=0.0)
    # Free-run EMG throughout, between the runs too.
    box.on_push = rec.on_push
    box.pushes.clear()
    box.freerun_start([0, 1, 2, 3], rate_hz=5000, thr_uv=5)
    first = run_protocol(box, ssep(60), baseline=True, recorder=rec)
    second = run_protocol(box, ssep(30), recorder=rec)
    box.freerun_stop()
    rec.flush()
    emg = [q.data for q in box.pushes if q.mtype == m.PUSH_EMG]
    # The unit holds the averages of its last run: what the folder must have.
    rec2 = second.recording or {}
    direct = {(s["stream"], split, ch): np.array(box.average(s["stream"], split, ch), dtype=np.float32)
              for s in rec2["streams"] for ch in s["channels"] for split in ("ab", "a", "b")}
    folder.close()

    s = load_session(d)
    delivered = sim_unit.model.pulse_count
    assert delivered == 2 * 60 + 2 * 30  # one pulse a side a sweep
    assert len(s.pulses) == delivered
    # The journal's records (stored) and the pushes (run_protocol's) are
    # two paths from the unit: each pulse the same on both.
    pushed = [dict({"run": r.run}, **asdict(p)) for r in (first, second) for p in r.pulses]
    assert [{k: v for k, v in p.items() if k != "seq"} for p in s.pulses] == pushed
    assert pulse_keys(s) == [(1, i) for i in range(120)] + [(2, i) for i in range(60)]
    res = {r["run"]: r for r in s.results}
    assert sorted(res) == [1, 2]
    for r, run in ((first, 1), (second, 2)):
        assert res[run]["outcome"] == "complete" and res[run]["done"] == len(r.pulses)
        assert res[run]["type"] == "ssep" and res[run]["protocol_name"] == ssep(1)["name"]
        assert res[run]["recording"]["streams"] == r.summary["recording"]["streams"]
    assert s.runs["1"]["baseline"] is True and s.runs["2"]["baseline"] is False
    assert {a.baseline for a in s.averages if a.run == 1} == {True}
    got = {(a.stream, a.split, a.channel): a for a in s.averages if a.run == 2}
    assert set(got) == set(direct) and len(direct) == 18  # 2 streams x 3 channels x 3 splits
    for key, wave in direct.items():
        assert np.array_equal(got[key].load(), wave)
        assert got[key].rate_hz == 5000 and got[key].t_ms()[got[key].pre] == 0.0
    seqs = journal_lines(s)
    assert set(seqs) == set(range(1, max(seqs) + 1)) and set(seqs.values()) == {1}
    assert emg and [{k: v for k, v in x.items() if k not in ("t_s", "seq")} for x in s.emg] == emg
    assert all(x["seq"] is None for x in s.emg)
    assert [x["t_s"] for x in s.emg] == sorted(x["t_s"] for x in s.emg)

    # The last run was stored after its disarm: the "disarmed" event is
    # the last record. Everything the unit still holds, again, then a pull:
    # nothing twice.
    assert s.events[-1]["kind"] == "disarmed" and s.events[-1]["seq"] == max(seqs)
    with SessionFolder.open(d) as f:
        assert f.store_records(box.all_records(0)) == 0
        report = pull_session(box, f)
    assert report.stored == 0 and report.gaps == [] and report.lost == 0
    assert report.acked == report.last_seq == max(seqs)
    again = load_session(d)
    assert len(again.pulses) == delivered and again.averages == s.averages
    assert set(journal_lines(again).values()) == {1}
    assert not [e for e in again.events if e.get("reason") == "heartbeat_lost"]


@pytest.mark.parametrize("runtime", ["unix"])  # host storing; see the module's docstring
def test_stimbox_pull_completes_the_folder_of_a_host_killed_mid_run(
        sim_unit: SimUnit, tmp_path: Path) -> None:
    d = tmp_path / "case"
    host = subprocess.Popen([sys.executable, "-c", HOST, sim_unit.port, str(d)],
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    # Killed once it has stored some of the run's pulses itself.
    while not (d / "pulses.jsonl").exists() or (d / "pulses.jsonl").stat().st_size == 0:
        assert host.poll() is None, host.stderr.read() if host.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.01)
    host.send_signal(signal.SIGKILL)
    host.wait()
    stored_live = len(load_session(d).pulses)
    assert stored_live > 0

    out = subprocess.run([sys.executable, "-c", PULL, "pull", "--session", str(d),
                          "--port", sim_unit.port, "--json"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    delivered = sim_unit.model.pulse_count
    assert stored_live < delivered < 2 * KILLED_SWEEPS  # the unit ended the run mid-way

    s = load_session(d)
    assert len(s.pulses) == delivered
    assert pulse_keys(s) == [(1, i) for i in range(delivered)]  # every pulse once, in order
    seqs = journal_lines(s)
    assert sorted(seqs) == list(range(1, max(seqs) + 1)) and set(seqs.values()) == {1}
    assert report["gaps"] == [] and report["lost"] == 0
    assert (report["first_seq"], report["last_seq"], report["acked"]) == (1, max(seqs), max(seqs))
    (result,) = s.results
    assert result["run"] == 1 and result["outcome"] == "heartbeat_lost" and result["done"] == delivered
    assert result["type"] == "ssep" and "recording" in result
    assert {a.run for a in s.averages} == {1} and len(s.averages) == 18

    # The same through pull_session: complete already, nothing new.
    with StimBox.connect(sim_unit.port) as box, SessionFolder.open(d) as f:
        again = pull_session(box, f)
    assert again.stored == 0 and again.gaps == [] and again.last_seq == max(seqs)

    # Without --session: a new folder with all the unit still holds,
    # acknowledged or not; the same records.
    here = tmp_path / "elsewhere"
    here.mkdir()
    out = subprocess.run([sys.executable, "-c", PULL, "pull", "--port", sim_unit.port],
                         capture_output=True, text=True, timeout=60, cwd=here)
    assert out.returncode == 0, out.stderr
    (new,) = here.glob("stimbox-session-*")
    assert out.stdout.startswith(f"{new.name}: stored {max(seqs)} records, seq 1..{max(seqs)}, gaps none")
    fresh = load_session(new)
    assert fresh.pulses == s.pulses and fresh.events == s.events
    assert [r["seq"] for r in fresh.results] == [result["seq"]]


@pytest.mark.parametrize("runtime", ["unix"])  # host storing; see the module's docstring
def test_a_run_the_firmware_crash_ends_keeps_every_delivered_pulse_in_the_folder(
        sim_unit: SimUnit, box: StimBox, tmp_path: Path) -> None:
    crashed: list[bool] = []

    def during(b: StimBox, r: RunResult) -> None:
        if len(r.pulses) >= 40 and not crashed:
            crashed.append(True)
            sim_unit.crash()

    d = tmp_path / "case"
    with SessionFolder.create(d, box.info(), box.port) as folder:
        with pytest.raises(UnitReset):
            run_protocol(box, ssep(300), during=during, recorder=Recorder(box, folder))
    s = load_session(d)
    delivered = sim_unit.model.pulse_count
    # What the killed firmware read back and journalled, and what its next
    # boot journalled from the output stage's count (unverified, zeros):
    # stored on the way out of run_protocol, no pull needed.
    assert 40 <= delivered < 2 * 300
    assert pulse_keys(s) == [(1, i) for i in range(delivered)]
    unverified = [p for p in s.pulses if "unverified" in p["flags"]]
    assert all(p["amp"] == 0 and p["charge_nc"] == 0 for p in unverified)
    (result,) = s.results
    assert result["outcome"] == "crash" and result["done"] == delivered
    assert result["unverified"] == len(unverified)
    seqs = journal_lines(s)
    assert sorted(seqs) == list(range(1, max(seqs) + 1)) and set(seqs.values()) == {1}
