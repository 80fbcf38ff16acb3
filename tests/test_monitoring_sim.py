"""Impedance checks and free-run EMG end to end on the simulated unit,
checked against the model's ground truth."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from simunit.montage import EPIDURAL_ELECTRODES
from simunit.supervisor import SimUnit
from stimbox import protocols
from stimbox.build import board_module
from stimbox.client import StimBox
from stimbox.errors import DeviceError, LimitError

STIMBOX = str(Path(sys.executable).with_name("stimbox"))
BOARD = board_module("sim")
MUSCLES = [8, 9, 12, 13]
CAUTERY = """name = "cautery_often"
description = "Frequent cautery, nothing else"
mains_hz = 50
[bursts]
movement_per_min = 0.0
cautery_per_min = 12.0
"""


def stream(box: StimBox, channels: list[int], seconds: float, **opts: Any) -> tuple[dict, list[dict], dict]:
    """Free-run for `seconds` of the unit's clock; (start reply, pushed events, summary)."""
    events: list[dict] = []
    done: list[dict] = []
    pushes = 0

    def on_push(p: Any) -> None:
        nonlocal pushes
        if p.name == "emg":
            pushes += 1
            events.extend(p.data["events"])
            if p.data.get("done"):
                done.append(p.data)

    box.on_push = on_push
    start = box.freerun_start(channels, duration_ms=int(seconds * 1000), **opts)
    give_up = time.monotonic() + 60
    while not done and time.monotonic() < give_up:
        box.poll(0.1)
    box.on_push = None
    assert done, "no final emg push"
    s = done[0]
    assert pushes <= s["blocks"]  # at most one push per block
    return start, events, s


def test_impedance_of_every_recording_electrode_passes_on_the_stable_patient(
        sim_unit: SimUnit, box: StimBox) -> None:
    r = box.impedance()
    truth = sim_unit.model.ground_truth()["electrodes_ohm"]
    assert [e["electrode"] for e in r["electrodes"]] == sorted(truth) == sorted(BOARD.AMP_ELECTRODES)
    assert r["pass"] and all(e["pass"] for e in r["electrodes"])
    # "Fz" also names a transcranial output electrode, and the model answers
    # impedance("Fz") with that output's load: compare the others only.
    shared = {n for o in BOARD.OUTPUTS for n in o["electrodes"]}
    checked = [e for e in r["electrodes"] if e["electrode"] not in shared]
    assert len(checked) == len(truth) - 1
    for e in checked:
        assert abs(e["kohm"] - truth[e["electrode"]] / 1000) <= 0.002
        # the model's draws: skin 1.5-4.5 kOhm, the epidural strip's contacts 0.8-2
        lo, hi = (0.8, 2.0) if e["electrode"] in EPIDURAL_ELECTRODES else (1.5, 4.5)
        assert lo <= e["kohm"] <= hi


