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
    # What each step fired is what went out, from the start current up.
    amps = s["trace"][::2]  # amplitude, responding muscles, per pulse
    assert [p.amp for p in r.pulses] == amps and amps[0] == 500
    assert s["found"]
    # The muscle of the screw's root that responds first: at or just above
    # the nerve's 10 % recruitment current, which is about the 50 uV level.
    assert screw["threshold_mA"] * 1000 <= s["threshold"] <= screw["threshold_mA"] * 1150
    breached = s["threshold"] < 8000
    alarms = [a for a in r.alarms if a["alarm"] == "temg_threshold"]
    assert bool(alarms) == breached == screw["breached"]
    if alarms:
        assert min(a["value_ma"] for a in alarms) == s["threshold"] / 1000
        assert all(a["limit_ma"] == 8.0 for a in alarms)
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
    h = box.check_protocol(p)["hash"]
    box.arm(h)
    with pytest.raises(DeviceError, match="record table"):
        box.start()
    box.disarm()
