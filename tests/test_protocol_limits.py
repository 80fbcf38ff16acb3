"""One refusal per limit of the sim board's profile, each one step over the
limit next to a protocol one step under it, on CPython and on the device."""

from __future__ import annotations

from typing import Any

import pytest
from mpy import BOTH
from seq_common import BOARD, run_image
from stimfw.core.errors import Refused
from stimfw.link.messages import ERR_BAD_PAYLOAD, ERR_LIMIT
from stimfw.stim import limits, protocol

# 20 trains a second of 9 biphasic 50 mA pulses on a peripheral output: the
# average current limit binds before any per-pulse one.
TRAIN = {"type": "temg", "out": "P1", "anode": "P1+", "cathode": "P1-", "amp_ua": 50000,
         "shape": "bi", "pulses": 9, "isi_us": 1200, "rate_hz": 20, "count": 30}


def ssep(**site: Any) -> dict[str, Any]:
    d = {"site": "l_median", "out": "P1"}
    d.update(site)
    return {"type": "ssep", "count": 1, "sites": [d]}


# (limit, protocol over the limit, protocol one step under, value, min, max, unit)
CASES = [
    ("amplitude", ssep(amp_ua=100100), ssep(amp_ua=100000, width_us=100), 100100, 0, 100000, "uA"),
    ("amplitude", {"type": "tcmep", "amp_mv": 1001000}, {"type": "tcmep", "amp_mv": 1000000},
     1001000, 0, 1000000, "mV"),
    ("pulse_width", ssep(width_us=1001), ssep(width_us=1000, amp_ua=10000), 1001, 50, 1000, "us"),
    ("pulse_width", ssep(width_us=49), ssep(width_us=50), 49, 50, 1000, "us"),
    ("pulses_per_train", {"type": "temg", "pulses": 10, "isi_us": 5000, "rate_hz": 1},
     {"type": "temg", "pulses": 9, "isi_us": 5000, "rate_hz": 1}, 10, 1, 9, "pulses"),
    ("isi", {"type": "tcmep", "isi_us": 1000, "width_us": 500, "amp_mv": 100000, "shape": "bi",
             "gap_us": 1}, {"type": "tcmep", "isi_us": 1001, "width_us": 500, "amp_mv": 100000,
                            "shape": "bi", "gap_us": 0}, 1000, 1001, None, "us"),
    ("repetition_rate", {"type": "temg", "rate_hz": 20.001, "count": 5},
     {"type": "temg", "rate_hz": 20, "count": 5}, 20.001, 0, 20.0, "Hz"),
    ("train_length", {"type": "temg", "pulses": 9, "isi_us": 6250, "rate_hz": 20, "count": 2},
     {"type": "temg", "pulses": 9, "isi_us": 6225, "rate_hz": 20, "count": 2}, 50200, 0, 50000, "us"),
    ("charge_per_phase", ssep(amp_ua=50100, width_us=1000), ssep(amp_ua=50000, width_us=1000),
     50.1, 0, 50.0, "uC"),
    ("charge_density", {"type": "temg", "amp_ua": 30000, "width_us": 201},
     {"type": "temg", "amp_ua": 30000, "width_us": 200}, 301.5, 0, 300.0, "uC/cm2"),
    ("shannon_k", {"type": "scs", "pairs": [["E0", "E1"]], "amp_ua": 13880, "width_us": 210},
     {"type": "scs", "pairs": [["E0", "E1"]], "amp_ua": 13870, "width_us": 210}, 1.85004, None,
     1.85, ""),
    ("energy_per_pulse", {"type": "tcmep", "amp_mv": 750000, "width_us": 89, "pulses": 1},
     {"type": "tcmep", "amp_mv": 750000, "width_us": 88, "pulses": 1}, 100.125, 0, 100.0, "mJ"),
    ("biphasic_imbalance", ssep(shape="bi", amp_ua=10000, amp2_ua=10210),
     ssep(shape="bi", amp_ua=10000, amp2_ua=10200), 2.1, 0, 2.0, "%"),
    ("pulses_per_run", {"type": "ssep", "count": 1251, "rate_hz": 20,
                        "sites": [{"site": s} for s in ("l_median", "r_median", "l_tibial",
                                                        "r_tibial")]},
     {"type": "ssep", "count": 1250, "rate_hz": 20,
      "sites": [{"site": s} for s in ("l_median", "r_median", "l_tibial", "r_tibial")]},
     5004, 1, 5000, "pulses"),
    ("run_duration", {"type": "temg", "rate_hz": 0.5, "count": 901},
     {"type": "temg", "rate_hz": 0.5, "count": 900}, 1800000, 0, 1800000, "ms"),
    ("train_interval", {"type": "dwave", "rate_hz": 2.001, "count": 3},
     {"type": "dwave", "rate_hz": 2, "count": 3}, 499750, 500000, None, "us"),
    ("pulse_overlap", {"type": "ssep", "sites": [{"site": "l_median", "out": "P1"},
                                                 {"site": "r_median", "out": "P1",
                                                  "offset_us": 299}]},
     {"type": "ssep", "sites": [{"site": "l_median", "out": "P1"},
                                {"site": "r_median", "out": "P1", "offset_us": 300}]},
     1, 0, 0, "us"),
    # 56 uC per pulse: the 179th pulse inside one second is the first over 10 mA.
    ("average_current", dict(TRAIN, width_us=560), dict(TRAIN, width_us=555), 179 * 56.0, 0,
     10000, "uA"),
]
IDS = [c[0] + "-" + str(i) for i, c in enumerate(CASES)]


