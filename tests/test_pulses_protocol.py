"""Protocol type "pulses": plain test pulses on any output, validated by the
unit against the same limits as every other type, on both runtimes."""

from __future__ import annotations

import pytest
from simunit.supervisor import SimUnit
from stimbox import protocols
from stimbox.build import board_module
from stimbox.client import StimBox
from stimbox.errors import DeviceError, LimitError
from stimbox.session import run_protocol
from stimfw.core import errors as err
from stimfw.stim import protocol

BOARD = board_module("sim")


def test_the_example_normalises_to_one_biphasic_stream() -> None:
    spec = protocol.normalise(protocols.load("pulses", BOARD), BOARD)
    (s,) = spec["streams"]
    assert spec["type"] == "pulses" and spec["search"] is None
    # 10 mA cathodic for 200 us, balanced by 10 mA for 200 us after 20 us.
    assert (s["out"], s["amp"], s["w1"], s["gap"], s["w2"], s["amp2"]) == (1, 10000, 200, 20, 200, -10000)
    assert (s["an"], s["ca"], s["n"], s["period"], s["count"]) == (1, 2, 1, 100000, 5)


def test_electrodes_default_to_the_outputs_first_two() -> None:
    spec = protocol.normalise({"type": "pulses", "out": "SCS", "amp_ua": 1000}, BOARD)
    assert (spec["streams"][0]["an"], spec["streams"][0]["ca"]) == (1, 2)


@pytest.mark.parametrize("key, value", [("track", {"start_mv": 1000}), ("search", {}), ("sites", [])])
def test_no_search_or_track(key: str, value: object) -> None:
    with pytest.raises(err.Refused) as e:
        protocol.normalise({"type": "pulses", key: value}, BOARD)
    assert e.value.detail["key"] == key and "unknown key" in e.value.message


def test_pulses_run_on_the_unit_and_deliver_what_was_set(sim_unit: SimUnit, box: StimBox) -> None:
    p = {"type": "pulses", "out": "P2", "amp_ua": 8000, "width_us": 100, "rate_hz": 20.0, "count": 4,
         "pulses": 2, "isi_us": 2000}
    r = run_protocol(box, p)
    assert r.outcome == "complete" and len(r.pulses) == 8
    truth = sim_unit.model.ground_truth()["pulses"]["recent"][-8:]
    assert all(t["output"] == "P2" and t["commanded"] == 8000 and t["w1_us"] == 100 for t in truth)
    for measured, real in zip(r.pulses, truth, strict=True):
        assert abs(measured.charge_nc / 1000 - real["charge1_uC"]) <= 0.05


def test_the_unit_refuses_pulses_over_a_limit_naming_it(box: StimBox) -> None:
    with pytest.raises(LimitError) as e:
        box.check_protocol({"type": "pulses", "out": "TC", "amp_mv": 1001000, "width_us": 100})
    d = e.value.detail
    assert d["limit"] == "amplitude" and d["value"] == 1001000 and d["max"] < 1001000
    with pytest.raises(DeviceError, match="unknown key"):
        box.check_protocol({"type": "pulses", "track": {}})
