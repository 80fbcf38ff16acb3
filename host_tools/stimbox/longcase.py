"""The long case: hours of a spine operation's monitoring on a simulated
unit, as a benchmark (bench/bench_long_case.py, 4 hours) and as a test
(tests/test_long_case_sim.py, a shorter schedule). One implementation, any
length.

- free-run EMG on `freerun_channels`, started once and streaming throughout,
  across every run and across the host kill;
- median and tibial SSEP every `ssep_every_s`, TcMEP every `tcmep_every_s`
  cycling through `tcmep_amplitudes` distinct amplitudes (recorded), a
  pedicle-screw tEMG threshold search every `temg_every_s`;
- one host kill in the middle: the connection closes abruptly during a run,
  without a stop or a disarm; the unit's heartbeat watchdog ends the run; a
  new StimBox connects and the case carries on;
- virtual time between runs as stimbox.casedriver moves it: with free-run
  streaming, the unit's clock is left to run, so free-run EMG covers every
  second of the case and its speed bounds the case's.

After every run the host reads the journal from the last record it stored
(records by sequence number) and acknowledges what it stored, and samples
info()["heap_used"] and info()["heap_largest"] (the largest block the heap
can give: how fragmented it is). The figures (CaseReport) let a caller check: the heap
flat over the second half, sequence numbers gap-free across the whole case,
a result for every run, pulses delivered (the model's count) equal to pulses
recorded (the journal's per-pulse records), and wall time per virtual time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simunit.supervisor import SimUnit
from stimfw.link import messages as m

from stimbox import protocols
from stimbox.build import board_module
from stimbox.casedriver import CaseDriver
from stimbox.client import Push, StimBox
from stimbox.errors import DeviceError
from stimbox.session import run_protocol

BOARD = board_module("sim")

TCMEP_RECORD = {"channels": [9, 13, 15], "rate_hz": 10000, "pre_ms": 5, "post_ms": 80,
                "band": [10, 1500], "blank_us": [100, 2000], "response_ms": [15, 70],
                "split": False}


# heap_used after repeated runs of the same SSEP protocols varies: the sample
# also holds what is in flight at that moment (journal records queued for
# their slot, free-run detections not yet pushed), a few hundred bytes when
# the machine is idle and 928 B seen with both cores busy. A leak of a
# baseline or a run's set-up (~1 KB a run, what the unbounded baseline table
# leaked) over the 5 SSEP runs of a short case's second half exceeds it.
HEAP_TOLERANCE = 2048
# The least largest free block after a run the case must keep: room for the
# largest transient blocks a run asks for (a page of records, a ulab filter
# part: under 1 KB each) with margin. Measured 4.9-8 KB at an RP2040's 192k
# on the 32-bit runtime; without the collection threshold (stimfw/app.py)
# 1.1-1.9 KB, and before the lasting objects were reserved at boot or made at
# set-up the case failed at 192k.
LARGEST_MIN = 2048


@dataclass
class CaseConfig:
    duration_s: float = 4 * 3600.0
    ssep_every_s: float = 180.0
    tcmep_every_s: float = 300.0
    temg_every_s: float = 1800.0
    tcmep_amplitudes: int = 40
    ssep_sweeps: int = 100  # per side and run
    freerun_channels: int = 16
    freerun_rate_hz: int = 5000
    freerun_block_ms: float = 50.0
    kill_at: float = 0.5  # the host kill: the first SSEP run after this fraction
    kill_after_pulses: int = 20
    killed_ssep_sweeps: int = 500  # the run the host is killed in


@dataclass
class Run:
    kind: str
    at_s: float  # scheduled, virtual s from the case's start
    run: int = 0
    outcome: str = ""
    killed: bool = False
    pulses_pushed: int = 0
    heap_used: int = 0
    heap_largest: int = 0
    wall_s: float = 0.0


@dataclass
class CaseReport:
    config: CaseConfig
    runs: list[Run] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    heap: list[int] = field(default_factory=list)  # heap_used after each run
    largest: list[int] = field(default_factory=list)  # heap_largest after each run
    start_largest: int = 0  # heap_largest before the first run
    delivered: int = 0  # the model's pulse count over the case
    virtual_s: float = 0.0
    wall_s: float = 0.0
    freerun: dict[str, Any] = field(default_factory=dict)  # the stop's summary
    freerun_start: dict[str, Any] = field(default_factory=dict)
    lost: int = 0  # the unit's count of unacknowledged records overwritten
    loop_max_ms: int = 0  # the unit's longest main-loop pass (its info)

    # --- derived figures ----------------------------------------------------
    @property
    def seqs(self) -> list[int]:
        return [int(r["seq"]) for r in self.records]

    def gaps(self) -> list[tuple[int, int]]:
        """(previous, next) sequence numbers that do not follow each other."""
        s = self.seqs
        return [(a, b) for a, b in zip(s, s[1:], strict=False) if b != a + 1]

    @property
    def recorded(self) -> int:
        """Pulses in the journal's per-pulse records."""
        return sum(len(r["amp"]) for r in self.records if r["type"] == "pulses")

    def results(self) -> dict[int, dict[str, Any]]:
        """Result records by run (one longer than a journal slot comes
        joined from its parts, with "parts")."""
        return {int(r["run"]): r for r in self.records if r["type"] == "result" and "run" in r}

    def incomplete_results(self) -> list[int]:
        """Sequence numbers of result records that did not come whole (a
        part missing)."""
        return [int(r["seq"]) for r in self.records if r["type"] == "result" and "incomplete" in r]

    def long_results(self) -> list[int]:
        """Runs whose result spanned several journal slots."""
        return sorted(run for run, r in self.results().items() if "parts" in r)

    def runs_without_result(self) -> list[int]:
        res = self.results()
        return [r.run for r in self.runs if r.run not in res]

    def pulse_index_errors(self) -> list[int]:
        """Runs whose pulse records are not every index 0..n-1 once, in order."""
        idx: dict[int, list[int]] = {}
        for r in self.records:
            if r["type"] == "pulses":
                idx.setdefault(int(r["run"]), []).extend(range(r["first"], r["first"] + len(r["amp"])))
        return [run for run, k in idx.items() if k != list(range(len(k)))]

    def heap_slope(self) -> float:
        """Least-squares slope of heap_used per run over the second half."""
        h = self.heap[len(self.heap) // 2 :]
        n = len(h)
        if n < 2:
            return 0.0
        mx = (n - 1) / 2
        my = sum(h) / n
        num = sum((i - mx) * (y - my) for i, y in enumerate(h))
        den = sum((i - mx) ** 2 for i in range(n))
        return num / den

    def heap_range(self, kinds: tuple[str, ...] = ("ssep", "ssep_tibial")) -> int:
        """Spread of heap_used after the runs of `kinds` (the same protocols
        repeated) in the second half of the case."""
        h = [r.heap_used for r in self.runs[len(self.runs) // 2 :] if r.kind in kinds]
        return max(h) - min(h) if h else 0

    @property
    def speed(self) -> float:
        """Virtual seconds covered per wall second."""
        return self.virtual_s / self.wall_s if self.wall_s else 0.0

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.records if r["type"] == "event" and (kind is None or r["kind"] == kind)]

    def verdict(self, heap_tolerance: int = HEAP_TOLERANCE,
                largest_min: int = LARGEST_MIN) -> list[str]:
        """What the case must show, checked against the model and the
        journal the host stored: an empty list when all of it held, else one
        line per failure. The test of the short case and the benchmark of
        the long one judge by this."""
        bad: list[str] = []

        def need(ok: bool, what: str) -> None:
            if not ok:
                bad.append(what)

        killed = [r for r in self.runs if r.killed]
        need(len(killed) == 1 and killed[0].outcome == "heartbeat_lost",
             f"the host-killed run ends heartbeat_lost: {[(r.run, r.outcome) for r in killed]}")
        others = sorted({r.outcome for r in self.runs if not r.killed})
        need(others == ["complete"], f"every other run complete: outcomes {others}")
        need(self.seqs == list(range(1, len(self.seqs) + 1)),
             f"journal sequence numbers 1..n without a gap: gaps {self.gaps()}")
        missing = [r["seq"] for r in self.records if r["type"] == "missing"]
        need(self.lost == 0 and not missing, f"nothing overwritten: lost {self.lost}, missing {missing}")
        need(len(self.events("boot")) == 1, f"one boot: {len(self.events('boot'))}")
        need(not self.events("firmware_fault"), f"no firmware fault: {self.events('firmware_fault')}")
        need(self.runs_without_result() == [], f"a result for every run: without {self.runs_without_result()}")
        need(self.incomplete_results() == [], f"every result whole: {self.incomplete_results()}")
        if killed:
            res = self.results().get(killed[0].run, {})
            need(res.get("outcome") == "heartbeat_lost",
                 f"the killed run's result says heartbeat_lost: {res.get('outcome')}")
        need(self.delivered == self.recorded > 0,
             f"pulses delivered (model) == recorded (journal): {self.delivered} / {self.recorded}")
        need(self.pulse_index_errors() == [], f"every run's pulses 0..n-1 once: {self.pulse_index_errors()}")
        need(self.virtual_s >= self.config.duration_s,
             f"the whole case covered: {self.virtual_s:.0f} of {self.config.duration_s:.0f} s")
        fr = self.freerun
        need(fr.get("since_start_s", 0) - 2 <= fr.get("covered_s", -1) <= fr.get("since_start_s", 0),
             f"free-run covered the case: {fr.get('covered_s')} of {fr.get('since_start_s')} s")
        need(self.heap_range() <= heap_tolerance,
             f"heap flat over the repeated SSEP runs of the second half: range {self.heap_range()} B "
             f"> {heap_tolerance} B")
        need(min(self.largest, default=0) >= largest_min,
             f"largest free block never under {largest_min} B: least {min(self.largest, default=0)} B")
        return bad

    def summary(self) -> str:
        kinds: dict[str, int] = {}
        for r in self.runs:
            kinds[r.kind] = kinds.get(r.kind, 0) + 1
        killed = [r for r in self.runs if r.killed]
        h2 = self.heap[len(self.heap) // 2 :]
        lines = [
            f"virtual {self.virtual_s / 3600:.2f} h in {self.wall_s:.1f} s wall: {self.speed:.0f}x",
            f"runs {len(self.runs)} ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}); "
            f"outcomes {sorted({r.outcome for r in self.runs})}",
            f"host kill during run {killed[0].run} ({killed[0].kind}): outcome {killed[0].outcome}"
            if killed else "no host kill",
            f"heap_used after run 1 / mid / last: {self.heap[0]} / {h2[0] if h2 else '-'} / "
            f"{self.heap[-1] if self.heap else '-'} B; second-half slope {self.heap_slope():+.1f} B/run, "
            f"range {max(h2) - min(h2) if h2 else 0} B (SSEP runs alone: {self.heap_range()} B)",
            f"largest free block: {self.start_largest} B at the start, after the runs "
            f"{min(self.largest) if self.largest else '-'} B at least, "
            f"{self.largest[-1] if self.largest else '-'} B after the last",
            f"records {len(self.records)} (seq {self.seqs[0] if self.records else '-'}.."
            f"{self.seqs[-1] if self.records else '-'}), gaps {self.gaps()}, lost {self.lost}",
            f"runs without a result: {self.runs_without_result()}; results incomplete: "
            f"{self.incomplete_results()}; results spanning slots (runs): {self.long_results()}",
            f"pulses delivered {self.delivered}, recorded {self.recorded}",
            f"longest main-loop pass: {self.loop_max_ms} ms",
            f"free-run: {self.freerun.get('blocks')} blocks of {self.freerun_start.get('block_ms')} ms "
            f"on {len(self.freerun.get('channels', []))} channels: {self.freerun.get('covered_s', 0):.0f} s "
            f"of the {self.freerun.get('since_start_s', 0):.0f} s since it started",
        ]
        return "\n".join(lines)


def schedule(cfg: CaseConfig) -> list[Run]:
    """Every run of the case in order of its scheduled virtual time; at
    equal times tEMG first, then TcMEP, then the SSEPs."""
    order = {"temg": 0, "tcmep": 1, "ssep": 2, "ssep_tibial": 3}
    runs: list[Run] = []
    for kind, every in (("ssep", cfg.ssep_every_s), ("ssep_tibial", cfg.ssep_every_s),
                        ("tcmep", cfg.tcmep_every_s), ("temg", cfg.temg_every_s)):
        t = 0.0
        while t < cfg.duration_s:
            runs.append(Run(kind, t))
            t += every
    runs.sort(key=lambda r: (r.at_s, order[r.kind]))
    return runs


def protocol(cfg: CaseConfig, kind: str, k: int) -> dict[str, Any]:
    """The wire-form protocol of the case's run of `kind`; k counts that
    kind's runs (TcMEP amplitude k mod tcmep_amplitudes)."""
    p = protocols.load(kind, BOARD)
    if kind.startswith("ssep"):
        p["count"] = cfg.ssep_sweeps
    elif kind == "tcmep":
        p.update(amp_mv=150000 + 2000 * (k % cfg.tcmep_amplitudes), record=dict(TCMEP_RECORD))
    return p


class LongCase:
    """Runs the case on a started SimUnit with the firmware installed."""

    def __init__(self, unit: SimUnit, cfg: CaseConfig,
                 say: Callable[[str], None] | None = None) -> None:
        self.unit = unit
        self.cfg = cfg
        self.say = say or (lambda s: None)
        self.report = CaseReport(cfg)
        self.drive: CaseDriver | None = None

    def collect(self) -> None:
        """Store every record after the last stored one, then acknowledge."""
        assert self.drive is not None
        self.report.records.extend(self.drive.collect())
        self.report.lost = self.drive.lost

    def run(self) -> CaseReport:
        cfg = self.cfg
        rep = self.report
        runs = schedule(cfg)
        kill_index = next((i for i, r in enumerate(runs)
                           if r.kind.startswith("ssep") and r.at_s >= cfg.kill_at * cfg.duration_s), None)
        model = self.unit.model
        drive = self.drive = CaseDriver(self.unit, StimBox.connect(self.unit.port))
        try:
            self.collect()
            rep.start_largest = int(drive.box.info()["heap_largest"])
            delivered0 = model.pulse_count
            drive.restart_clock()
            w0 = time.monotonic()
            if cfg.freerun_channels:
                rep.freerun_start = drive.start_freerun(list(range(cfg.freerun_channels)),
                                                        rate_hz=cfg.freerun_rate_hz,
                                                        block_ms=cfg.freerun_block_ms)
            count: dict[str, int] = {}
            for i, r in enumerate(runs):
                drive.wait_until(r.at_s)
                k = count.get(r.kind, 0)
                count[r.kind] = k + 1
                w = time.monotonic()
                p = protocol(cfg, r.kind, k)
                if i == kill_index:
                    drive.box = self.kill_and_reconnect(drive.box, r, p)
                else:
                    res = run_protocol(drive.box, p)
                    r.run, r.outcome, r.pulses_pushed = res.run, res.outcome, len(res.pulses)
                drive.take_pushes()
                self.collect()
                info = drive.box.info()
                r.heap_used = int(info["heap_used"])
                r.heap_largest = int(info["heap_largest"])
                rep.loop_max_ms = int(info["loop_max_ms"])
                rep.heap.append(r.heap_used)
                rep.largest.append(r.heap_largest)
                r.wall_s = time.monotonic() - w
                rep.runs.append(r)
                self.say(f"{drive.now_s() / 60:7.1f} min  run {r.run:3d} {r.kind:<11} {r.outcome:<14} "
                         f"heap {r.heap_used} B, largest free {r.heap_largest} B  {r.wall_s:.2f} s")
            drive.wait_until(cfg.duration_s)
            if cfg.freerun_channels:
                rep.freerun = drive.stop_freerun()
            rep.virtual_s = drive.now_s()
            rep.wall_s = time.monotonic() - w0
            self.collect()
            rep.delivered = model.pulse_count - delivered0
            return rep
        finally:
            drive.box.close()

    def kill_and_reconnect(self, box: StimBox, r: Run, p: dict[str, Any]) -> StimBox:
        """Start the run, and once `kill_after_pulses` pulses were pushed,
        close the connection as a killed host leaves it: no stop, no
        disarm. Then connect a new StimBox, wait until the unit has ended the
        run (heartbeat loss) and carry on with it."""
        r.killed = True
        # Long enough to outlast the second the heartbeat watchdog takes
        # at the clock's speed: the unit, not the end of the run, ends it.
        p = dict(p, count=max(int(p.get("count", 0)), self.cfg.killed_ssep_sweeps))
        h = box.check_protocol(p)["hash"]
        box.arm(h)
        r.run = box.start()
        seen = [0]

        def count(q: Push) -> None:
            # Every push, including those that arrive while heartbeat()
            # waits for its reply: poll() returns only what came during
            # its own read, and a count of those alone could miss every
            # pulse record and kill the host after the run had ended.
            if q.mtype == m.PUSH_PULSE and q.data.get("run") == r.run:
                seen[0] += len(q.data["amp"])
            if previous is not None:
                previous(q)

        previous = box.on_push
        box.on_push = count
        give_up = time.monotonic() + 60
        while seen[0] < self.cfg.kill_after_pulses and time.monotonic() < give_up:
            box.poll(0.02)
            box.heartbeat()
        box.on_push = previous
        r.pulses_pushed = seen[0]
        box.transport.close()  # the host process dies: its port closes
        self.say(f"host killed during run {r.run} after {seen[0]} pulses")
        new = StimBox.connect(self.unit.port)
        assert self.drive is not None
        self.drive.box = new  # closed at the case's end, even if the wait below fails
        give_up = time.monotonic() + 30
        while True:
            try:
                res = new.result(r.run)
            except DeviceError:
                res = {}
            if res.get("outcome") not in (None, "running") and new.status().get("session") is None:
                break
            if time.monotonic() > give_up:
                raise TimeoutError(f"run {r.run} did not end after the host was killed")
            new.poll(0.1)
        r.outcome = str(res["outcome"])
        return new