def test_electrode_at_one_megaohm_and_a_mismatched_pair_fail(sim_unit: SimUnit, box: StimBox) -> None:
    truth = sim_unit.model.ground_truth()["electrodes_ohm"]
    shared = {n for o in BOARD.OUTPUTS for n in o["electrodes"]}
    names = sorted((n for n in truth if n not in shared), key=truth.get)
    close = (names[0], names[1])  # the two nearest in impedance: their mismatch is small
    assert abs(truth[close[0]] - truth[close[1]]) <= 1500
    far = (names[0], names[-1])
    box.sim(electrode={"name": "CP4", "ohms": 1e6})
    r = box.impedance(pairs=[("CP4", "Fz"), close, far] if truth[far[1]] - truth[far[0]] > 1500
                      else [("CP4", "Fz"), close])
    by = {e["electrode"]: e for e in r["electrodes"]}
    assert not r["pass"]
    assert by["CP4"]["kohm"] == 1000.0 and not by["CP4"]["pass"]
    assert by["CP4"]["limit"] == "impedance_kohm" and by["CP4"]["max"] == 5.0
    assert [n for n, e in by.items() if not e["pass"]] == ["CP4"]
    pairs = {tuple(p["pair"]): p for p in r["pairs"]}
    assert not pairs[("CP4", "Fz")]["pass"]
    assert abs(pairs[("CP4", "Fz")]["mismatch_kohm"] - (1000 - by["Fz"]["kohm"])) <= 0.002
    assert pairs[close]["pass"]
    if far in pairs:
        assert not pairs[far]["pass"] and pairs[far]["max"] == 1.5
    # A wider limit, within its bounds, passes the matched set; out of bounds is refused.
    ok = box.impedance(electrodes=list(close), pairs=[close], max_kohm=10, mismatch_kohm=3)
    assert ok["pass"] and ok["electrodes"][0]["max"] == 10
    with pytest.raises(LimitError) as ei:
        box.impedance(max_kohm=1000)
    assert ei.value.detail["limit"] == "max_kohm" and ei.value.detail["max"] == 20
    with pytest.raises(DeviceError) as en:
        box.impedance(electrodes=["C7"])
    assert en.value.name == "not_found"


def test_impedance_refused_while_stimulating(box: StimBox) -> None:
    v = box.check_protocol(protocols.load("ssep", BOARD) | {"count": 500})
    box.arm(v["hash"])
    box.start()
    try:
        assert box.status()["state"] == "STIMULATING"
        with pytest.raises(DeviceError) as ei:
            box.impedance()
        assert ei.value.name == "state" and "STIMULATING" in ei.value.message
    finally:
        box.stop()
    box.disarm()
    assert box.impedance()["pass"]


def test_freerun_trains_match_the_cautery_in_ground_truth(
        sim_unit: SimUnit, box: StimBox, tmp_path: Path) -> None:
    path = tmp_path / "cautery.toml"
    path.write_text(CAUTERY)
    box.sim(scenario=str(path), seed=5)
    start, events, s = stream(box, [8, 12], 20.0, rate_hz=10000, block_ms=10)
    t0 = start["start_us"] / 1e6
    t_end = t0 + s["t_ms"] / 1000
    truth = sorted((b["start_s"], b["start_s"] + b["duration_s"])
                   for b in sim_unit.model.ground_truth()["bursts"] if b["kind"] == "cautery")
    spans: list[list[float]] = []  # overlapping cautery merges into one span
    for a, b in truth:
        if b < t0 or a > t_end:
            continue
        if spans and a <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], b)
        else:
            spans.append([a, b])
    assert len(spans) >= 2
    for ch in (8, 12):
        trains = [e for e in events if e["ch"] == ch]
        assert all(e["kind"] == "train" for e in trains)
        assert len(trains) == len(spans) == s["trains"][s["channels"].index(ch)]
        for e, (a, b) in zip(trains, spans, strict=True):
            start_s = t0 + e["t_ms"] / 1000
            end_s = start_s + e["dur_ms"] / 1000
            # The sin^2 envelope starts and ends below threshold.
            assert a <= start_s <= a + 0.5 and min(b, t_end) - 0.5 <= end_s <= min(b, t_end) + 0.02
        i = s["channels"].index(ch)
        assert abs(s["train_ms"][i] - sum(e["dur_ms"] for e in trains)) < 1
        assert s["spikes"][i] >= sum(e["spikes"] for e in trains)
    assert abs(s["train_ms_total"] - sum(s["train_ms"])) < 1
    assert s["blocks"] == 2000 and s["t_ms"] == 20000.0


def test_freerun_quiet_baseline_reports_nothing(sim_unit: SimUnit, box: StimBox) -> None:
    start, events, s = stream(box, MUSCLES, 20.0, rate_hz=5000, block_ms=20)
    gt = sim_unit.model.ground_truth()["bursts"]
    assert gt == []  # nothing moved in this window: the EMG is background only
    assert events == [] and sum(s["spikes"]) == 0 and sum(s["trains"]) == 0 and sum(s["bursts"]) == 0
    assert s["channels"] == MUSCLES and s["blocks"] == 1000


