"""Protocol tables are strict: a misspelt key anywhere, or a muscles list
that does not match the record channels, is refused at VALIDATE with the
key's path, on the unit as in the firmware's own code under CPython."""

from __future__ import annotations

import pytest
from stimbox import protocols
from stimbox.build import board_module
from stimbox.client import StimBox
from stimbox.errors import DeviceError, LimitError
from stimfw.core import errors as err
from stimfw.stim import protocol

BOARD = board_module("sim")


def refused(p: dict) -> err.Refused:
    with pytest.raises(err.Refused) as e:
        protocol.normalise(p, BOARD)
    return e.value


@pytest.mark.parametrize("name", ["temg", "ssep", "ssep_tibial", "scs"])
def test_a_misspelt_record_key_is_refused_with_its_path(name: str) -> None:
    p = protocols.load(name, BOARD)
    rec = p["sites"][0]["record"] if name.startswith("ssep") else p["record"]
    rec["bnad"] = [10, 1500]
    e = refused(p)
    want = "sites.0.record.bnad" if name.startswith("ssep") else "record.bnad"
    assert e.detail["key"] == want and "unknown key" in e.message and "band" in e.message


def test_a_misspelt_component_key_is_refused_with_its_path() -> None:
    p = protocols.load("ssep", BOARD)
    p["sites"][1]["record"]["components"][0]["win"] = [[15, 25], [20, 35]]
    assert refused(p).detail["key"] == "sites.1.record.components.0.win"


def test_a_misspelt_search_key_is_refused_with_its_path() -> None:
    p = protocols.load("temg", BOARD)
    p["search"]["resolutoin_ua"] = 100
    assert refused(p).detail["key"] == "search.resolutoin_ua"


@pytest.mark.parametrize("name", ["temg", "scs"])
def test_muscles_that_do_not_match_the_channels_are_refused(name: str) -> None:
    p = protocols.load(name, BOARD)
    p["muscles"] = p["muscles"][:-1]
    p.pop("roots", None)
    e = refused(p)
    assert e.detail["key"] == "muscles" and "record channels" in e.message


def test_search_options_are_range_checked() -> None:
    for key, value, rng in (("resolution_ua", 10, "50..2000"), ("votes", 1, "2..4"),
                            ("noise_k", 50, "0..20")):
        p = protocols.load("temg", BOARD)
        p["search"][key] = value
        e = refused(p)
        assert e.detail["key"] == "search." + key and str(value) in e.message and rng in e.message


def test_the_unit_refuses_them_at_validate(box: StimBox) -> None:
    p = protocols.load("temg", BOARD)
    p["record"]["bnad"] = p["record"].pop("band")
    with pytest.raises(DeviceError, match="record.bnad"):
        box.check_protocol(p)
    p = protocols.load("temg", BOARD)
    p["muscles"] = ["L_TA"]
    with pytest.raises(DeviceError, match="muscles"):
        box.check_protocol(p)
    p = protocols.load("temg", BOARD)
    p["roots"] = ["L4-L5"]
    with pytest.raises(DeviceError, match="roots"):
        box.check_protocol(p)


def test_a_set_up_larger_than_the_averaging_memory_is_refused_at_validate(box: StimBox) -> None:
    p = protocols.load("tcmep", BOARD)
    p["record"] = {"channels": list(range(16)), "rate_hz": 20000, "pre_ms": 5, "post_ms": 195,
                   "band": [10, 1500]}
    with pytest.raises(LimitError) as e:
        box.check_protocol(p)
    d = e.value.detail
    # 16 channels x 4000 samples: A and B sums at 3 bytes a sample, and the
    # sweep buffer; more than the unit's whole heap and arena.
    assert d["limit"] == "averaging_memory" and d["value"] == 2 * 3 * 4000 * 16 + 2 * 4000
    assert d["max"] < d["value"] and d["channels"] == 16 and d["samples"] == 4000
    # Nothing is left behind: a set-up that fits validates next.
    p["record"]["channels"] = [8, 9]
    p["record"]["rate_hz"] = 5000
    assert box.check_protocol(p)["hash"]
