"""The steps of the demo's case, each on the case's unit through one
CaseDriver: what it runs, what it shows, and what it found.

Every run goes through session.run_protocol with the case's Recorder, so
the session folder holds it as any run would be held (free-run EMG pushes
included: between runs the driver hands them to the same Recorder); after
each run a host line in events.jsonl ("demo_run") notes its case and
scenario time (the unit's fast clock), which say when in the case each run,
and so each alarm, came."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simunit.montage import CHANNELS

from stimbox import protocols
from stimbox.build import board_module
from stimbox.casedriver import CaseDriver
from stimbox.client import Push, StimBox
from stimbox.demo.progress import Progress
from stimbox.deploy import DeployReport, deploy
from stimbox.errors import StimBoxError
from stimbox.session import RunResult, run_protocol
from stimbox.store import Recorder, SessionFolder

BOARD = board_module("sim")

# Sweeps per side and average. The median N20 (about 4 uV) is clear in 100;
# the tibial P37 (about 2.5 uV) needs the example protocol's 200: with 100,
# its averages missed the 30% reproducibility criterion five times running
# on some patients, and the demo never got its baseline.
SSEP_SWEEPS = {"ssep": 100, "ssep_tibial": 200}
BASELINE_RUNS_MAX = 5
# TcMEP from C3 (the left hemisphere): the right hand as the control the
# cord's injury leaves alone, and three right leg muscles.
TCMEP_RECORD: dict[str, Any] = {
    "channels": [9, 11, 13, 15], "rate_hz": 10000, "pre_ms": 20, "post_ms": 80,
    "band": [10, 1500], "blank_us": [100, 8000], "split": False,
    "mep": {"muscles": ["APB_R", "QUAD_R", "TA_R", "AH_R"]}}
# tEMG per side: the muscles of the roots at risk, as the montage records them.
TEMG_SIDE = {"L": ([10, 12, 14], ["L_QUAD", "L_TA", "L_AH"]),
             "R": ([11, 13, 15], ["R_QUAD", "R_TA", "R_AH"])}
# Free-run EMG on the muscles the screws and the SCS lead stimulate.
FREERUN_CHANNELS = [12, 13]  # TA_L, TA_R
FREERUN_RATE_HZ = 5000
FREERUN_BLOCK_MS = 100.0
# Above the stimulus artefacts the SSEP runs leave on these channels (about
# 130 uV), below the responses a screw or the lead evokes.
FREERUN_THR_UV = 200
MONITOR_CYCLES_MAX = 12
HEARTBEAT_RETRIES = 2
TEMG_STOP_UA = 16000
# The monitoring checks start this long (scenario time) before the insult.
PRE_INSULT_S = 90.0


class DemoFailed(StimBoxError):
    """The case did not come out as a demo must (a step's outcome)."""


def chname(ch: int) -> str:
    return CHANNELS[ch].name


@dataclass
class Demo:
    """The case's state: its unit and driver, the session it writes, and what
    each step found."""

    drive: CaseDriver
    folder: SessionFolder
    recorder: Recorder
    show: Progress
    runs: list[dict[str, Any]] = field(default_factory=list)  # kind, run, outcome, case_s, scenario_s
    alarms: list[dict[str, Any]] = field(default_factory=list)  # with "case_s", "scenario_s"
    screws: dict[str, float | None] = field(default_factory=dict)  # screw -> threshold mA
    flagged: list[str] = field(default_factory=list)
    laterality: str = ""
    freerun_last: dict[str, Any] = field(default_factory=dict)  # the latest free-run push (its counts)

    @property
    def box(self) -> StimBox:
        return self.drive.box

    def clock(self) -> str:
        return f"case {self.drive.now_s() / 60:.1f} min"

    def run(self, kind: str, p: dict[str, Any], baseline: bool = False) -> RunResult:
        """One run, stored; alarms shown as the unit pushes them. A run the
        unit ended for a lost heartbeat is run again: the host was held up
        for a second (a machine busy with other work), nothing was wrong."""
        for attempt in range(1 + HEARTBEAT_RETRIES):
            r = self._run_once(kind, p, baseline)
            if r.outcome != "heartbeat_lost" or attempt == HEARTBEAT_RETRIES:
                break
            self.show.line(f"run {r.run} ({kind}) ended heartbeat_lost: the host was held up; again")
        if r.outcome != "complete":
            raise DemoFailed(f"run {r.run} ({kind}) ended {r.outcome}: {r.summary.get('error', '')}".strip())
        return r

    def _run_once(self, kind: str, p: dict[str, Any], baseline: bool) -> RunResult:
        start_case, start_scn = self.drive.now_s(), self.drive.scenario_s()
        shown = [0]

        def during(_: StimBox, r: RunResult) -> None:
            while shown[0] < len(r.alarms):
                a = r.alarms[shown[0]]
                shown[0] += 1
                self.alarms.append(dict(a, case_s=round(self.drive.now_s(), 1),
                                        scenario_s=round(self.drive.scenario_s(), 1)))
                self.show.alarm(f"{self.clock()}, run {a.get('run')}: {alarm_text(a)}")

        with self.show.working(f"{kind} ({self.clock()})") as update:
            r = run_protocol(self.box, p, during=during, baseline=baseline, recorder=self.recorder,
                             on_progress=lambda d: update(f"{d['done']}/{d['total']} pulses")
                             if "done" in d and "total" in d else None)
        during(self.box, r)  # those that came with the run's last pushes
        self.freerun_last = next((q.data for q in reversed(self.box.pushes) if q.name == "emg"
                                  and isinstance(q.data, dict) and "spikes" in q.data), self.freerun_last)
        self.drive.take_pushes()
        rec = {"what": kind, "run": r.run, "outcome": r.outcome, "baseline": baseline,
               "case_s": round(start_case, 2), "scenario_s": round(start_scn, 2),
               "end_case_s": round(self.drive.now_s(), 2),
               "end_scenario_s": round(self.drive.scenario_s(), 2)}
        self.runs.append(rec)
        self.folder.note("demo_run", **rec)
        return r

    def on_push(self, p: Push) -> None:
        """Pushes between runs: free-run EMG into the folder as the Recorder
        stores it during a run."""
        self.recorder.on_push(p)
        if p.name == "emg" and isinstance(p.data, dict) and "spikes" in p.data:
            self.freerun_last = p.data

    def freerun_counts(self) -> str:
        fr = self.freerun_last
        return "; ".join(f"{chname(c)} {fr['spikes'][i]} spikes, {fr['bursts'][i]} bursts, "
                         f"{fr['trains'][i]} trains" for i, c in enumerate(fr.get("channels", [])))


# --- text ------------------------------------------------------------------------
def alarm_text(a: dict[str, Any]) -> str:
    who = " ".join(str(x) for x in (a.get("modality", "?"), a.get("stream"), a.get("name")) if x)
    kind = a.get("alarm")
    if kind == "temg_threshold":
        return f"{who} threshold {a['value_ma']:.1f} mA < {a['limit_ma']:.0f} mA (root {a.get('root')})"
    if "value_ms" in a:
        what = f"latency {a['value_ms']:.1f} ms, {a['change_pct']:+.0f}% (baseline {a['baseline_ms']:.1f} ms)"
    elif "value_uv" in a:
        v = a["value_uv"]
        what = (f"amplitude {'absent' if v is None else f'{v:.1f} uV'}, {a['change_pct']:+.0f}% "
                f"(baseline {a['baseline_uv']:.1f} uV)")
    else:
        what = str(a.get("reason", ""))
    label = f" [{a['label']}]" if a.get("label") else ""
    return f"{kind}: {who}: {what}{label}" + (" cleared" if a.get("cleared") else "")


def _streams(r: RunResult) -> list[dict[str, Any]]:
    return list((r.recording or {}).get("streams", []))


def ssep_lines(r: RunResult) -> list[str]:
    out = []
    for st in _streams(r):
        c = st["components"][0]
        if c["lat_ms"] is None:
            out.append(f"{st['stream']:>9}: {c['name']} absent")
            continue
        out.append(f"{st['stream']:>9}: {c['name']} {c['lat_ms']:.1f} ms, {c['amp_uv']:.2f} uV, "
                   f"SNR {st['snr'][0]['snr']:.1f}, baseline {st.get('baseline_state')}")
    return out


def mep_line(r: RunResult) -> str:
    meps = _streams(r)[0].get("mep", []) if _streams(r) else []
    return "MEP " + ", ".join(f"{m['name']} {m['pp_uv']:.0f} uV" if m.get("pp_uv") is not None
                              else f"{m['name']} absent" for m in meps)


# --- the steps ---------------------------------------------------------------------
def deploy_and_verify(port: str, arch: str | None, say: Callable[[str], None]) -> tuple[DeployReport, dict[str, Any]]:
    """Step 1: the firmware onto the empty flash with mpremote; the unit must
    report the build hash the host computed."""
    report = deploy(port, board="sim", arch=arch, log=say)
    with StimBox.connect(port) as box:
        info = box.info()
    if info["build"] != report.build or not info["build_ok"]:
        raise DemoFailed(f"the unit runs build {info['build']} (intact: {info['build_ok']}), "
                         f"not the deployed {report.build}")
    say(f"deployed build {report.slot} with mpremote in {report.seconds:.1f} s; the unit runs "
        f"build {str(info['build'])[:16]} (verified), firmware {info['fw']}")
    return report, info


def impedance(d: Demo) -> dict[str, Any]:
    """Step 2: every recording electrode against the default limits."""
    r = d.box.impedance()
    d.folder.note("impedance", **r)
    worst = max(r["electrodes"], key=lambda e: e["kohm"])
    bad = [e["electrode"] for e in r["electrodes"] if not e["pass"]]
    d.show.line(f"{len(r['electrodes'])} electrodes, highest {worst['electrode']} {worst['kohm']:.1f} kOhm "
                f"(limit {worst['max']} kOhm): {'all PASS' if r['pass'] else 'FAIL ' + ', '.join(bad)}")
    if not r["pass"]:
        raise DemoFailed(f"impedance check failed on {', '.join(bad)}")
    return r


def start_freerun(d: Demo) -> None:
    """Step 4 begins: free-run EMG streams under every run to the case's end."""
    d.drive.on_push = d.on_push
    st = d.drive.start_freerun(FREERUN_CHANNELS, FREERUN_RATE_HZ, FREERUN_BLOCK_MS, thr_uv=FREERUN_THR_UV)
    d.folder.note("freerun_start", **{k: v for k, v in st.items() if k != "sos"})
    d.show.line(f"free-run EMG on {', '.join(chname(c) for c in FREERUN_CHANNELS)} at "
                f"{FREERUN_RATE_HZ} Hz, {FREERUN_BLOCK_MS:.0f} ms blocks, detection at {FREERUN_THR_UV} uV: "
                "streaming throughout")


def ssep(name: str) -> dict[str, Any]:
    p = protocols.load(name, BOARD)
    p["count"] = SSEP_SWEEPS[name]
    return p


def tcmep() -> dict[str, Any]:
    p = protocols.load("tcmep", BOARD)
    p.update(count=3, rate_hz=1.0, anode="C3", cathode="C4", record=dict(TCMEP_RECORD))
    return p


def baselines(d: Demo) -> None:
    """Step 3: median and tibial SSEP and TcMEP baselines: from a baseline
    request, averages until the unit has two reproducible ones."""
    for kind, p in (("median SSEP", ssep("ssep")), ("tibial SSEP", ssep("ssep_tibial")),
                    ("TcMEP", tcmep())):
        r = d.run(kind, p, baseline=True)
        n = 1
        while any(st.get("baseline_state") == "pending" for st in _streams(r)):
            if n >= BASELINE_RUNS_MAX:
                why = [st.get("baseline_why") for st in _streams(r)]
                raise DemoFailed(f"{kind}: no baseline after {n} averages: {why}")
            r = d.run(kind, p)
            n += 1
        d.show.line(f"{kind} baseline set after {n} averages (run {r.run}, {d.clock()}):")
        for line in (ssep_lines(r) if kind.endswith("SSEP") else [mep_line(r)]):
            d.show.line("  " + line)


def temg_protocol(screw: str, side: str) -> dict[str, Any]:
    p = protocols.load("temg", BOARD)
    p["name"] = f"Pedicle screw {screw}"
    # Intact lumbar screws answer well above 8 mA; a search to 16 mA finds
    # them without ramping on to 20 mA where none of the muscles responds.
    p["search"]["stop_ua"] = TEMG_STOP_UA
    p["record"]["channels"], p["muscles"] = TEMG_SIDE[side]
    return p


def temg(d: Demo, screws: dict[str, dict[str, Any]]) -> None:
    """Step 5: a threshold search on every screw as the probe touches it; a
    screw's threshold is its lowest muscle's."""
    for screw in sorted(screws):
        d.box.sim(probe=screw)  # the surgeon puts the probe on the screw
        p = temg_protocol(screw, str(screws[screw]["side"]))
        r = d.run("tEMG", p)
        s = r.summary["search"]
        found = [(t, m) for t, m in zip(s["thresholds"], p["muscles"], strict=True) if t is not None]
        low = min(found) if found else None
        d.screws[screw] = None if low is None else low[0] / 1000
        flagged = any(a["alarm"] == "temg_threshold" for a in r.alarms)
        if flagged:
            d.flagged.append(screw)
        where = f"{low[0] / 1000:.1f} mA ({low[1][2:]})" if low else f"none up to {TEMG_STOP_UA / 1000:.0f} mA"
        d.show.line(f"{screw}: threshold {where}" + ("  < 8 mA: breach likely" if flagged else "  intact"))
    d.box.sim(probe=None)
    found = sorted((t, sc) for sc, t in d.screws.items() if t is not None)
    lowest = f"{found[0][1]} at {found[0][0]:.1f} mA" if found else f"none up to {TEMG_STOP_UA / 1000:.0f} mA"
    d.show.line(f"lowest threshold: {lowest}; flagged: {', '.join(d.flagged) or 'none'}")


def scs(d: Demo) -> None:
    """Step 6: the SCS lead walk, cathode/anode pairs ramped to motor
    threshold with both legs recorded: which side the lead lies on."""
    p = protocols.load("scs", BOARD)
    r = d.run("SCS", p)
    walk = r.summary["search"]
    d.laterality = str(walk["laterality"])
    for pair in walk["pairs"]:
        th = ", ".join(f"{m} {'-' if t is None else f'{t / 1000:.2f}'}"
                       for m, t in zip(p["muscles"], pair["thresholds"], strict=True))
        d.show.line(f"{pair['pair']:>7}: motor threshold (mA) {th}: {pair['laterality']}")
    d.show.line(f"lead laterality: {d.laterality}")


def monitor(d: Demo, insult_s: float) -> None:
    """Step 7: TcMEP and tibial SSEP back to back (the median SSEP, the
    arms' control, every other cycle) until MEP and SSEP alarms have
    both come. The checks begin a cycle before the insult (scenario time
    insult_s), after a quiet wait if the steps before ended early: the case
    shows monitoring that raises nothing, then the alarms."""
    lead = insult_s - PRE_INSULT_S - d.drive.scenario_s()
    if lead > 0:
        d.show.line(f"waiting {lead / 60:.1f} min of the case (free-run EMG goes on)")
        with d.show.working("waiting"):
            d.drive.wait_until(d.drive.now_s() + lead)
    mep_p, tib_p, med_p = tcmep(), ssep("ssep_tibial"), ssep("ssep")
    for k in range(MONITOR_CYCLES_MAX):
        r = d.run("TcMEP", mep_p)
        d.show.line(f"{d.clock()}  run {r.run} TcMEP: {mep_line(r)}")
        r = d.run("tibial SSEP", tib_p)
        d.show.line(f"{d.clock()}  run {r.run} tibial SSEP: " + "; ".join(x.strip() for x in ssep_lines(r)))
        if k % 2:
            r = d.run("median SSEP", med_p)
            d.show.line(f"{d.clock()}  run {r.run} median SSEP: " + "; ".join(x.strip() for x in ssep_lines(r)))
        kinds = {a.get("modality") for a in d.alarms if not a.get("cleared")}
        if {"MEP", "SSEP"} <= kinds:
            return
    raise DemoFailed(f"no MEP and SSEP alarms after {MONITOR_CYCLES_MAX} monitoring cycles")