def test_link_answers_while_streaming_and_stop_returns_the_summary(box: StimBox) -> None:
    st = box.freerun_start(MUSCLES, rate_hz=20000, block_ms=5, thr_uv=5)  # low threshold: detections
    assert st["block"] == 100
    with pytest.raises(DeviceError) as ei:
        box.freerun_start([0])
    assert ei.value.name == "busy"
    t = []
    for _ in range(20):
        t.append(box.ping()["t_ms"])
        box.poll(0.02)
    assert t == sorted(t)
    s = box.freerun_stop()
    assert s["done"] and s["blocks"] > 0 and s["t_ms"] == s["blocks"] * 5.0
    assert sum(s["spikes"]) > 0  # 5 uV catches background peaks: the stream was live
    pushed = [p for p in box.pushes if p.name == "emg"]
    assert pushed and all(p.data["events"] for p in pushed)
    assert len(pushed) <= s["blocks"]
    assert box.freerun_stop() == s  # the last summary stays readable
    assert box.ping()


@pytest.mark.parametrize("opts, limit", [
    ({"rate_hz": 7000}, "rate_hz"),
    ({"rate_hz": 20000, "block_ms": 50, "channels": list(range(16))}, "block_samples"),
    ({"thr_uv": 0}, "thr_uv"),
    ({"band": [20, 4000], "rate_hz": 5000}, "corner_hz"),
])
def test_freerun_refusals_name_the_limit(box: StimBox, opts: dict, limit: str) -> None:
    args: dict[str, Any] = {"channels": [8]} | opts
    with pytest.raises(LimitError) as ei:
        box.freerun_start(**args)
    assert ei.value.detail["limit"] == limit
    assert box.freerun_start([8], duration_ms=0)["channels"] == [8]  # nothing was left half set up
    box.freerun_stop()


def test_cli_impedance_and_emg(sim_unit: SimUnit) -> None:
    r = subprocess.run([STIMBOX, "impedance", "--port", sim_unit.port, "--pair", "CP4:Fz"],
                       capture_output=True, text=True, timeout=60)
    lines = r.stdout.splitlines()
    assert any(ln.startswith("CP4 ") and "kOhm" in ln and "PASS" in ln for ln in lines), r.stdout
    assert len([ln for ln in lines if "kOhm" in ln]) == len(BOARD.AMP_ELECTRODES) + 1
    r = subprocess.run([STIMBOX, "emg", "--port", sim_unit.port, "--seconds", "2", "--channels", "8", "9"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "2.000 s of free-run EMG, 200 blocks" in r.stdout and "ch  9:" in r.stdout


def test_a_clock_jump_while_streaming_skips_to_the_present_and_says_so(box: StimBox) -> None:
    # A stream more than a second behind (a held-up loop, or here the model's
    # clock jumped a minute) skips to the present once and reports the gap:
    # before, every pass asked for samples the ring no longer held, and each
    # one faulted the unit.
    box.freerun_start(MUSCLES, rate_hz=10000, block_ms=10, thr_uv=50)
    box.poll(0.2)
    box.sim(advance_s=60)
    for _ in range(10):
        assert box.ping()
        box.poll(0.05)
    s = box.freerun_stop()
    assert box.status()["state"] == "IDLE"
    gaps = [p.data for p in box.pushes if p.name == "emg" and "gap_ms" in p.data]
    assert len(gaps) == 1 and 59000 <= gaps[0]["gap_ms"] <= 60000
    assert s["gap_blocks"] == gaps[0]["gap_blocks_total"] == gaps[0]["gap_ms"] / 10
    kinds = [e["kind"] for e in box.events()["events"]]
    assert "firmware_fault" not in kinds
