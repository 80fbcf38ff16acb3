"""The sim board's HAL under the real MicroPython, against a running
hardware model: clocks, idle, stimulation, monitor, acquisition without
allocation, impedance and sim-only control; and SimUnit's model wiring."""

from __future__ import annotations

import json
import os
import time

import pytest
from mpy import BOTH, MCU_HEAP, run_mp_file
from simunit.modelserver import ModelServer
from simunit.supervisor import SimUnit
from stimbox.build import install_offline
from stimbox.client import StimBox


def run_quiet(script: str, runtime: str, *args: object, timeout: float = 60, heap: str = MCU_HEAP) -> str:
    """Like run_mp_file, with the console on a pipe that stays open and
    silent, as a unit's console is when the host sends nothing (idle() can
    jump). Device side: tests/device/simhal*.py."""
    r, w = os.pipe()
    try:
        return run_mp_file("device/" + script, *args, runtime=runtime, timeout=timeout, stdin=r, heap=heap)
    finally:
        os.close(r)
        os.close(w)


def lines(out: str) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in out.strip().splitlines())


@pytest.mark.parametrize("runtime", BOTH)
def test_clock_idle_fire_and_monitor(sim_model: ModelServer, runtime: str) -> None:
    # 112k: the 64-bit port parses the ground-truth reply (9 KB of JSON)
    # within a few KB of 96k.
    out = run_quiet("simhal_clock.py", runtime, heap="112k")
    r = lines(out)
    assert r["mono"] == "True" and r["done_early"] == "False"
    assert 25000 <= int(r["at"]) < 25010  # the jump, plus 1 us per clock read
    n, i, v = (int(x) for x in r["mon2"].split())
    assert n == 8 + 100 + 30 + 1 and i == 20000 // 4 and v > 0  # 20 mA at 4 uA/LSB
    assert r["mon3"] == "0"  # not delivered yet
    assert r["done"] == "True" and r["gt"] == "3"
    assert r["off"] == "True"
    assert sim_model.model.boots == 1