def check(wire: dict[str, Any]) -> dict[str, Any]:
    return limits.check(protocol.normalise(wire, BOARD), BOARD)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_limit_refuses_one_step_over_and_accepts_one_under(case: tuple) -> None:
    name, over, under, value, lo, hi, unit = case
    check(under)
    with pytest.raises(Refused) as e:
        check(over)
    assert e.value.code == ERR_LIMIT
    d = e.value.detail
    assert (d["limit"], d["min"], d["max"], d["unit"]) == (name, lo, hi, unit)
    assert d["value"] == pytest.approx(value, abs=1e-5 if name == "shannon_k" else 1e-3)
    assert name in e.value.message


def test_every_limit_of_the_profile_has_a_refusal_case() -> None:
    named = {c[0] for c in CASES}
    expected = {"amplitude", "pulse_width", "pulses_per_train", "isi", "repetition_rate",
                "train_length", "charge_per_phase", "charge_density", "shannon_k",
                "energy_per_pulse", "biphasic_imbalance", "pulses_per_run", "run_duration",
                "train_interval", "pulse_overlap", "average_current"}
    assert named == expected


@pytest.mark.parametrize("runtime", BOTH)
def test_device_refuses_the_same_way(firmware_image, runtime: str) -> None:
    # The same cases through the firmware's own modules on MicroPython.
    got = run_image(firmware_image, "protocol_refusals.py", [[c[1], c[2]] for c in CASES], runtime=runtime)
    for case, res in zip(CASES, got, strict=True):
        assert res is not None, case[0]
        code_, d = res
        assert code_ == ERR_LIMIT
        assert d["limit"] == case[0]
        assert d["value"] == pytest.approx(case[3], abs=1e-5 if case[0] == "shannon_k" else 1e-3)
        assert (d["min"], d["max"], d["unit"]) == case[4:]


@pytest.mark.parametrize(
    "wire, key",
    [
        ({"type": "tcmep", "amp_ua": 5000}, "amp_ua"),
        ({"type": "ssep"}, "sites"),
        ({"type": "tcmep", "pulses": "5"}, "pulses"),
        ({"type": "tcmep", "pulses": True}, "pulses"),
        ({"type": "tcmep", "bogus": 1}, "bogus"),
        ({"type": "tcmep", "anode": "C9"}, "anode"),
        ({"type": "tcmep", "anode": "C3", "cathode": "C3"}, "anode"),
        ({"type": "tcmep", "pulses": 10}, "pulses"),
        ({"type": "tcmep", "isi_us": 900}, "isi_us"),
        ({"type": "nope"}, "type"),
        ({"type": "ssep", "sites": [{"site": "l_median", "amp_ua": 30050}]}, "sites.0.amp_ua"),
        ({"type": "ssep", "sites": [{"site": "l_median", "gap_us": 10}]}, "sites.0.gap_us"),
        ({"type": "scs", "pairs": [["E0", "E99"]]}, "pairs.0.a"),
        ({"type": "tcmep", "name": 'a"b'}, "name"),
        ({"type": "temg", "rate_hz": 0}, "rate_hz"),
    ],
)
def test_malformed_protocols_name_the_key(wire: dict[str, Any], key: str) -> None:
    with pytest.raises(Refused) as e:
        protocol.normalise(wire, BOARD)
    assert e.value.code == ERR_BAD_PAYLOAD
    assert e.value.detail["key"] == key
