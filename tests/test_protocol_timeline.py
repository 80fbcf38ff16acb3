"""Compiled timelines against hand-computed edges, one protocol per modality;
the same spec compiles to the same edges and hash on CPython and on the device."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mpy import BOTH
from seq_common import BOARD, run_image
from stimfw.stim import compiler, limits, protocol
from stimfw.stim.timeline import COLUMNS

TC, P1, P2, PR, SCS = 0, 1, 2, 5, 6


def rows(wire: dict[str, Any]) -> list[tuple[int, ...]]:
    spec = protocol.normalise(wire, BOARD)
    limits.check(spec, BOARD)
    tl = compiler.compile_spec(spec)
    return [tuple(getattr(tl, c)[i] for c in COLUMNS) for i in range(tl.n)]


def test_tcmep_train_of_5_isi_3ms_75us() -> None:
    got = rows({"type": "tcmep", "amp_mv": 400000, "pulses": 5, "isi_us": 3000, "width_us": 75,
                "anode": "C4", "cathode": "C3"})
    # C4 is electrode 1, C3 electrode 0: anode mask 2, cathode mask 1.
    assert got == [(t, TC, 400000, 75, 0, 0, 0, 2, 1) for t in (0, 3000, 6000, 9000, 12000)]


def test_tcmep_two_trains_at_the_minimum_interval() -> None:
    got = rows({"type": "tcmep", "amp_mv": 300000, "pulses": 3, "isi_us": 2000, "rate_hz": 2,
                "count": 2})
    assert [r[0] for r in got] == [0, 2000, 4000, 500000, 502000, 504000]


def test_ssep_left_right_interleaved_at_4_7_hz() -> None:
    got = rows({"type": "ssep", "count": 3, "rate_hz": 4.7,
                "sites": [{"site": "l_median", "amp_ua": 25000, "width_us": 200},
                          {"site": "r_median", "amp_ua": 25000, "width_us": 200}]})
    # 1 / 4.7 Hz = 212765.96 us -> 212766; the right site starts half a period late.
    period = 212766
    left = [(k * period, P1) for k in range(3)]
    right = [(period // 2 + k * period, P2) for k in range(3)]
    assert [(r[0], r[1]) for r in got] == sorted(left + right)
    assert {r[2:] for r in got} == {(25000, 200, 0, 0, 0, 1, 2)}


def test_temg_biphasic_charge_balanced_anodic_first() -> None:
    got = rows({"type": "temg", "amp_ua": 3000, "shape": "bi", "width_us": 200, "gap_us": 50,
                "width2_us": 400, "polarity": "anodic", "rate_hz": 3.3, "count": 3})
    # Second phase twice as long at half the current; 1 / 3.3 Hz = 303030 us.
    assert got == [(t, PR, -3000, 200, 50, 400, 1500, 2, 1) for t in (0, 303030, 606060)]


def test_scs_walk_pairs_one_after_the_other() -> None:
    got = rows({"type": "scs", "amp_ua": 2000, "width_us": 210, "rate_hz": 2, "count": 2,
                "pairs": [["E0", "E1"], ["E5", "E4"]]})
    assert got == [
        (0, SCS, 2000, 210, 20, 210, -2000, 1 << 1, 1 << 0),
        (500000, SCS, 2000, 210, 20, 210, -2000, 1 << 1, 1 << 0),
        (1000000, SCS, 2000, 210, 20, 210, -2000, 1 << 4, 1 << 5),
        (1500000, SCS, 2000, 210, 20, 210, -2000, 1 << 4, 1 << 5),
    ]


def test_dwave_single_pulses() -> None:
    got = rows({"type": "dwave", "amp_mv": 250000, "width_us": 50, "rate_hz": 1.1, "count": 3,
                "anode": "Cz", "cathode": "Fz"})
    assert got == [(t, TC, 250000, 50, 0, 0, 0, 16, 32) for t in (0, 909091, 1818182)]


def test_segments_hold_whole_trains_and_add_up_to_the_run() -> None:
    wire = {"type": "tcmep", "amp_mv": 300000, "pulses": 9, "isi_us": 1500, "rate_hz": 2,
            "count": 7}
    spec = protocol.normalise(wire, BOARD)
    whole = rows(wire)
    seg = compiler.Segmenter(spec)
    from stimfw.stim.timeline import Timeline

    tl = Timeline(32)
    got = []
    while (start := seg.fill(tl)) is not None:
        assert tl.n % 9 == 0
        got += [(start + tl.t_us[i],) + tuple(getattr(tl, c)[i] for c in COLUMNS[1:])
                for i in range(tl.n)]
    assert got == whole


EXAMPLES = [
    {"type": "tcmep"},
    {"type": "dwave"},
    {"type": "ssep", "sites": [{"site": "l_tibial"}, {"site": "r_tibial"}], "count": 20},
    {"type": "temg", "search": {"mode": "bisect"}},
    {"type": "scs", "pairs": [["E0", "E1"], ["E1", "E2"]], "muscles": ["L_TA", "R_TA"]},
]


@pytest.mark.parametrize("runtime", BOTH)
def test_same_edges_and_hash_on_the_device(firmware_image, runtime: str) -> None:
    got = run_image(firmware_image, "protocol_plans.py", EXAMPLES, runtime=runtime)
    for wire, (h, plan) in zip(EXAMPLES, got, strict=True):
        spec = protocol.normalise(wire, BOARD)
        assert h == protocol.spec_hash(spec, BOARD.LIMITS["profile"])
        assert bytes(plan) == bytes(compiler.plan_rows(spec, 64))


def test_hash_ignores_spelled_out_defaults_and_sees_any_change() -> None:
    def h(w: dict[str, Any]) -> str:
        return protocol.spec_hash(protocol.normalise(w, BOARD), BOARD.LIMITS["profile"])

    base = h({"type": "tcmep"})
    assert base == h({"type": "tcmep", "pulses": 5, "isi_us": 3000, "anode": "C3"})
    assert base != h({"type": "tcmep", "pulses": 4})
    assert base != h({"type": "tcmep", "anode": "C4", "cathode": "C3"})
    assert len({h({"type": "tcmep", "amp_mv": a}) for a in range(100000, 110000, 1000)}) == 10
    assert protocol.anode_side(BOARD, protocol.normalise({"type": "tcmep"}, BOARD)["streams"][0]) == "left"
    assert json.loads(protocol.canonical(protocol.normalise({"type": "tcmep"}, BOARD)))["type"] == "tcmep"
