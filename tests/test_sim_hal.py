"""The sim board's HAL under the real MicroPython, against a running
hardware model: clocks, idle, stimulation, monitor, acquisition without
allocation, impedance and sim-only control; and SimUnit's model wiring."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import time

import pytest
from mpy import BOARD_SIM, FIRMWARE, MCU_HEAP, MICROPYTHON, run_mp
from simunit.modelserver import ModelServer
from simunit.supervisor import SimUnit
from stimbox.build import install_offline
from stimbox.client import StimBox

PRELUDE = f"""
import sys
sys.path.insert(0, {str(FIRMWARE)!r})
sys.path.insert(0, {str(BOARD_SIM)!r})
"""


def run_quiet(code: str, heap: str = MCU_HEAP, timeout: float = 60) -> str:
    """Like run_mp, with the console on a pipe that stays open and silent, as
    a unit's console is when the host sends nothing (idle() can jump)."""
    r, w = os.pipe()
    try:
        p = subprocess.run(
            [MICROPYTHON, "-X", f"heapsize={heap}", "-c", PRELUDE + textwrap.dedent(code)],
            stdin=r, capture_output=True, text=True, timeout=timeout,
        )
    finally:
        os.close(r)
        os.close(w)
    if p.returncode != 0:
        raise AssertionError(f"micropython exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p.stdout


def lines(out: str) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in out.strip().splitlines())


HAL_SETUP = """
    import array, gc, micropython
    from hal import Hal
    from stimfw.stim.timeline import Timeline
    h = Hal()
    tl = Timeline(16)
    def pulse(t, out, amp, w=200):
        tl.add(t, out, amp, w, 0, 0, 0, 1, 2)

"""


def test_clock_idle_fire_and_monitor(sim_model: ModelServer) -> None:
    out = run_quiet(HAL_SETUP + """
    t0 = h.ticks_us()
    print("mono", h.ticks_diff(h.ticks_us(), t0) > 0)
    for k in range(5):
        pulse(k * 10000, 1, 20000)
    start = h.ticks_add(h.ticks_us(), 1000)
    h.fire(tl, start)
    print("done_early", h.fire_done())
    h.idle(2, h.ticks_add(start, 25000))   # no host input: jumps to the deadline
    print("at", h.ticks_diff(h.ticks_us(), start))
    mb = array.array("h", bytes(2 * 2 * 300))
    print("mon2", h.monitor(2, mb), mb[2 * 50], mb[2 * 50 + 1])
    print("mon3", h.monitor(3, mb))
    h.abort()
    print("done", h.fire_done())
    print("gt", h.sim({"groundtruth": True})["groundtruth"]["pulses"]["count"])
    h.fire(tl, h.ticks_add(h.ticks_us(), 10))
    h.outputs_off()
    print("off", h.fire_done())
    """)
    r = lines(out)
    assert r["mono"] == "True" and r["done_early"] == "False"
    assert 25000 <= int(r["at"]) < 25010  # the jump, plus 1 us per clock read
    n, i, v = (int(x) for x in r["mon2"].split())
    assert n == 8 + 100 + 30 + 1 and i == 20000 // 4 and v > 0  # 20 mA at 4 uA/LSB
    assert r["mon3"] == "0"  # not delivered yet
    assert r["done"] == "True" and r["gt"] == "3"
    assert r["off"] == "True"
    assert sim_model.model.boots == 1


def test_hot_calls_allocate_nothing_under_heap_lock(sim_model: ModelServer) -> None:
    # Acquisition, stimulation, monitor and safety polls run with the heap
    # locked on an MCU-sized heap: any allocation raises MemoryError.
    out = run_mp(HAL_SETUP + """
    buf = array.array("h", bytes(2 * 16 * 500))   # 16 channels x 50 ms at 10 kHz
    mb = array.array("h", bytes(2 * 2 * 200))
    chans = bytes(range(16))
    pulse(0, 1, 30000)
    t = ok = n = done = m = ms = 0   # module globals exist before the lock
    gc.collect()
    micropython.heap_lock()
    t = h.ticks_add(h.ticks_us(), 100)
    h.fire(tl, t)
    ok = h.interlock_closed() and not h.estop_pressed()
    n = h.acquire(h.ticks_add(t, -5000), 10000, chans, buf)
    done = h.fire_done()
    m = h.monitor(0, mb)
    ms = h.ticks_ms()
    micropython.heap_unlock()
    print("n", n, done, m, ok, ms >= 0)
    print("range", min(buf), max(buf))
    """)
    r = lines(out)
    assert r["n"] == "500 True 139 True True"  # a 200 us pulse: 139 monitor samples
    lo, hi = (int(x) for x in r["range"].split())
    assert lo < 0 < hi and (lo, hi) != (-32768, 32767)


