"""Alarms against the truth, for bench_truth.py (--only alarms): false alarms of a
stable patient over one simulated hour, and how many averages after the
model's true 50% crossing of an insult the alarm comes.

The true crossing comes from the scenario's modifier time course in the
model (simunit.scenarios: the factor the physiology multiplies the response
by), relative to its value over the baseline's averages; never from the
unit's measurements."""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from simunit import scenarios
from simunit.supervisor import SimUnit
from stimbox import protocols
from stimbox.build import board_module, build_image, install_offline
from stimbox.client import StimBox
from stimbox.longcase import TCMEP_RECORD
from stimbox.runtime import probe
from stimbox.session import RunResult, run_protocol

BOARD = board_module("sim")
HOUR_S = 3600.0
EVERY_S = 300.0  # both SSEP protocols and TcMEP every 5 minutes, as a monitoring team would
SIDES = {"l_tibial": "tibial_L", "r_tibial": "tibial_R"}


def _proto(name: str, count: int) -> dict[str, Any]:
    p = protocols.load(name, BOARD)
    p["count"] = count
    return p


def _t(unit: SimUnit) -> float:
    return float(unit.model.ground_truth()["scenario"]["time_s"])


def _baseline(box: StimBox, p: dict[str, Any]) -> list[RunResult]:
    runs = [run_protocol(box, p, baseline=True)]
    while any(s["baseline_state"] == "pending" for s in runs[-1].recording["streams"]):
        runs.append(run_protocol(box, p))
    return runs


def _tcmep() -> dict[str, Any]:
    """The example TcMEP train, recorded from the long case's muscles: each
    train's MEP per muscle measured on the unit (stimfw.record.mep)."""
    p = protocols.load("tcmep", BOARD)
    p["record"] = dict(TCMEP_RECORD)
    return p


def stable_hour(exe: str, image: Path, tmp: Path, seed: int) -> dict[str, int]:
    """Alarms raised (and averages or runs checked) in one simulated hour."""
    unit = SimUnit(flash=tmp / f"flash-stable-{seed}", micropython=exe, scenario="stable_baseline",
                   seed=seed)
    install_offline(image, unit.flash)
    med, tib = _proto("ssep", 200), _proto("ssep_tibial", 400)
    mep = _tcmep()
    alarms = checks = mep_alarms = mep_checks = 0
    with unit, StimBox.connect(unit.port) as box:
        _baseline(box, med)
        _baseline(box, tib)
        _baseline(box, mep)
        k = 1
        while _t(unit) < HOUR_S:
            box.sim(advance_s=max(0.0, EVERY_S * k - _t(unit)))
            k += 1
            for p in (med, tib):
                r = run_protocol(box, p)
                alarms += len([a for a in r.alarms if not a.get("cleared")])
                checks += len(r.recording["streams"])
            r = run_protocol(box, mep)
            mep_alarms += len([a for a in r.alarms if not a.get("cleared")])
            mep_checks += len(r.recording["streams"][0]["mep"])
    return {"alarms": alarms, "checks": checks, "mep_alarms": mep_alarms, "mep_checks": mep_checks}


def crossing(exe: str, image: Path, tmp: Path, seed: int) -> list[int | None]:
    """cord_ischaemia, the tibial SSEP run back to back from its baseline:
    per side, the averages that ended after the true 50% amplitude crossing
    up to the one whose check raised the amplitude alarm (None: no alarm by
    the end of the ramp and 10 minutes after)."""
    scen = scenarios.load("cord_ischaemia")
    unit = SimUnit(flash=tmp / f"flash-ischaemia-{seed}", micropython=exe, scenario="cord_ischaemia",
                   seed=seed)
    install_offline(image, unit.flash)
    tib = _proto("ssep_tibial", 400)

    def factor(stream: str, t_s: float) -> float:
        return scen.modifiers(f"ssep.{SIDES[stream]}.cortical.P37", t_s)[0]

    with unit, StimBox.connect(unit.port) as box:
        ends = []
        spans = []
        for _ in _baseline(box, tib):
            ends.append(_t(unit))
            spans.append(ends[-1] - tib["count"] / 4.7)  # the run spans its sweeps at 4.7 Hz
        base = {s: statistics.fmean(factor(s, (a + b) / 2) for a, b in zip(spans, ends, strict=True))
                for s in SIDES}
        after: dict[str, int] = dict.fromkeys(SIDES, 0)
        got: dict[str, int | None] = dict.fromkeys(SIDES)
        while any(v is None for v in got.values()) and _t(unit) < 720 + 600:
            r = run_protocol(box, tib)
            t = _t(unit)
            raised = {a["stream"] for a in r.alarms if a["alarm"] == "ssep_amplitude" and not a.get("cleared")}
            for s in SIDES:
                if got[s] is not None:
                    continue
                if factor(s, t) <= 0.5 * base[s]:
                    after[s] += 1  # this average ended past the true crossing
                if s in raised:
                    got[s] = after[s]
    return [got[s] for s in SIDES]


def rows(exe: str, seeds: list[int], parts: tuple[str, ...] = ("stable", "crossing")) -> list[str]:
    hours = []
    lags: list[int | None] = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        image = build_image("sim", tmp / "image", arch=probe(exe).mpy_arch)
        for s in seeds if "stable" in parts else ():
            hours.append(stable_hour(exe, image, tmp, s))
            print(f"  stable hour seed {s}: {hours[-1]}", file=sys.stderr, flush=True)
        for s in seeds if "crossing" in parts else ():
            lags += crossing(exe, image, tmp, s)
            print(f"  crossing seed {s}: {lags[-2:]}", file=sys.stderr, flush=True)
    fa = sum(h["alarms"] for h in hours)
    checks = sum(h["checks"] for h in hours)
    mfa = sum(h["mep_alarms"] for h in hours)
    mchecks = sum(h["mep_checks"] for h in hours)
    got = [x for x in lags if x is not None]
    lag = (f"median {statistics.median(got):g}, worst {max(got)}; "
           f"{len(lags) - len(got)} of {len(lags)} sides without an alarm") if got else "no alarm"
    out = ["| figure | goal | measured |", "|---|---|---|"]
    if hours:
        out += [
        f"| false alarms in 1 simulated hour of a stable patient, SSEP | 0 | {fa} in {len(seeds)} hours "
        f"({checks} stream checks: median and tibial every {EVERY_S / 60:g} min) |",
        f"| false alarms in 1 simulated hour of a stable patient, MEP | 0 | {mfa} in {len(seeds)} hours "
        f"({mchecks} muscle checks: TcMEP, {len(TCMEP_RECORD['channels'])} muscles, every "
        f"{EVERY_S / 60:g} min) |"]
    if lags:
        out += [
        f"| averages from the true 50% crossing of an insult to the alarm (cord_ischaemia, tibial "
        f"P37/N45, per side) | <= 3 | {lag} (per side: {lags}) |"]
    return out
