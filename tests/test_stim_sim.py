"""Stimulation end to end on the simulated unit: plans, runs with delivered
charge, refusals by limit, and every way a run is stopped and logged."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from simunit.supervisor import SimUnit
from stimbox import protocols
from stimbox.build import board_module
from stimbox.client import StimBox
from stimbox.errors import DeviceError, LimitError
from stimbox.session import RunResult, run_protocol

STIMBOX = str(Path(sys.executable).with_name("stimbox"))
BOARD = board_module("sim")


def proto(name: str, **changes: object) -> dict:
    p = protocols.load(name, BOARD)
    p.update(changes)
    return p


def kinds(events: list[dict]) -> list[str]:
    return [e["kind"] for e in events]


def test_plan_prints_the_exact_edges_of_a_tcmep_train(sim_unit: SimUnit) -> None:
    r = subprocess.run([STIMBOX, "plan", "tcmep", "--port", sim_unit.port],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    rows = [ln.split() for ln in lines if ln.split() and ln.split()[0].isdigit() and ln.split()[1] == "TC"]
    # 5 pulses of 75 us at an ISI of 3 ms, anode C3: hand-computed edges.
    assert [row[5] for row in rows[:5]] == ["0..75", "3000..3075", "6000..6075", "9000..9075", "12000..12075"]
    assert all(row[1] == "TC" and row[2] == "C3>C4" and row[3] == "300000" for row in rows[:5])
    assert rows[5][5] == "2000000..2000075"  # next train after 1 / 0.5 Hz


@pytest.mark.parametrize("name", ["tcmep", "ssep", "temg", "scs", "dwave", "pulses"])
def test_plan_of_every_example(box: StimBox, name: str) -> None:
    plan = box.plan(proto(name))
    assert plan["rows"] and plan["hash"] == box.check_protocol(proto(name))["hash"]
    assert plan["figures"]["pulses"] >= len(plan["rows"])


def test_ssep_run_returns_per_pulse_delivered_charge(sim_unit: SimUnit, box: StimBox) -> None:
    p = proto("ssep", count=20)
    r = run_protocol(box, p)
    assert r.outcome == "complete" and len(r.pulses) == 40
    # 25 mA for 200 us is 5 uC; the unit measured it through its monitor ADC.
    assert all(abs(x.charge_nc - 5000) <= 50 and not x.flags for x in r.pulses)
    assert r.summary["charge_nc"] == sum(x.charge_nc for x in r.pulses)
    truth = sim_unit.model.ground_truth()["pulses"]
    assert truth["count"] == 40
    for measured, real in zip(r.pulses, truth["recent"][-40:], strict=True):
        assert abs(measured.charge_nc / 1000 - real["charge1_uC"]) <= 0.05


def test_tcmep_run_returns_per_pulse_delivered_charge(sim_unit: SimUnit, box: StimBox) -> None:
    r = run_protocol(box, proto("tcmep", count=2))
    assert r.outcome == "complete" and len(r.pulses) == 10
    truth = sim_unit.model.ground_truth()["pulses"]["recent"][-10:]
    for measured, real in zip(r.pulses, truth, strict=True):
        assert real["output"] == "TC"
        assert measured.charge_nc > 0
        assert abs(measured.charge_nc / 1000 - real["charge1_uC"]) <= 0.02 * real["charge1_uC"] + 0.05


@pytest.mark.parametrize(
    "name, changes, limit, value",
    [
        ("tcmep", {"amp_mv": 1001000}, "amplitude", 1001000),
        ("tcmep", {"width_us": 501}, "pulse_width", 501),
        ("dwave", {"amp_mv": 1001000}, "amplitude", 1001000),
    ],
)
def test_one_step_over_a_limit_is_refused_by_the_unit_with_its_name(
    box: StimBox, name: str, changes: dict, limit: str, value: int
) -> None:
    # Exhaustive per-limit refusals run on the firmware in
    # test_protocol_limits.py; this checks the same reach the host intact.
    with pytest.raises(LimitError) as e:
        box.check_protocol(proto(name, **changes))
    d = e.value.detail
    assert d["limit"] == limit and d["value"] == value and d["min"] <= d["max"] < value
    assert limit in e.value.message
    assert box.status()["state"] == "IDLE"


def test_cli_run_shows_the_limit_value_and_range(sim_unit: SimUnit, tmp_path: Path) -> None:
    f = tmp_path / "hot.toml"
    f.write_text((protocols.PROTOCOLS_DIR / "ssep.toml").read_text().replace("amp_ua = 25000", "amp_ua = 100100", 1))
    r = subprocess.run([STIMBOX, "run", str(f), "--port", sim_unit.port], capture_output=True, text=True, timeout=60)
    assert r.returncode == 4
    assert "refused by the unit: limit" in r.stderr and "100100" in r.stderr and r.stderr.count("\n") == 1


def test_arming_needs_the_interlock_and_the_refusal_is_logged(box: StimBox) -> None:
    box.sim(interlock=False)
    h = box.check_protocol(proto("ssep"))["hash"]
    with pytest.raises(DeviceError) as e:
        box.arm(h)
    assert e.value.name == "interlock"
    assert "arm_refused" in kinds(box.events()["events"])
    box.sim(interlock=True)
    with pytest.raises(DeviceError, match="not the last validated"):
        box.arm("0" * 64)
    assert box.arm(h)["state"] == "ARMED"
    box.disarm()


def _after_pulses(n: int, action):
    def during(box: StimBox, r: RunResult) -> None:
        if len(r.pulses) >= n and not getattr(during, "done", False):
            during.done = True  # type: ignore[attr-defined]
            action(box, r)
    return during


def _pulses_after_end(unit: SimUnit, r: RunResult) -> int:
    """Pulses the hardware delivered beyond those the unit reported."""
    return unit.model.ground_truth()["pulses"]["count"] - len(r.pulses)


def test_interlock_opened_mid_run_stops_disarms_and_logs(sim_unit: SimUnit, box: StimBox) -> None:
    r = run_protocol(box, proto("ssep"), during=_after_pulses(10, lambda b, _: b.sim(interlock=False)))
    assert r.outcome == "interlock_open" and len(r.pulses) < 400
    assert {"kind": "disarmed", "reason": "interlock_open"}.items() <= r.events[-1].items()
    assert box.status()["state"] == "IDLE"
    truth = sim_unit.model.ground_truth()["safety"]
    assert truth["pulses_while_interlock_open"] == 0
    assert _pulses_after_end(sim_unit, r) == 0


def test_heartbeat_loss_stops_disarms_and_logs(firmware_image, new_unit) -> None:
    # Real time, so that the unit's 1 s watchdog sees the host fall silent
    # while the run still goes on.
    with new_unit(realtime=True) as unit:
        from stimbox.build import install_offline

        install_offline(firmware_image, unit.flash)
        with StimBox.connect(unit.port) as b:
            def silence(box: StimBox, r: RunResult) -> None:
                r.heartbeat = False

            r = run_protocol(b, proto("ssep", count=20), during=_after_pulses(2, silence))
            assert r.outcome == "heartbeat_lost"
            assert any(e["kind"] == "disarmed" and e["reason"] == "heartbeat_lost" for e in r.events)
            assert 2 <= len(r.pulses) < 40
            assert b.status()["state"] == "IDLE"
            assert _pulses_after_end(unit, r) == 0


def test_estop_ends_output_faults_and_needs_release_to_clear(sim_unit: SimUnit, box: StimBox) -> None:
    r = run_protocol(box, proto("ssep"), during=_after_pulses(6, lambda b, _: b.sim(estop=True)))
    assert r.outcome == "estop" and "estop" in kinds(r.events)
    assert box.status()["state"] == "FAULT"
    assert sim_unit.model.ground_truth()["safety"]["pulses_while_estop"] == 0
    with pytest.raises(DeviceError, match="release"):
        box.disarm()
    box.sim(estop=False)
    assert box.disarm()["state"] == "IDLE"
    assert "fault_cleared" in kinds(box.events()["events"])


def test_stop_command_ends_output_within_one_pulse_period(sim_unit: SimUnit, box: StimBox) -> None:
    r = run_protocol(box, proto("ssep"), during=_after_pulses(8, lambda b, _: b.stop()))
    assert r.outcome == "stop_command"
    assert "stopped" in kinds(r.events)
    assert _pulses_after_end(sim_unit, r) == 0


@pytest.mark.parametrize(
    "sim, flag",
    [
        ({"load": {"output": "P1", "kind": "open"}}, "open"),
        ({"load": {"output": "P1", "kind": "short"}}, "short"),
        ({"stage": {"output": "P1", "compliance": 10000}}, "compliance"),
    ],
)
def test_bad_electrodes_flag_pulses_and_repeated_flags_abort(box: StimBox, sim: dict, flag: str) -> None:
    box.sim(**sim)
    r = run_protocol(box, proto("ssep", count=20))
    flagged = [p for p in r.pulses if flag in p.flags]
    assert len(flagged) == 3  # three in a row on P1 end the run
    assert r.outcome == "output_fault"
    fault = [e for e in r.events if e["kind"] == "output_fault"]
    assert fault and flag in fault[0]["flags"]
    assert box.status()["state"] == "IDLE"
    assert all(p.charge_nc > 0 for p in r.pulses if not p.flags)


def test_a_record_table_too_big_for_the_heap_is_refused_and_the_unit_stays_up(box: StimBox) -> None:
    # 16 channels x 10000 samples per site cannot be averaged in this heap:
    # the unit must refuse it at validation, answer, and stay usable.
    p = proto("ssep", count=20)
    for site in p["sites"]:
        site["record"] = dict(site["record"], channels=list(range(16)), post_ms=500, rate_hz=20000)
    with pytest.raises(DeviceError) as e:
        box.check_protocol(p)
    # refused by the per-channel sample limit, named with its value and range
    assert e.value.name == "limit" and e.value.detail["limit"] == "samples"
    assert e.value.detail["value"] == 10200 and e.value.detail["max"] == 4096
    assert box.ping()["t_ms"] >= 0
    assert box.status()["state"] == "IDLE"


def test_a_run_across_the_32_bit_ticks_wrap_keeps_its_timing_and_averages(
        sim_unit: SimUnit, box: StimBox) -> None:
    # A board's time.ticks_us wraps at 2**30 us (17.9 min), as on the
    # board-like runtime; the 64-bit port's 2**62 never does. Start a run 4 s
    # before 2**30 us of the unit's clock so that it crosses it.
    now = box.sim()["now_us"]
    box.sim(advance_s=(2**30 - 4_000_000 - now) / 1e6)
    r = run_protocol(box, proto("ssep", count=40))
    assert r.outcome == "complete" and len(r.pulses) == 80
    recent = sim_unit.model.ground_truth()["pulses"]["recent"][-80:]
    assert recent[0]["t_us"] < 2**30 < recent[-1]["t_us"]
    for out in ("P1", "P2"):
        t = [p["scheduled_us"] for p in recent if p["output"] == out]
        gaps = [b - a for a, b in zip(t, t[1:], strict=False)]
        # 4.7 Hz on the unit's 1 us timeline, across the wrap as elsewhere.
        assert len(t) == 40 and gaps == [round(1e6 / 4.7)] * 39, gaps
    # Delivered when scheduled, but for the output stage's 1 us jitter.
    assert all(abs(p["t_us"] - p["scheduled_us"]) <= 3 for p in recent)
    for s in r.recording["streams"]:
        assert s["a"] == s["b"] == [20, 20, 20] and s["components"][0]["sweeps"] == 40
