"""The pyboard v1.1 board (boards/stm32_pybv11): its HAL under MicroPython on
the fakes of tests/fakes/stm32port (pyb, machine, stm, time), with TIM1,
DMA2, the gated monitor ADC and the TIM4 counter played from the registers
the HAL programmed (stm32port/stm32hw.py). Every gate edge is compared with
the compiled timeline it came from, to the microsecond; and at the board's
100 KB heap, with the firmware run in place from ROMFS as a board runs its
frozen modules, what cannot fit is refused at VALIDATE by name."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import portstubs
import pytest
from mpy import BOTH, FIRMWARE, MCU32, run_mp_file
from stimbox import build

ROOT = Path(__file__).resolve().parents[1]
BOARD_DIR = ROOT / "boards" / "stm32_pybv11"
FAKES = ROOT / "tests" / "fakes" / "stm32port"
PATHS = (FIRMWARE, BOARD_DIR, FAKES)
BOARD = build.board_module("stm32_pybv11")
PERIOD = {"unix": 2**62, "mcu32": 2**30}

# Timeline rows: t_us, output (TC 0, P1 1, P2 2, PR 3), amp, w1, gap, w2, amp2, anodes, cathodes.
TCMEP_TRAIN = [[k * 2000, 0, 300000, 75, 0, 0, 0, 1, 2] for k in range(5)]
SSEP_PAIR = [[0, 1, 20000, 200, 0, 0, 0, 1, 2], [100000, 2, 20000, 200, 0, 0, 0, 2, 1]]
# A balanced biphasic pulse with no gap, then 2.5 s later (coarse timer
# periods) an asymmetric one with a 20 us gap.
BIPHASIC = [[0, 3, 5000, 200, 0, 200, -5000, 1, 2], [2500000, 3, 5000, 200, 20, 400, -2500, 1, 2]]
TIMELINES = [TCMEP_TRAIN, SSEP_PAIR, BIPHASIC]
LEAD_US = 20000


def device(runtime: str, data: dict, heap: str = "256k") -> dict:
    out = run_mp_file("device/stm32_hal.py", data=data, paths=PATHS, runtime=runtime, heap=heap)
    return json.loads(out.strip().splitlines()[-1])


def dac_code(row: list[int], amp: int) -> int:
    o = BOARD.OUTPUTS[row[1]]
    return (abs(amp) // o["res"]) * 4095 // (o["max"] // o["res"])


def expected_gates(rows: list[list[int]], start: int, period: int) -> dict:
    """Per bridge diagonal, [on, off, DAC word] of every phase, from the
    rows alone: phase 1 drives current from the anode (electrode 0 to 1 is
    forward), phase 2 the other way; the DAC word carries both phases'
    codes, the forward diagonal's in the low half."""
    gates: dict[str, list] = {"fwd": [], "rev": []}
    for row in rows:
        t, _, amp, w1, gap, w2, amp2, an, _ = row
        g1 = "fwd" if (amp > 0) == bool(an & 1) else "rev"
        g2 = "rev" if g1 == "fwd" else "fwd"
        c1, c2 = dac_code(row, amp), dac_code(row, amp2)
        word = (c2 << 16 | c1) if g1 == "fwd" else (c1 << 16 | c2)
        on = start + t
        gates[g1].append([on % period, (on + w1) % period, word])
        if w2:
            gates[g2].append([(on + w1 + gap) % period, (on + w1 + gap + w2) % period, word])
    for g in gates.values():
        g.sort()
    return gates


@pytest.fixture(scope="module", params=BOTH)
def fired(request) -> tuple[str, dict]:
    # One device run per runtime plays all three timelines; the clock
    # starts 30 ms before the 32-bit tick wrap, so the first segment's
    # pulses lie across it on mcu32.
    runtime = request.param
    return runtime, device(runtime, {"case": "fire", "t0": 2**30 - 30000, "lead_us": LEAD_US,
                                     "timelines": TIMELINES})


