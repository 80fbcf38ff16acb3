"""Baselines and alarms on the simulated unit, against the model's scenarios
and their ground truth: a gradual cord ischaemia raises the tibial SSEP
alarms, labelled focal (the arms stay normal); an anaesthetic fade, seen on
every limb at once, is labelled global; a scalp electrode coming off is
technical, never a loss of response; and a stable patient raises nothing in
a simulated hour. Several seeds, both runtimes (the runtime fixture)."""

from __future__ import annotations

from typing import Any

import pytest
from simunit import scenarios
from simunit.supervisor import SimUnit
from stimbox import protocols
from stimbox.build import board_module, install_offline
from stimbox.client import StimBox
from stimbox.session import RunResult, run_protocol

BOARD = board_module("sim")
SIDES = {"l_median": "median_L", "r_median": "median_R", "l_tibial": "tibial_L", "r_tibial": "tibial_R"}
COMP = {"median": "N20", "tibial": "P37"}  # the first peak of each site's cortical component
SEEDS = {"unix": 5, "mcu32": 6}  # a seed of its own per runtime, for the longer tests


def proto(name: str, count: int, **alarms: float) -> dict[str, Any]:
    p = protocols.load(name, BOARD)
    p["count"] = count
    if alarms:
        p["alarms"] = dict(alarms)
    return p


def streams(r: RunResult) -> dict[str, dict[str, Any]]:
    return {s["stream"]: s for s in r.recording["streams"]}


def scenario_time(unit: SimUnit) -> float:
    return float(unit.model.ground_truth()["scenario"]["time_s"])


def true_factor(scenario: str, stream: str, t_s: float) -> tuple[float, float]:
    """The model's amplitude and latency factors of the stream's cortical
    response at scenario time t_s (1.0: as at the start)."""
    site = SIDES[stream]
    a, lat, _ = scenarios.load(scenario).modifiers(
        f"ssep.{site}.cortical.{COMP[site.split('_')[0]]}", t_s)
    return a, lat


def baseline(box: StimBox, p: dict[str, Any]) -> list[RunResult]:
    """Runs of p from a baseline request until its baseline is set: two
    reproducible averages, more when one is not (at most five in all)."""
    runs = [run_protocol(box, p, baseline=True)]
    assert runs[-1].outcome == "complete", runs[-1].summary
    while any(s["baseline_state"] == "pending" for s in streams(runs[-1]).values()):
        assert len(runs) < 5, [s["baseline_why"] for s in streams(runs[-1]).values()]
        s0 = next(iter(streams(runs[-1]).values()))
        assert s0["baseline_why"], s0  # pending says why
        runs.append(run_protocol(box, p))
        assert runs[-1].outcome == "complete", runs[-1].summary
    for r in runs:
        assert r.alarms == []
    return runs


def test_cord_ischaemia_raises_focal_tibial_ssep_alarms(firmware_image, new_unit, runtime: str) -> None:
    seed = SEEDS[runtime]
    with new_unit(scenario="cord_ischaemia", seed=seed) as unit:
        install_offline(firmware_image, unit.flash)
        with StimBox.connect(unit.port) as box:
            tib = proto("ssep_tibial", 400)
            med = proto("ssep", 200)  # the arms: the control
            first = baseline(box, tib)
            # The first average of a baseline says it is pending, and why.
            s = streams(first[0])["l_tibial"]
            assert s["baseline_averages"] == [1, 2] and s["baseline_why"] == "1 of 2 reproducible averages"
            baseline(box, med)
            t_base = scenario_time(unit)
            box.sim(advance_s=max(0.0, 780.0 - t_base))  # the tibial ramp is complete at 720 s
            runs = []
            # Four tibial averages after the insult. With this seed the
            # right side's truth is 30% of its baseline, yet one average
            # of 400 sweeps read 42% of it, 2 noise r.m.s. under the 50%
            # criterion: now and then the noise took it above, and with
            # three averages no two in a row were left. A fourth gives the
            # criterion the pair it needs without widening it.
            for _ in range(4):
                runs.append((run_protocol(box, tib), scenario_time(unit)))
                runs.append((run_protocol(box, med), scenario_time(unit)))
            logged = [e for e in box.events()["events"] if e["kind"] == "alarm"]
    alarms = [a for r, _ in runs for a in r.alarms]
    # The truth: both tibial cortical responses down 70% and 15% slower
    # against what they were at the baseline, the median ones unchanged.
    for stream in ("l_tibial", "r_tibial"):
        a0, l0 = true_factor("cord_ischaemia", stream, t_base)
        a1, l1 = true_factor("cord_ischaemia", stream, runs[0][1])
        assert a1 / a0 <= 0.5 and l1 / l0 >= 1.10
    for stream in ("l_median", "r_median"):
        assert true_factor("cord_ischaemia", stream, runs[-1][1]) == (1.0, 1.0)
    # No alarm on a single average: the first tibial run after the insult
    # raises nothing; a side's amplitude alarm comes with its second average
    # in a row at -50% or more (the second run, or a later one when noise
    # kept one average above the criterion).
    assert runs[0][0].alarms == []
    amp = [a for a in alarms if a["alarm"] == "ssep_amplitude"]
    assert {a["stream"] for a in amp} == {"l_tibial", "r_tibial"}, alarms
    for a in alarms:
        assert a["stream"] in ("l_tibial", "r_tibial") and a["name"] == "P37/N45"
        assert a["alarm"] in ("ssep_amplitude", "ssep_latency") and not a.get("cleared")
        # confined to the legs: focal, the two arms unchanged. Of the four
        # measurements monitored, the alarmed one moved, and at most the
        # other leg's with it: a small P37 at 30% of its size reads its
        # latency with noise, so the other side's may not yet have moved
        # half a criterion's way when the first side alarms.
        assert a["label"] == "focal" and a["spread"][1] == 4 and 1 <= a["spread"][0] <= 2, a
        assert a["averages"] == 2
    tib_runs = [r for r, _ in runs[::2]]
    for a in amp:
        assert a["change_pct"] <= -50 and a["value_uv"] <= 0.5 * a["baseline_uv"]
        k = next(i for i, r in enumerate(tib_runs) if r.run == a["run"])
        assert k >= 1
        for r in tib_runs[k - 1 : k + 1]:  # the criterion held in both averages
            s = streams(r)[a["stream"]]["components"][0]
            assert s["amp_uv"] is None or s["amp_uv"] <= 0.5 * a["baseline_uv"]
        assert streams(tib_runs[k])[a["stream"]]["components"][0]["amp_uv"] == a["value_uv"]
    # Logged in the unit's event log as well as pushed.
    assert sorted((e["stream"], e["alarm"]) for e in logged) == sorted((a["stream"], a["alarm"]) for a in alarms)