@pytest.mark.parametrize("runtime", BOTH)
@pytest.mark.parametrize("advance_s", [0, 2**30 / 1e6 + 3, 2**31 / 1e6 + 3], ids=["boot", "past2e30", "past2e31"])
def test_hot_calls_allocate_nothing_under_heap_lock(sim_model: ModelServer, runtime: str, advance_s: float) -> None:
    # Acquisition, stimulation, monitor, safety polls, clock reads and idle
    # jumps run with the heap locked on an MCU-sized heap: any allocation
    # raises MemoryError. Past 2**30 us a board's ticks have wrapped, and an
    # unwrapped count would be a heap object on the 32-bit runtime (past
    # 2**31, an int32's range on any port).
    from simunit.clock import unwrap

    out = run_quiet("simhal_locked.py", runtime, advance_s)
    r = lines(out)
    assert r["n"] == "500 True 139 True True"  # a 200 us pulse: 139 monitor samples
    lo, hi = (int(x) for x in r["range"].split())
    assert lo < 0 < hi and (lo, hi) != (-32768, 32767)
    model = sim_model.model
    period = model.ticks_period
    assert period == (2**30 if runtime == "mcu32" else 2**62)
    t, t2 = (int(x) for x in r["t"].split())
    assert 0 <= t < period and 0 <= t2 < period
    # The device's ticks are the model's timeline, wrapped: the pulse went
    # out at t, and the idle jumps moved the clock 12 s on.
    assert [p["scheduled_us"] for p in model.pulse_log] == [unwrap(t, model.now_us(), period)]
    assert model.pulse_log[0]["scheduled_us"] > advance_s * 1e6
    assert 12.0e6 <= (t2 - t) % period <= 12.1e6
    ms, ms2 = (int(x) for x in r["ms"].split())
    assert 12000 <= (ms2 - ms) % period <= 12100
    assert (model.pulse_log[0]["scheduled_us"] // 1000 - ms) % period <= 1  # ticks_ms: the same clock


@pytest.mark.parametrize("runtime", BOTH)
def test_acquire_returns_the_models_samples_and_errors_are_clear(sim_model: ModelServer, runtime: str) -> None:
    out = run_quiet("simhal_acquire.py", runtime)
    r = lines(out)
    assert r["n"] == "100"
    import numpy as np

    ref = sim_model.model.acquire(int(r["t"]), 5000, 100, [0, 3, 15]).ravel()
    assert np.array_equal(np.array(r["data"].split(), dtype=int), ref)
    assert "rate 4000 Hz not supported" in r["err"]
    assert "unknown sim request keys ['bogus']" in r["err2"]
    z_cp4, z_p1 = (int(x) for x in r["imp"].split())
    assert z_cp4 == sim_model.model.impedance("CP4") and 1000 < z_p1 < 3000
    assert "no electrode 'nowhere'" in r["err3"]


@pytest.mark.parametrize("runtime", BOTH)
def test_ground_truth_and_scenario_control_from_the_firmware_side(sim_model: ModelServer, runtime: str) -> None:
    out = run_quiet("simhal_truth.py", runtime)
    r = lines(out)
    insult = json.loads(r["gt"])
    assert insult["started"] and insult["start_s"] == 120 and insult["progress"] > 0
    assert r["safety"] == "True False"
    assert sim_model.model.seed == 11 and sim_model.model.scenario.name == "cord_ischaemia"


@pytest.mark.parametrize("runtime", BOTH)
def test_averaged_ssep_through_the_hal(sim_model: ModelServer, runtime: str) -> None:
    # 100 sweeps at 4.7 Hz through the real socket path; the device sums them.
    out = run_quiet("simhal_ssep.py", runtime)
    import numpy as np

    r = lines(out)
    sums = " ".join(r[f"acc{i}"] for i in range(0, 800, 80)).split()
    acc = np.array(sums, dtype=float).reshape(400, 2) / 100 * 0.125
    t = np.arange(400) * 0.2 - 10
    win = (t > 16) & (t < 23)
    n20 = t[win][np.argmin(acc[win, 0])]
    # The trough's depth against its flanks: 100 unfiltered sweeps still
    # carry the cortex's slow (1/f) background, which shifts the whole
    # window by about 0.8 uV either way.
    flanks = ((t > 12) & (t < 16)) | ((t > 23) & (t < 27))
    assert 18.5 <= n20 <= 20.5 and acc[win, 0].min() - acc[flanks, 0].mean() < -1.0
    assert sim_model.model.pulse_count == 100
    # The model's clock: the end of the last acquired window (the device's
    # idle jump after it is only seen with its next request).
    assert sim_model.model.now_us() == pytest.approx(0.001e6 + 99 * 212766 + 70000, abs=500)


@pytest.mark.parametrize("runtime", BOTH[1:])  # the 64-bit port's ticks wrap after 2**62 us
def test_pulses_and_windows_across_the_tick_wrap(sim_model: ModelServer, runtime: str) -> None:
    # The timeline clock wraps half a second in (after 2**30 us on a board):
    # pulses land exactly one period apart on the model's unwrapped clock,
    # and each window's samples, the one straddling the wrap included, are
    # the model's from the right time.
    import numpy as np
    from simunit.clock import unwrap

    r = lines(run_quiet("simhal_wrap.py", runtime))
    period = int(r["period"])
    model = sim_model.model
    assert model.ticks_period == period == 2**30
    starts = [int(r[f"start{k}"]) for k in (-1, 0, 1)]
    # The middle pulse 30 ms before the wrap (its window wraps), the last after it.
    assert starts[1] == period - 30000 and starts[2] < starts[0] < starts[1]
    t = [unwrap(s, model.now_us(), period) for s in starts]
    assert t[1] - t[0] == t[2] - t[1] == 212766 and t[0] > period // 2
    assert [p["scheduled_us"] for p in model.pulse_log] == t
    for k, tk in zip((-1, 0, 1), t, strict=True):
        ref = model.acquire(tk - 10000, 5000, 400, [1, 4]).ravel()
        assert np.array_equal(np.array(r[f"data{k}"].split(), dtype=int), ref), k


@pytest.mark.parametrize("runtime", BOTH)
def test_realtime_mode_paces_to_wall_time(tmp_path, runtime: str) -> None:
    from simunit.model import HardwareModel

    server = ModelServer(HardwareModel(realtime=True), tmp_path / "rt.sock")
    with server:
        os.environ["STIMBOX_SIM_MODEL"] = str(server.path)
        try:
            t = time.monotonic()
            out = run_quiet("simhal_realtime.py", runtime)
            wall = time.monotonic() - t
        finally:
            del os.environ["STIMBOX_SIM_MODEL"]
    r = lines(out)
    assert r["rt"] == "True"
    assert int(r["waited"]) >= 200_000 and wall >= 0.2


@pytest.mark.parametrize("runtime", BOTH)
def test_hal_without_a_model_says_so(monkeypatch: pytest.MonkeyPatch, runtime: str) -> None:
    monkeypatch.delenv("STIMBOX_SIM_MODEL", raising=False)
    # A non-zero exit, with the HAL's own message in the device's traceback.
    with pytest.raises(AssertionError, match=r"exited [1-9](.|\n)*no hardware model "
                                             r"\(STIMBOX_SIM_MODEL is not set\)"):
        run_mp_file("device/simhal_construct.py", runtime=runtime, timeout=30)


def test_sim_unit_runs_its_model_and_writes_ground_truth(firmware_image, new_unit) -> None:
    unit = new_unit(scenario="lead_off", seed=5)
    install_offline(firmware_image, unit.flash)
    with unit:
        with StimBox.connect(unit.port) as box:
            assert box.info()["board"] == "sim"
        assert unit.model.boots >= 1  # the firmware's HAL connected
        assert unit.model.scenario.name == "lead_off" and unit.model.seed == 5
    truth = json.loads(unit.groundtruth_path.read_text())
    assert unit.groundtruth_path.parent == unit.flash.parent
    assert truth["scenario"]["name"] == "lead_off" and truth["seed"] == 5
    assert truth["insults"][0]["electrode"] == "CP4"


def test_sim_unit_rejects_an_unknown_scenario_before_starting() -> None:
    with pytest.raises(ValueError, match="no scenario 'x'"):
        SimUnit(scenario="x")