@pytest.mark.parametrize("which", range(len(TIMELINES)), ids=["tcmep_train", "ssep_pair", "biphasic"])
def test_every_gate_edge_comes_from_the_dma_table_at_its_compiled_time(fired, which: int) -> None:
    runtime, r = fired
    run = r["runs"][which]
    rows = TIMELINES[which]
    got = {k: sorted(v) for k, v in run["gates"].items()}
    assert got == expected_gates(rows, run["start"], PERIOD[runtime])
    # Python set no edge: the gate and MARK pins were never written after
    # their set-up, and its only BSRR write was abort()'s all-off at fire().
    assert run["pin_writes"] == [0, 0, 0]
    assert run["bsrr_by_python"] == [run["all_off"]]
    assert run["enable"] == 1
    assert (run["done_before"], run["mon_before"], run["done"]) == (False, 0, True)


@pytest.mark.parametrize("which", range(len(TIMELINES)), ids=["tcmep_train", "ssep_pair", "biphasic"])
def test_the_monitor_trace_of_each_pulse_starts_pre_samples_before_it(fired, which: int) -> None:
    runtime, r = fired
    run = r["runs"][which]
    pre = BOARD.MONITOR_PRE_SAMPLES
    step = 1000000 // BOARD.MONITOR_RATE_HZ
    for row, tr in zip(TIMELINES[which], run["traces"], strict=True):
        _, _, amp, w1, gap, w2, amp2, an, _ = row
        cur, volt = tr["cur"], tr["volt"]
        assert tr["n"] == len(cur) > pre
        assert cur[:pre] == [0] * pre  # nothing before the scheduled start
        # stm32hw samples +-1000 while a diagonal is on: phase 1 from sample
        # `pre` on, for ceil(w1 / 4 us) samples.
        sign1 = 1 if (amp > 0) == bool(an & 1) else -1
        n1 = -(-w1 // step)
        assert cur[pre:pre + n1] == [1000 * sign1] * n1
        assert cur[pre + n1] == (-1000 * sign1 if w2 and gap < step else 0)
        # The phase's DAC code had landed before the gate opened.
        assert volt[pre] == sign1 * (dac_code(row, amp) // 4)
        if w2:
            assert cur.count(-1000 * sign1) == -(-(w1 + gap + w2) // step) - -(-(w1 + gap) // step)
            assert -sign1 * (dac_code(row, amp2) // 4) in volt


@pytest.mark.parametrize("runtime", BOTH)
def test_abort_drops_enable_stops_timer_and_dma_and_outputs_off_is_idempotent(runtime: str) -> None:
    # The TcMEP train stopped 2.1 ms after its first window opened: in the
    # middle of the second pulse's window.
    r = device(runtime, {"case": "abort", "rows": TCMEP_TRAIN, "until_us": LEAD_US + 2100})
    before = r["before"]
    assert before["enable"] == 1 and before["tim1_cr1"] & 1 and before["streams_en"] == [1, 1, 1]
    assert before["odr"] & r["gates_mask"] and not before["done"]
    a = r["abort"]
    assert (a["enable"], a["tim1_cr1"], a["tim1_dier"], a["streams_en"]) == (0, 0, 0, [0, 0, 0])
    assert a["odr"] & r["gates_mask"] == 0 and a["done"]
    assert r["abort2"] == a
    assert r["off"] == r["off2"] == {**a, "dac": 0}


@pytest.mark.parametrize("runtime", BOTH)
def test_hot_paths_allocate_nothing(runtime: str) -> None:
    calls = device(runtime, {"case": "heap", "rows": TCMEP_TRAIN})["calls"]
    assert calls.pop("control") == "allocated"  # the check sees an allocation
    assert calls == dict.fromkeys(calls, "ok") and len(calls) == 10


@pytest.mark.parametrize("runtime", ["mcu32"])  # register arithmetic: the 32-bit port's small ints
def test_pulse_counter_is_trusted_only_where_it_ran_on(runtime: str) -> None:
    rows = TCMEP_TRAIN[:3]
    fresh = device(runtime, {"case": "count", "rows": rows})
    assert fresh["first"].startswith("NotProvided: stm32_pybv11: the pulse counter restarted")
    assert fresh["after"] == fresh["bkp"] == 3
    ran_on = device(runtime, {"case": "count", "rows": rows, "running": True})
    assert (ran_on["first"], ran_on["after"], ran_on["bkp"]) == (700, 703, 703)
    seeded = device(runtime, {"case": "count", "rows": rows, "bkp": (0x1717 << 16) | 1234})
    assert seeded["first"].startswith("NotProvided") and seeded["after"] == 1237


@pytest.mark.parametrize("runtime", ["mcu32"])
def test_reset_cause_and_watchdog(runtime: str) -> None:
    # machine.reset_cause() codes of the stm32 port: SOFT 0, PWRON 1, HARD 2, WDT 3.
    r = device(runtime, {"case": "reset_cause",
                         "causes": [[3, False], [0, True], [0, False], [1, False], [2, False]]})
    assert r["causes"] == [["watchdog", None], ["soft", None],
                           ["interrupt", "soft reset from the REPL"], ["power_on", None],
                           ["hard", "reset button or hard_reset()"]]
    assert r["stop_watchdog"] is False and r["wdt_timeout"] == BOARD.WATCHDOG_MS


def _ssep(channels: int, rate: int, post_ms: int) -> dict:
    return {"type": "ssep", "count": 50, "rate_hz": 4.7, "sites": [
        {"site": "l_median", "out": "P1", "amp_ua": 20000, "width_us": 200,
         "record": {"channels": list(range(channels)), "rate_hz": rate, "pre_ms": 10,
                    "post_ms": post_ms, "band": [30, 1000], "blank_us": [100, 1500]}}]}


HEAP_CASES = [
    # No recording at all: the front-end does not fit beside the firmware
    # (board.py, record_channels_max).
    (_ssep(4, 4000, 90), "record_channels_max"),
    (_ssep(1, 2000, 50), "record_channels_max"),
    # A site without a record table: stimulation and read-back only.
    ({"type": "ssep", "count": 50, "rate_hz": 4.7, "sites": [
        {"site": "l_median", "out": "P1", "amp_ua": 20000, "width_us": 200}]}, None),
    ({"type": "tcmep", "out": "TC", "amp_mv": 300000, "width_us": 75, "pulses": 5,
      "isi_us": 2000, "count": 3, "rate_hz": 0.5}, None),
    (_ssep(9, 2000, 50), "record_channels_max"),
    ({"type": "tcmep", "out": "TC", "amp_mv": 500000, "width_us": 75, "pulses": 5,
      "isi_us": 2000, "count": 3, "rate_hz": 0.5}, "amplitude"),
    # Both median nerves at once: one bridge serves every output.
    ({"type": "ssep", "count": 10, "rate_hz": 4.7, "sites": [
        {"site": "l_median", "out": "P1", "amp_ua": 20000, "width_us": 200},
        {"site": "r_median", "out": "P2", "amp_ua": 20000, "width_us": 200, "offset_us": 0}]},
     "pulse_overlap"),
]


def test_at_the_pyboard_heap_what_cannot_fit_is_refused_at_validate(tmp_path, monkeypatch) -> None:
    # mcu32 only: heap figures are the 32-bit port's. The firmware, the
    # board and the fakes go into a ROMFS image as .mpy and run in place;
    # what a 100 KB heap would not have free is held back (boards/sim/
    # simunit/romflash.py, docs/SIMULATOR.md, Heap).
    if not os.access(MCU32, os.X_OK):
        pytest.skip(f"board-like runtime not found at {MCU32}")
    from simunit import romflash

    image = build.build_image("stm32_pybv11", tmp_path / "flash", arch="x86")
    for f in FAKES.glob("*.py"):
        build.compile_file(f, image.slot_dir / (f.stem + ".mpy"), "x86")
    (tmp_path / "flash" / "fw" / "active").write_text(image.slot)
    rom = romflash.build(tmp_path / "flash", tmp_path / "rom.img")
    assert rom is not None
    for k, v in romflash.env(MCU32, "100k", rom, tmp_path / "rom.json").items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("STIMBOX_TEST_SLOT", image.slot)
    out = run_mp_file("device/stm32_validate.py", data={"protocols": [p for p, _ in HEAP_CASES]},
                      paths=(), runtime="mcu32", heap=romflash.process_heap("100k", rom))
    lines = [json.loads(s) for s in out.strip().splitlines()]
    results, figures = lines[:-1], lines[-1]
    print("stm32_pybv11 at 100k:", figures, [r[:3] if r[0] == "ok" else r[:1] for r in results])
    assert len(results) == len(HEAP_CASES)
    for (_, limit), r in zip(HEAP_CASES, results, strict=True):
        assert r[0] != "MemoryError", r
        if limit is None:
            assert r[0] == "ok" and r[2] > 0, r  # set up, fired and played with heap to spare
        else:
            assert r[0] == "refused" and r[1]["limit"] == limit, r


def _stub(name: str) -> ast.Module:
    # From the port's own stubs folder: in site-packages another port's
    # machine.pyi may have overwritten this one's.
    return ast.parse((portstubs.folder("micropython-stm32-pybv11-stubs") / name).read_text())


def _constants(tree: ast.Module | ast.ClassDef) -> dict[str, int]:
    out = {}
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            try:
                out[node.target.id] = ast.literal_eval(node.value)
            except ValueError:
                pass
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return out


def test_the_fakes_follow_the_port_stubs() -> None:
    stm_stub = _constants(_stub("stm.pyi"))
    fake = _constants(ast.parse((FAKES / "stm.py").read_text()))
    shared = {k: v for k, v in fake.items() if k in stm_stub}
    assert len(shared) > 50 and shared == {k: stm_stub[k] for k in shared}
    assert set(fake) - set(stm_stub) <= {"PWR", "LOG"}  # the fake's own, said so in it
    machine_stub = _constants(_stub("machine.pyi"))
    fake_machine = _constants(ast.parse((FAKES / "machine.py").read_text()))
    for k in ("SOFT_RESET", "PWRON_RESET", "HARD_RESET", "WDT_RESET", "DEEPSLEEP_RESET"):
        assert fake_machine[k] == machine_stub[k]
    pyb_stub = _stub("pyb.pyi")
    stub_classes = {c.name: c for c in pyb_stub.body if isinstance(c, ast.ClassDef)}
    fake_pyb = {c.name: c for c in ast.parse((FAKES / "pyb.py").read_text()).body
                if isinstance(c, ast.ClassDef)}
    for name in ("Pin", "DAC"):
        want = _constants(stub_classes[name])
        have = _constants(fake_pyb[name])
        assert have == {k: want[k] for k in have}, name
        stub_methods = {f.name for f in stub_classes[name].body if isinstance(f, ast.FunctionDef)}
        fake_methods = {f.name for f in fake_pyb[name].body if isinstance(f, ast.FunctionDef)}
        assert fake_methods - {"drive"} <= stub_methods, name  # drive(): the test's side


@pytest.mark.parametrize("runtime", BOTH)
def test_acquire_reads_the_window_from_the_front_end_ring(runtime: str) -> None:
    # The ADS1299 peer model behind SPI2 (tests/ads1299_peer.py), its clock
    # the timeline clock; channel c sees (c + 1) uV times the conversion
    # number. acquire() waits for the window and returns its frames.
    out = run_mp_file("device/stm32_hal.py", paths=(FIRMWARE, ROOT / "tests") + PATHS[1:],
                      data={"case": "acquire", "channels": [0, 2], "samples": 40, "rate": 4000},
                      runtime=runtime, heap="512k")
    r = json.loads(out.strip().splitlines()[-1])
    assert (r["n"], r["rate"], r["lost"], r["irq_alloc"]) == (40, 4000, 0, 0)
    assert r["count"] >= r["first"] + 40  # the window was sampled before it returned
    lsb = BOARD.AMP_UV_PER_LSB
    for i in range(40):
        n = r["first"] + i
        assert abs(r["buf"][2 * i] - n / lsb) <= 1
        assert abs(r["buf"][2 * i + 1] - 3 * n / lsb) <= 1
    assert r["imp"]