def test_an_anaesthetic_fade_is_labelled_global(firmware_image, new_unit, runtime: str) -> None:
    # The fade takes cortical SSEPs to 70% over 30 minutes: below the default
    # 50% criterion, so the protocol asks for a 15% one (about half the true
    # drop: one 400-sweep N20/P25 scatters by about 10%), as a team watching
    # for trends may; the label is what this test is about. Both arms are
    # monitored, and both fade.
    crit = {"ssep_amp_drop_pct": 15, "global_pct": 25}
    seed = SEEDS[runtime]
    with new_unit(scenario="anaesthetic_fade", seed=seed) as unit:
        install_offline(firmware_image, unit.flash)
        with StimBox.connect(unit.port) as box:
            med = proto("ssep", 400, **crit)
            baseline(box, med)
            t_base = scenario_time(unit)
            box.sim(advance_s=max(0.0, 1900.0 - t_base))  # the fade is complete at 1860 s
            runs = [run_protocol(box, med) for _ in range(4)]
            t_end = scenario_time(unit)
    for stream in ("l_median", "r_median"):
        a0, l0 = true_factor("anaesthetic_fade", stream, t_base)
        a1, l1 = true_factor("anaesthetic_fade", stream, t_end)
        assert a1 / a0 <= 0.75 and l1 / l0 < 1.05  # both down at once, latency below its criterion
    alarms = [a for r in runs for a in r.alarms]
    assert [a for a in alarms if a["alarm"] == "ssep_amplitude"], alarms
    for a in alarms:
        assert a["alarm"] == "ssep_amplitude" and not a.get("cleared")
        assert a["label"] == "global" and a["spread"] == [2, 2], a


@pytest.mark.parametrize("seed", [1, 2])
def test_a_lead_off_is_technical_not_a_loss_of_response(firmware_image, new_unit, seed: int) -> None:
    with new_unit(scenario="lead_off", seed=seed) as unit:
        install_offline(firmware_image, unit.flash)
        with StimBox.connect(unit.port) as box:
            med = proto("ssep", 200)
            baseline(box, med)
            assert scenario_time(unit) < 240  # the baseline before the electrode comes off
            box.sim(advance_s=260.0 - scenario_time(unit))
            runs = [run_protocol(box, med) for _ in range(4)]
            truth = unit.model.ground_truth()
    assert truth["electrodes_ohm"]["CP4"] >= 1e5  # off, in the model
    assert true_factor("lead_off", "l_median", 300.0) == (1.0, 1.0)  # the response itself unchanged
    alarms = [a for r in runs for a in r.alarms]
    # CP4-Fz (channel 1, the left median's cortical channel) is technical once,
    # and stays so without a loss or latency alarm; the right side says nothing.
    assert [(a["alarm"], a["stream"], a["label"], a["ch"]) for a in alarms] == [
        ("technical", "l_median", "technical", 1)], alarms
    assert alarms[0]["reason"] and runs[0].alarms == alarms


@pytest.mark.parametrize("name", ["ssep", "ssep_tibial"])
def test_a_stable_patient_raises_no_alarm_in_a_simulated_hour(
    firmware_image, new_unit, runtime: str, name: str
) -> None:
    # Virtual time: the example protocol (200 sweeps a side) every 6 minutes
    # for an hour of the scenario's clock, the unit's averages as they come.
    with new_unit(scenario="stable_baseline", seed=SEEDS[runtime]) as unit:
        install_offline(firmware_image, unit.flash)
        with StimBox.connect(unit.port) as box:
            p = protocols.load(name, BOARD)
            baseline(box, p)
            checks = 0
            alarms: list[dict[str, Any]] = []
            for k in range(1, 11):
                box.sim(advance_s=max(0.0, 360.0 * k - scenario_time(unit)))
                r = run_protocol(box, p)
                assert r.outcome == "complete"
                assert all(s["baseline_state"] == "set" for s in streams(r).values())
                checks += 1
                alarms += r.alarms
            t_end = scenario_time(unit)
            logged = [e for e in box.events()["events"] if e["kind"] == "alarm"]
    assert t_end >= 3600 and checks == 10
    assert alarms == [] and logged == []
