"""Runs across the tick counter's wrap on the simulated unit. A board's
ticks_us wraps every 2**30 us (17.9 min): a case of several hours crosses it
a dozen times. The unit's counter starts just before a boundary
(SimUnit(ticks_start_us=...)), and SSEP, TcMEP and free-run EMG each run
straddle it: 2**30 on both runtimes (the 32-bit one wraps there), 2**31 (an
int32's range) and 2**62 (its own wrap) on the 64-bit port. The model's
timeline does not move with the offset, so its ground truth checks each
run: every pulse the model delivered is one the unit reports, SSEP averages
show the N20 where it truly is, free-run blocks follow each other without
a gap or an overlap."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from mpy import HAVE_MCU32, NO_MCU32, executable
from simunit.supervisor import SimUnit
from stimbox import protocols
from stimbox.build import Image, board_module, install_offline
from stimbox.client import StimBox
from stimbox.session import run_protocol

BOARD = board_module("sim")
OFFSET_S = 100  # the boundary, on the model's timeline

CASES = [
    pytest.param("mcu32", 2**30, id="mcu32-2e30", marks=pytest.mark.skipif(not HAVE_MCU32, reason=NO_MCU32)),
    pytest.param("unix", 2**30, id="unix-2e30"),
    pytest.param("unix", 2**31, id="unix-2e31"),
    pytest.param("unix", 2**62, id="unix-2e62"),
]


@pytest.fixture
def wrap_box(runtime: str, boundary: int, image_for: Any) -> Iterator[tuple[SimUnit, StimBox]]:
    """A unit whose ticks pass `boundary` at OFFSET_S s on the model's timeline."""
    image: Image = image_for(runtime)
    start = (boundary - OFFSET_S * 1_000_000) % (2**62)
    unit = SimUnit(micropython=executable(runtime), ticks_start_us=start)
    install_offline(image, unit.flash)
    with unit, StimBox.connect(unit.port) as box:
        yield unit, box


def to(unit: SimUnit, box: StimBox, lead_s: float) -> None:
    """Move the model's clock to lead_s before the boundary."""
    now = unit.model.now_us()
    target = OFFSET_S * 1_000_000 - int(lead_s * 1e6)
    assert now < target, "the unit took longer than expected to come up"
    box.sim(advance_s=(target - now) / 1e6)


def straddles(times_us: list[int]) -> bool:
    return min(times_us) < OFFSET_S * 1_000_000 < max(times_us)


@pytest.mark.parametrize(("runtime", "boundary"), CASES)
def test_ssep_across_the_boundary(wrap_box: tuple[SimUnit, StimBox], runtime: str, boundary: int) -> None:
    unit, box = wrap_box
    model = unit.model
    assert model.ticks_period == (2**30 if runtime == "mcu32" else 2**62)
    to(unit, box, 12)  # 150 sweeps a side at 4.7 Hz: 32 s
    before = model.pulse_count
    p = protocols.load("ssep", BOARD)
    p["count"] = 150
    r = run_protocol(box, p)
    assert r.outcome == "complete"
    delivered = model.pulse_count - before
    assert delivered == len(r.pulses) == r.summary["done"] == 300
    assert straddles([q["scheduled_us"] for q in list(model.pulse_log)[-delivered:]])
    truth = model.ground_truth()["ssep"]
    got = {s["stream"]: s for s in r.recording["streams"]}
    for stream, side in (("l_median", "median_L"), ("r_median", "median_R")):
        (n20,) = got[stream]["components"]
        assert n20["sweeps"] == 150
        assert abs(n20["lat_ms"] - truth[side]["N20"]["latency_ms"]) <= 1.0
    assert r.recording["dropped_sweeps"] == 0


@pytest.mark.parametrize(("runtime", "boundary"), CASES)
def test_tcmep_across_the_boundary(wrap_box: tuple[SimUnit, StimBox], runtime: str, boundary: int) -> None:
    unit, box = wrap_box
    model = unit.model
    to(unit, box, 3)  # 4 trains at 0.5 Hz: 6 s
    before = model.pulse_count
    p = protocols.load("tcmep", BOARD)
    p["record"] = {"channels": [9, 13, 15], "rate_hz": 10000, "pre_ms": 5, "post_ms": 80,
                   "band": [10, 1500], "blank_us": [100, 2000], "response_ms": [15, 70], "split": False}
    r = run_protocol(box, p)
    assert r.outcome == "complete"
    delivered = model.pulse_count - before
    assert delivered == len(r.pulses) == r.summary["done"] == 4 * 5
    assert straddles([q["scheduled_us"] for q in list(model.pulse_log)[-delivered:]])
    # Each train's sweep came from the right time: the trains' own
    # responses (right-side muscles, anode C3) are there.
    (s,) = r.recording["streams"]
    assert r.recording["dropped_sweeps"] == 0
    assert s["accepted"] == [4, 4, 4]
    for ch in (9, 13, 15):
        w = np.array(box.average("tcmep", "a", ch))  # 5 ms before to 80 ms after
        resp = np.ptp(w[50 + 150 : 50 + 700])  # 15-70 ms: the MEP
        quiet = np.ptp(w[:45])
        assert resp > 50 and resp > 10 * quiet


@pytest.mark.parametrize(("runtime", "boundary"), CASES)
def test_freerun_across_the_boundary(wrap_box: tuple[SimUnit, StimBox], runtime: str, boundary: int) -> None:
    unit, box = wrap_box
    model = unit.model
    to(unit, box, 4)
    done: list[dict] = []

    def on_push(p: Any) -> None:
        if p.name == "emg" and p.data.get("done"):
            done.append(p.data)

    box.on_push = on_push
    box.freerun_start([8, 12], rate_hz=10000, block_ms=10, duration_ms=8000)
    give_up = time.monotonic() + 60
    while not done and time.monotonic() < give_up:
        box.poll(0.1)
    assert done and done[0]["blocks"] == 800 and done[0]["t_ms"] == 8000.0
    blocks = [w for w in model.acquire_log if w[3] == (8, 12)]
    assert len(blocks) == 800 and all(w[1:3] == (10000, 100) for w in blocks)
    t0 = [w[0] for w in blocks]
    assert [b - a for a, b in zip(t0, t0[1:], strict=False)] == [10000] * 799  # contiguous
    assert straddles(t0)
