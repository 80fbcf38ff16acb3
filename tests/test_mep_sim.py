"""TcMEP recording on the simulated unit: per-trial MEPs measured on the
unit against the model's per-trial truth, per-muscle alarms, and a TcMEP
protocol with averaged components run more than once."""

from __future__ import annotations

from typing import Any

from simunit.supervisor import SimUnit
from stimbox import protocols
from stimbox.build import board_module
from stimbox.client import StimBox
from stimbox.session import run_protocol

BOARD = board_module("sim")

RECORD: dict[str, Any] = {"channels": [9, 13, 15], "rate_hz": 10000, "pre_ms": 5, "post_ms": 80,
                          "band": [10, 1500], "blank_us": [100, 2000], "split": False}


def tcmep(**changes: Any) -> dict[str, Any]:
    p = protocols.load("tcmep", BOARD)
    p.update(count=2, rate_hz=1.0, record=dict(RECORD))
    p.update(changes)
    return p


def test_tcmep_with_components_runs_twice(sim_unit: SimUnit, box: StimBox) -> None:
    # The second run checks the first's baseline: a component's amplitude is
    # its "amp_uv", not an MEP's "pp_uv", and an absent one has none at all.
    rec = dict(RECORD, components=[{"name": "N1/P1", "ch": 9, "win_ms": [[25, 45], [30, 55]]},
                                   {"name": "P1", "ch": 13, "win_ms": [[5, 8]]}])
    p = tcmep(record=rec)
    first = run_protocol(box, p, baseline=True)
    second = run_protocol(box, p)
    for r in (first, second):
        assert r.outcome == "complete", r.summary
        assert [c["name"] for c in r.recording["streams"][0]["components"]] == ["N1/P1", "P1"]
    assert second.recording["streams"][0]["baseline_run"] == first.run
    assert box.status()["state"] != "FAULT"
