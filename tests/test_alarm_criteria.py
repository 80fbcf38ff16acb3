"""A protocol's [alarms] table: every criterion checked against its allowed
range at VALIDATE (one step over refused naming the limit, the value and the
range; one step under accepted), unknown keys refused with their path, on
CPython and on the device; the defaults filled in, so a protocol written
with or without them is the same protocol."""

from __future__ import annotations

from typing import Any

import pytest
from mpy import BOTH
from seq_common import BOARD, run_image
from stimfw.core.errors import Refused
from stimfw.link.messages import ERR_BAD_PAYLOAD, ERR_LIMIT
from stimfw.record import alarms
from stimfw.stim import limits, protocol


def ssep(**table: Any) -> dict[str, Any]:
    return {"type": "ssep", "count": 1, "sites": [{"site": "l_median", "out": "P1"}], "alarms": table}


def _step(key: str) -> float:
    return 1 if key in alarms.COUNTS else 0.001


# (key, value over, value under, reported min, max, unit): over the top and
# under the bottom of each range.
CASES = []
for key, (lo, hi, unit) in sorted(limits.ALARM_RANGES.items()):
    st = _step(key)
    # clear_lat_pct must stay below ssep_lat_rise_pct
    fix = {"clear_lat_pct": 20, "ssep_lat_rise_pct": 20} if key == "clear_lat_pct" else (
        {"clear_lat_pct": 1} if key == "ssep_lat_rise_pct" else {})
    fix.pop(key, None)
    CASES.append((key, ssep(**{key: hi + st}, **fix), ssep(**{key: hi}, **fix), hi + st, lo, hi, unit))
    if lo - st >= 0:
        CASES.append((key, ssep(**{key: lo - st}, **fix), ssep(**{key: lo}, **fix), lo - st, lo, hi, unit))
IDS = [f"{c[0]}-{i}" for i, c in enumerate(CASES)]


def check(wire: dict[str, Any]) -> dict[str, Any]:
    return limits.check(protocol.normalise(wire, BOARD), BOARD)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_each_criterion_refused_one_step_outside_its_range(case: tuple) -> None:
    key, over, under, value, lo, hi, unit = case
    check(under)
    with pytest.raises(Refused) as e:
        check(over)
    assert e.value.code == ERR_LIMIT
    d = e.value.detail
    assert (d["limit"], d["min"], d["max"], d["unit"]) == ("alarms." + key, lo, hi, unit)
    assert d["value"] == pytest.approx(value, abs=1e-6)
    assert "alarms." + key in e.value.message and str(hi) in e.value.message


def test_a_latency_alarm_must_be_able_to_clear() -> None:
    with pytest.raises(Refused) as e:
        check(ssep(ssep_lat_rise_pct=5, clear_lat_pct=5))
    d = e.value.detail
    assert (d["limit"], d["value"], d["min"], d["max"]) == ("alarms.clear_lat_pct", 5, 0, 5)
    check(ssep(ssep_lat_rise_pct=5, clear_lat_pct=4.9))


@pytest.mark.parametrize(
    "table, key",
    [
        ({"bogus": 1}, "alarms.bogus"),
        ({"ssep_amp_drop": 50}, "alarms.ssep_amp_drop"),
        ({"confirm": 1.5}, "alarms.confirm"),
        ({"baseline_averages": True}, "alarms.baseline_averages"),
        ({"mep_drop_pct": "80"}, "alarms.mep_drop_pct"),
    ],
)
def test_unknown_or_malformed_alarm_keys_name_their_path(table: dict[str, Any], key: str) -> None:
    with pytest.raises(Refused) as e:
        protocol.normalise(ssep(**table), BOARD)
    assert e.value.code == ERR_BAD_PAYLOAD and e.value.detail["key"] == key


def test_not_a_table_is_refused() -> None:
    w = ssep()
    w["alarms"] = 5
    with pytest.raises(Refused) as e:
        protocol.normalise(w, BOARD)
    assert e.value.detail["key"] == "alarms"


def test_defaults_filled_in_make_the_same_protocol() -> None:
    bare = ssep()
    del bare["alarms"]
    written = ssep(**{k: v for k, v in alarms.DEFAULTS.items()})
    profile = BOARD.LIMITS["profile"]
    a = protocol.spec_hash(protocol.normalise(bare, BOARD), profile)
    assert a == protocol.spec_hash(protocol.normalise(written, BOARD), profile)
    assert a != protocol.spec_hash(protocol.normalise(ssep(ssep_amp_drop_pct=60), BOARD), profile)
    # and the unit reads them back in their own units
    spec = protocol.normalise(ssep(ssep_amp_drop_pct=60, baseline_lat_ms=0.5, confirm=3), BOARD)
    th = alarms.thresholds(spec["alarms"])
    assert (th["ssep_amp_drop_pct"], th["baseline_lat_ms"], th["confirm"]) == (60.0, 0.5, 3)


@pytest.mark.parametrize("runtime", BOTH)
def test_device_refuses_the_same_way(firmware_image, runtime: str) -> None:
    got = run_image(firmware_image, "protocol_refusals.py", [[c[1], c[2]] for c in CASES], runtime=runtime)
    for case, res in zip(CASES, got, strict=True):
        assert res is not None, case[0]
        code_, d = res
        assert code_ == ERR_LIMIT
        assert d["limit"] == "alarms." + case[0]
        assert d["value"] == pytest.approx(case[3], abs=1e-6 if runtime == "unix" else 1e-4)
        assert (d["min"], d["max"], d["unit"]) == case[4:]
