"""Property: no protocol the device-side validator accepts exceeds a limit.
Figures are recomputed here independently, in floating point from the
physics of the compiled pulses, not with the validator's own code."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from seq_common import BOARD
from stimfw.core.errors import Refused
from stimfw.link.messages import ERR_LIMIT
from stimfw.stim import compiler, limits, protocol

L = BOARD.LIMITS
R = L["load_ohm"]
EPS = 1e-9

amp_ua = st.integers(1, 120).map(lambda x: x * 1000)
# Mostly inside the outputs' width ranges, sometimes just outside.
widths = st.one_of(st.integers(50, 1000), st.integers(40, 1100))
rates = st.sampled_from([0.5, 1, 2.1, 3.3, 4.7, 5.1, 9.7, 19.9, 20, 20.3])
shape = st.sampled_from(["mono", "bi"])


@st.composite
def wire_protocols(draw: Any) -> dict[str, Any]:
    typ = draw(st.sampled_from(protocol.TYPES))
    w: dict[str, Any] = {"type": typ, "width_us": draw(widths), "rate_hz": draw(rates)}
    if typ in ("tcmep", "dwave"):
        w["amp_mv"] = draw(st.integers(10, 1100)) * 1000
        w["width_us"] = draw(st.integers(45, 520))
        w["count"] = draw(st.integers(1, 4))
        if typ == "tcmep":
            w["pulses"] = draw(st.integers(1, 9))
            w["isi_us"] = draw(st.integers(1000, 10000))
    elif typ == "ssep":
        n = draw(st.integers(1, 4))
        w = {"type": typ, "count": draw(st.integers(1, 30)), "rate_hz": w["rate_hz"],
             "sites": [{"site": protocol.SSEP_SITES[i], "amp_ua": draw(amp_ua),
                        "width_us": draw(widths), "shape": draw(shape)} for i in range(n)]}
    elif typ == "temg":
        out = draw(st.sampled_from(["PR", "P1"]))
        if out == "P1":
            w.update(out="P1", anode="P1+", cathode="P1-")
        w.update(amp_ua=draw(amp_ua), pulses=draw(st.integers(1, 10)),
                 isi_us=draw(st.integers(900, 3000)), count=draw(st.integers(1, 25)),
                 shape=draw(shape))
        if w["shape"] == "bi" and draw(st.booleans()):
            w["amp2_ua"] = w["amp_ua"] + draw(st.integers(-5, 5)) * 100
    else:
        w.update(amp_ua=draw(st.integers(1, 300)) * 100, count=draw(st.integers(1, 3)),
                 pairs=[["E0", "E1"], ["E2", "E1"]])
    return w


def phase(o: dict[str, Any], amp: int, w: int) -> tuple[float, float]:
    """(charge C, energy J) of one phase into the profile's load."""
    if o["kind"] == "CC":
        i = abs(amp) * 1e-6
        v = min(i * R, o["compliance"] * 1e-3)
    else:
        v = min(abs(amp) * 1e-3, o["current_limit"] * 1e-6 * R)
        i = v / R
    return i * w * 1e-6, v * i * w * 1e-6


def assert_within_limits(spec: dict[str, Any]) -> None:
    tl = compiler.compile_spec(spec)
    assert tl.n <= L["pulses_per_run_max"]
    assert tl.duration_us <= L["run_max_us"]
    for s in spec["streams"]:
        assert s["n"] <= L["pulses_per_train_max"]
    ends: dict[int, int] = {}
    per_pulse = []
    for k in range(tl.n):
        o = BOARD.OUTPUTS[tl.output[k]]
        lim = L["outputs"][o["name"]]
        amax = min(lim["amp_max"], o["max"])
        assert abs(tl.amp[k]) <= amax and abs(tl.amp2[k]) <= amax
        assert o["width_us"][0] <= tl.w1_us[k] <= o["width_us"][1]
        q1, e1 = phase(o, tl.amp[k], tl.w1_us[k])
        q2, e2 = (0.0, 0.0)
        if tl.w2_us[k]:
            assert o["width_us"][0] <= tl.w2_us[k] <= o["width_us"][1]
            q2, e2 = phase(o, tl.amp2[k], tl.w2_us[k])
            assert abs(q1 - q2) <= q1 * L["imbalance_max_ppm"] / 1e6 + EPS * q1
            assert (tl.amp[k] > 0) != (tl.amp2[k] > 0)
        q_uc = max(q1, q2) * 1e6
        assert q_uc <= lim["charge_max_nc"] / 1000 * (1 + EPS)
        assert q_uc / o["area_cm2"] <= lim["density_max_nc_cm2"] / 1000 * (1 + EPS)
        if lim["shannon_k"] is not None:
            assert math.log10(q_uc * q_uc / o["area_cm2"]) <= lim["shannon_k"] + EPS
        assert (e1 + e2) * 1e6 <= lim["energy_max_uj"] * (1 + EPS)
        t = tl.t_us[k]
        assert t >= ends.get(tl.output[k], 0)
        ends[tl.output[k]] = tl.pulse_end_us(k)
        per_pulse.append((t, q1 + q2))
    # Average current over every window [t, t + W) that starts at a pulse.
    win = L["avg_window_us"]
    for j, (t0, _) in enumerate(per_pulse):
        total = sum(q for t, q in per_pulse[j:] if t < t0 + win)
        assert total / (win * 1e-6) * 1e6 <= L["avg_current_max_ua"] * (1 + EPS)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wire_protocols())
def test_accepted_protocols_stay_within_every_limit(wire: dict[str, Any]) -> None:
    try:
        spec = protocol.normalise(wire, BOARD)
        limits.check(spec, BOARD)
    except Refused as e:
        if e.code == ERR_LIMIT:
            d = e.detail
            assert {"limit", "value", "min", "max", "unit"} <= set(d)
        return
    assert_within_limits(spec)
