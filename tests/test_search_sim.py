"""Closed-loop stimulation on the simulated unit: the triggered-EMG threshold
search and the SCS lead walk step on responses the unit measures itself,
and their results agree with the model's ground truth."""

from __future__ import annotations

import pytest
from stimbox import protocols
from stimbox.build import board_module, install_offline
from stimbox.client import StimBox
from stimbox.errors import DeviceError
from stimbox.session import run_protocol

BOARD = board_module("sim")


def run_in(new_unit, scenario: str, name: str, firmware_image, **changes):
    with new_unit(scenario=scenario, seed=1) as unit:
        install_offline(firmware_image, unit.flash)
        with StimBox.connect(unit.port) as box:
            p = protocols.load(name, BOARD)
            p.update(changes)
            r = run_protocol(box, p)
            return r, unit.model.ground_truth(), box.events()["events"]


@pytest.mark.parametrize("scenario", ["screw_breach", "stable_baseline"])
def test_temg_threshold_search_finds_the_screws_threshold(firmware_image, new_unit, scenario: str) -> None:
    r, truth, events = run_in(new_unit, scenario, "temg", firmware_image)
    assert r.outcome == "complete"
    s = r.summary["search"]
    screw = truth["screws"][truth["probe_screw"]]
    # Steps of 0.5 mA from 0.5 mA: each step's current is what went out.
    amps = [a for a, _ in s["trace"]]
    assert amps == list(range(500, 500 * (len(amps) + 1), 500))
    assert [p.amp for p in r.pulses] == amps
    if screw["threshold_mA"] < 20:
        assert s["found"]
        # Found at or above the nerve's true threshold: the response needs
        # some recruitment above it to reach the 100 uV level.
        assert screw["threshold_mA"] * 1000 <= s["threshold"] <= screw["threshold_mA"] * 1500
        assert all(resp < 100 for _, resp in s["trace"][:-1]) and s["trace"][-1][1] >= 100
    breached = s["found"] and s["threshold"] < 8000
    alarms = [a for a in r.alarms if a["alarm"] == "temg_threshold"]
    assert bool(alarms) == breached == screw["breached"]
    if alarms:
        assert alarms[0]["value_ma"] == s["threshold"] / 1000 and alarms[0]["limit_ma"] == 8.0
        assert any(e["kind"] == "alarm" for e in events)


@pytest.mark.parametrize("scenario, side", [("scs_left", "left"), ("scs_midline", "bilateral"),
                                            ("scs_right", "right")])
def test_scs_walk_reports_the_lead_side(firmware_image, new_unit, scenario: str, side: str) -> None:
    r, truth, _ = run_in(new_unit, scenario, "scs", firmware_image)
    walk = r.summary["search"]
    assert walk["laterality"] == side
    offset = truth["scs"]["offset_mm"]
    assert (offset < 0, offset > 0) == (side == "left", side == "right")
    assert [p["pair"] for p in walk["pairs"]] == ["E2-E3", "E5-E6", "E9-E10", "E13-E14"]
    # Ramps never went past the search's stop, and every pulse is accounted for.
    assert max(p.amp for p in r.pulses) <= 10000
    assert sum(p["steps"] for p in walk["pairs"]) == len(r.pulses)


def test_a_search_without_a_record_table_is_refused(box: StimBox) -> None:
    p = protocols.load("temg", BOARD)
    del p["record"]
    h = box.validate(p)["hash"]
    box.arm(h)
    with pytest.raises(DeviceError, match="record table"):
        box.start()
    box.disarm()