def test_acquire_returns_the_models_samples_and_errors_are_clear(sim_model: ModelServer) -> None:
    out = run_quiet(HAL_SETUP + """
    buf = array.array("h", bytes(2 * 3 * 100))
    t = h.ticks_us()
    print("n", h.acquire(t, 5000, (0, 3, 15), buf))
    print("data", " ".join(str(x) for x in buf))
    print("t", t)
    try:
        h.acquire(t, 4000, (0,), buf)
    except ValueError as e:
        print("err", e)
    try:
        h.sim({"bogus": 1})
    except ValueError as e:
        print("err2", e)
    print("imp", h.impedance("CP4"), h.impedance("P1+"))
    try:
        h.impedance("nowhere")
    except ValueError as e:
        print("err3", e)
    """)
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


def test_ground_truth_and_scenario_control_from_the_firmware_side(sim_model: ModelServer) -> None:
    out = run_quiet(HAL_SETUP + """
    import json
    r = h.sim({"scenario": "cord_ischaemia", "seed": 11, "advance_s": 130, "groundtruth": True})
    print("gt", json.dumps(r["groundtruth"]["insults"][0]))
    h.sim({"estop": True, "interlock": False})
    print("safety", h.estop_pressed(), h.interlock_closed())
    """)
    r = lines(out)
    insult = json.loads(r["gt"])
    assert insult["started"] and insult["start_s"] == 120 and insult["progress"] > 0
    assert r["safety"] == "True False"
    assert sim_model.model.seed == 11 and sim_model.model.scenario.name == "cord_ischaemia"


def test_averaged_ssep_through_the_hal(sim_model: ModelServer) -> None:
    # 100 sweeps at 4.7 Hz through the real socket path; the device sums them.
    out = run_quiet(HAL_SETUP + """
    pulse(0, 1, 30000)
    buf = array.array("h", bytes(2 * 2 * 400))   # CP4, EPL: 80 ms at 5 kHz
    acc = array.array("i", bytes(4 * 800))
    period = 212766
    start = h.ticks_add(h.ticks_us(), 1000)
    for k in range(100):
        h.fire(tl, start)
        h.acquire(h.ticks_add(start, -10000), 5000, (1, 4), buf)
        for i in range(800):
            acc[i] += buf[i]
        start = h.ticks_add(start, period)
        h.idle(500, h.ticks_add(start, -10000))
    print("acc", " ".join(str(x) for x in acc))
    """)
    import numpy as np

    acc = np.array(lines(out)["acc"].split(), dtype=float).reshape(400, 2) / 100 * 0.125
    t = np.arange(400) * 0.2 - 10
    win = (t > 16) & (t < 23)
    n20 = t[win][np.argmin(acc[win, 0])]
    assert 18.5 <= n20 <= 20.5 and acc[win, 0].min() < -1.0
    assert sim_model.model.pulse_count == 100
    # The model's clock: the end of the last acquired window (the device's
    # idle jump after it is only seen with its next request).
    assert sim_model.model.now_us() == pytest.approx(0.001e6 + 99 * 212766 + 70000, abs=500)


REALTIME_BODY = """
    print("rt", h.realtime)
    buf = array.array("h", bytes(2 * 1000))
    a = h.ticks_us()
    h.acquire(a, 5000, (0,), buf)   # 200 ms of samples, not recorded yet
    print("waited", h.ticks_diff(h.ticks_us(), a))
"""


def test_realtime_mode_paces_to_wall_time(tmp_path) -> None:
    from simunit.model import HardwareModel

    server = ModelServer(HardwareModel(realtime=True), tmp_path / "rt.sock")
    with server:
        os.environ["STIMBOX_SIM_MODEL"] = str(server.path)
        try:
            t = time.monotonic()
            out = run_quiet(HAL_SETUP + REALTIME_BODY)
            wall = time.monotonic() - t
        finally:
            del os.environ["STIMBOX_SIM_MODEL"]
    r = lines(out)
    assert r["rt"] == "True"
    assert int(r["waited"]) >= 200_000 and wall >= 0.2


def test_hal_without_a_model_says_so() -> None:
    env = dict(os.environ)
    env.pop("STIMBOX_SIM_MODEL", None)
    p = subprocess.run([MICROPYTHON, "-c", PRELUDE + "from hal import Hal\nHal()"],
                       capture_output=True, text=True, env=env, timeout=30)
    assert p.returncode != 0 and "no hardware model (STIMBOX_SIM_MODEL is not set)" in p.stdout


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
