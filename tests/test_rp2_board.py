"""The Pico 2 bench unit's HAL (boards/rp2_pico2/hal.py) under MicroPython,
on stand-ins of the rp2 port's machine and rp2 modules (tests/fakes/rp2port,
following micropython-rp2-rpi-pico2-stubs) that keep what the HAL asked of
the hardware, and the ADS1299 register model for its front-end: the stimulus
goes to the state machine by DMA as stimpio's words and Python sets no edge,
abort stops everything, the pulse count survives a reset, the monitor and
acquisition paths allocate nothing, and the whole firmware with this board's
tables runs a protocol's set-up in the board's heap on the 32-bit runtime."""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import portstubs
import pytest
from mpy import BOTH, FIRMWARE, run_mp_file
from stimbox import build

ROOT = Path(__file__).resolve().parents[1]
BOARD_DIR = ROOT / "boards" / "rp2_pico2"
FAKES = ROOT / "tests" / "fakes" / "rp2port"
TESTS = ROOT / "tests"
BOARD = build.board_module("rp2_pico2")
PATHS = (FIRMWARE, BOARD_DIR, TESTS, FAKES)


def _stimpio() -> Any:
    spec = importlib.util.spec_from_file_location("stimpio_host", BOARD_DIR / "stimpio.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


STIMPIO = _stimpio()


def device(scenario: str, runtime: str, data: Any = None, heap: str = "470k") -> Any:
    out = run_mp_file("device/rp2_hal.py", scenario, data=data, heap=heap, paths=PATHS,
                      runtime=runtime)
    return json.loads(out.strip().splitlines()[-1])


# Rows: t_us, output, amp, w1_us, gap_us, w2_us, amp2, anodes, cathodes.
TC, P1, PR = 0, 1, 5
TCMEP = [[k * 2000, TC, 300000, 75, 0, 0, 0, 0b01, 0b10] for k in range(5)]
MIXED = [
    [0, P1, 20000, 200, 0, 0, 0, 1, 2],              # cathodic monophasic
    [3000, P1, -15000, 100, 0, 0, 0, 1, 2],          # anodic: phase 1 negative
    [7000, PR, 5000, 100, 50, 100, -5000, 1, 2],     # biphasic with a gap
    [11000, PR, -3000, 150, 0, 150, 3000, 1, 2],     # anodic biphasic, no gap
]


def expected_edges(rows: list[list[int]], delay: int) -> list[tuple[int, int]]:
    """The gate changes of this board's wiring: GATE_1 (state 1) for each
    pulse's first phase, GATE_2 (state 2) for its second."""
    out = []
    for t, _o, _a, w1, gap, w2, _a2, _an, _ca in rows:
        s = delay + t
        out.append((s, 1))
        if w2 and not gap:
            out.append((s + w1, 2))
            out.append((s + w1 + w2, 0))
            continue
        out.append((s + w1, 0))
        if w2:
            out.append((s + w1 + gap, 2))
            out.append((s + w1 + gap + w2, 0))
    return out


@pytest.mark.parametrize("runtime", BOTH)
@pytest.mark.parametrize("rows", [TCMEP, MIXED], ids=["tcmep", "mixed"])
def test_fire_hands_the_stream_to_dma_and_the_state_machine(runtime: str, rows: list) -> None:
    r = device("fire", runtime, rows)
    dma = r["dma"]
    # The whole stream, word by word from the preallocated buffer into PIO0
    # SM0's TX FIFO, paced by its DREQ.
    assert dma["read_is_stream"] and dma["write"] == 0x50200010 and dma["running"]
    assert dma["count"] == r["expected_words"] and dma["treq"] == 0
    assert (dma["size"], dma["inc_read"], dma["inc_write"]) == (2, 1, 0)
    sm = r["sm"]
    assert sm["program_is"] and sm["freq"] == STIMPIO.PIO_FREQ_HZ and sm["running"]
    assert sm["out_base"] == BOARD.PINS["GATE_1"] and sm["jmp_pin"] == BOARD.PINS["HV_EN"]
    # Python set no edge: the gate pins were not written after set-up; the
    # enable is a level, raised before the stream starts.
    assert r["gates_untouched"] and r["enable"] == 1
    assert r["order"]["enable"] < r["order"]["dma"] < r["order"]["sm"]
    assert r["done_before"] is False
    # The edges the words ask for are the timeline's, from its start.
    edges = [tuple(e) for e in STIMPIO.decode(r["words"], len(r["words"]))]
    assert [tuple(e) for e in r["edges"]] == edges
    delay = edges[0][0] - rows[0][0]
    assert 0 < r["start_in_us"] - delay < 1000  # scheduled 5 ms ahead, less the set-up time
    assert edges == expected_edges(rows, delay)


def test_settings_follow_each_pulse_at_its_phase_ends() -> None:
    # One runtime: what is checked is table arithmetic, the same on both.
    r = device("fire", "unix", MIXED)
    table = r["settings_table"]
    slots = [table[3 * k: 3 * k + 3] for k in range(len(table) // 3)]

    def words(row: list[int]) -> list[int]:
        _t, o, a, _w1, _g, _w2, a2, an, ca = row
        res = BOARD.OUTPUTS[o]["res"]
        return [abs(a) // res, abs(a2) // res, o << 13 | (a < 0) << 12 | an << 6 | ca]

    # Pulse 0 before the stream; then per phase end: pulse 0 ends -> pulse 1;
    # 1 ends -> 2; 2's first phase ends (gap) -> 2 again; 2 ends -> 3; 3 ends
    # (no gap: one falling edge) -> 3 again.
    want = [MIXED[k] for k in (0, 1, 2, 2, 3, 3)]
    assert slots[: len(want)] == [words(w) for w in want]
    assert r["settings_first"] == words(MIXED[0])
    assert r["kick"]["count"] == len(want) - 1 and r["kick"]["write_is_set_trigger"]
    assert r["kick"]["treq"] == 32 + BOARD.PWM_GATE_END_SLICE and r["kick"]["running"]


@pytest.mark.parametrize("runtime", BOTH)
def test_abort_stops_the_machine_drops_gates_and_enable_and_outputs_off_repeats(runtime: str) -> None:
    r = device("abort", runtime, TCMEP)
    assert r["running_before"] == [True, True, False]
    a = r["after"]
    assert a["sm_running"] is False and a["last_exec"] == r["gates_off_instr"]
    assert a["enable"] == 0 and a["dma_running"] == [False, False, False] and a["aborted_all"]
    # State machine stopped, then gates forced low, then the enable dropped.
    assert a["order"][0] < a["order"][1] < a["order"][2]
    assert a["done"] is True
    # outputs_off twice (heap locked): DACs to zero and relays open each time.
    assert r["off_words"] == [0, 0, 0, 0, 0, 0]
    assert r["enable_after_off"] == 0 and r["sm_after_off"] is False and r["done_after_off"]


@pytest.mark.parametrize("runtime", BOTH)
def test_fire_done_waits_for_the_stream_or_its_cut_then_drops_the_enable(runtime: str) -> None:
    r = device("played", runtime, TCMEP)
    assert r[:3] == [[False, 1], [False, 1], [True, 0]]
    # Cut by ENABLE under it: done at once, the stream's DMA aborted.
    assert r[3:] == [[False, 1], [True, 0, False]]


@pytest.mark.parametrize("runtime", BOTH)
def test_fired_count_is_the_hardware_counter_kept_across_a_reset(runtime: str) -> None:
    r = device("count", runtime)
    assert r["fresh"] == 0
    assert r["reloaded"] == 65534 and r["after_wrap"] == 1
    m = r["mirror"]
    # The counter's register copied, endlessly and without the CPU, into
    # the scratch register that outlives a watchdog reset.
    assert m["read"] == r["ctr_addr"] and m["running"] and m["inc"] == [0, 0]
    assert m["count"] >> 28 == 1 and m["treq"] == 0x3B
    assert r["cause"] == ["watchdog", None]
    assert r["soft"] == [9, ["soft", None]]


@pytest.mark.parametrize("runtime", BOTH)
def test_monitor_returns_each_pulse_from_the_ring_allocating_nothing(runtime: str) -> None:
    rows = [[0, P1, 20000, 200, 0, 0, 0, 1, 2], [1500, PR, 5000, 100, 40, 100, -5000, 1, 2]]
    r = device("monitor", runtime, {"rows": rows, "start_in_us": 3000, "before_end": 900})
    assert r["early"] == 0  # not sampled yet
    pre = BOARD.MONITOR_PRE_SAMPLES
    us = 1000000 // BOARD.MONITOR_RATE_HZ
    for row, trace in zip(rows, r["traces"], strict=True):
        _t, o, a, w1, gap, w2, a2, _an, _ca = row
        lsb = BOARD.OUTPUTS[o]["mon_ua_lsb"]
        cur = trace[0::2]
        length = (w1 + gap + w2) // us
        assert len(cur) == pre + length + pre
        # Quiet before the scheduled start, the first phase from it on.
        assert cur[:pre] == [0] * pre
        assert cur[pre: pre + w1 // us] == [a // lsb] * (w1 // us)
        if w2:
            at = pre + (w1 + gap) // us
            assert cur[at: at + w2 // us] == [a2 // lsb] * (w2 // us)
        assert cur[-pre:] == [0] * pre


@pytest.mark.parametrize("runtime", BOTH)
def test_acquire_takes_the_window_from_the_front_end_ring(runtime: str) -> None:
    chans = [0, 9, 15]
    r = device("acquire", runtime, {"channels": chans, "rate_hz": 16000, "samples": 40})
    assert not r["irq_errors"] and r["irq_alloc"] == 0 and r["lost"] == 0
    p16 = r["p16"]
    for n, got, t16 in ((r["n1"], r["got1"], r["t0_16"]), (r["n2"], r["got2"], r["t1_16"])):
        assert n == 40
        # The frame converted nearest t0 comes first (DRDY is stamped a
        # little after its conversion: one frame of slack).
        first = (t16 - r["conv0_16"] + p16 // 2) // p16
        frames = [(got[3 * k] - 100) for k in range(n)]
        k0 = [f for f in range(first - 1, first + 2) if frames[0] == f % 50]
        assert k0, (first, frames[:3])
        for k in range(n):
            for j, ch in enumerate(chans):
                want = (ch % 8 + 1) * 100 + (k0[0] + k) % 50  # per device
                assert abs(got[3 * k + j] - want) <= 1


@pytest.mark.parametrize("runtime", ["unix"])
def test_impedance_comes_from_the_front_end_lead_off_measurement(runtime: str) -> None:
    # One runtime: the measurement is the driver's (tested on both there);
    # this checks which channel an electrode is on and the refusals.
    r = device("impedance", runtime)
    assert abs(r["AHL"] - 5000) <= 250
    assert abs(r["TARr"] - 8500) <= 425
    assert "no recording electrode 'C3'" in r["C3"] and "nowhere" in r["nowhere"]


@pytest.mark.parametrize("runtime", BOTH)
def test_safety_inputs_watchdog_and_reset_cause(runtime: str) -> None:
    r = device("safety", runtime)
    assert r["closed"] == [True, False] and r["open"] == [False, True]
    assert r["wdt"] == [BOARD.WATCHDOG_MS, 2, False]
    assert r["power_on"] == ["power_on", None] and r["watchdog"] == ["watchdog", None]
    assert r["reset"] == "machine.soft_reset"
    # A soft reset leaves the chip's reset reason stale; the HAL tells.
    assert r["after_reset"] == ["soft", None]
    assert r["next_boot"] == ["power_on", None]
    assert r["sim"] == "Unsupported"


@pytest.mark.parametrize("runtime", BOTH)
def test_the_board_hal_keeps_the_contract_on_micropython(runtime: str) -> None:
    from test_board_contract import REQUIRED, SIGS

    calls = {n: len(s.parameters) - 1 for n, s in SIGS.items()}
    out = run_mp_file("device/contract_check.py", runtime=runtime, paths=PATHS, heap="470k",
                      data={"calls": calls, "board": True})
    r = json.loads(out.strip().splitlines()[-1])["board"]
    assert "import_error" not in r, r
    assert r["subclass"] and set(REQUIRED) <= set(r["overridden"])


def test_board_declares_this_hardware() -> None:
    b = BOARD
    assert (b.NAME, b.MCU, b.MPY_ARCH, b.TICKS_PERIOD, b.HEAP_BYTES) == \
        ("rp2_pico2", "RP2350", "armv7emsp", 2**30, 470 * 1024)
    assert b.USB_MATCH == {"product": "StimBox"} and (0x2E8A, 0x0005) not in b.USB_IDS
    sim = build.board_module("sim")
    assert set(b.LIMITS) == set(sim.LIMITS)
    per_output = set(next(iter(sim.LIMITS["outputs"].values())))
    assert all(set(v) == per_output for v in b.LIMITS["outputs"].values())
    # Every pin once; the gates consecutive from GATE_1, as the program drives them.
    assert len(set(b.PINS.values())) == len(b.PINS)
    assert b.PINS["GATE_2"] == b.PINS["GATE_1"] + STIMPIO.GATE_PINS - 1
    # PWM edge counting uses a slice's B input: an odd GPIO, slice = gpio // 2.
    for pin, sl in (("GATE_1_SENSE", b.PWM_PULSE_SLICE), ("GATE_END_SENSE", b.PWM_GATE_END_SLICE)):
        assert b.PINS[pin] % 2 == 1 and b.PINS[pin] // 2 % 8 == sl
    for o in b.OUTPUTS:
        assert o["max"] // o["res"] < 4096  # the 12-bit amplitude DACs
    assert set(b.AMP_INPUTS) == set(b.AMP_ELECTRODES)
    assert all(0 <= ch < b.AMP_CHANNELS for ch, _side in b.AMP_INPUTS.values())
    assert set(b.AMP_RATES_HZ) <= {250, 500, 1000, 2000, 4000, 8000, 16000}


SSEP = {"type": "ssep", "count": 60, "rate_hz": 5.1,
        "sites": [{"site": "l_median", "amp_ua": 30000, "width_us": 300},
                  {"site": "r_median", "amp_ua": 30000, "width_us": 300}]}


def test_firmware_with_this_board_runs_a_protocol_in_its_heap(tmp_path: Path) -> None:
    """The firmware image built for this board (for the 32-bit runtime's
    architecture), loaded into RAM with this board's tables, HAL and buffers
    at board.HEAP_BYTES, boots and sets up a run. A real unit runs the
    firmware frozen into flash (manifest.py), which leaves more heap."""
    from mpy import executable
    from stimbox.runtime import probe

    arch = probe(executable("mcu32")).mpy_arch
    image = build.build_image("rp2_pico2", tmp_path / "image", arch=arch)
    out = run_mp_file("device/rp2_hal.py", "budget", data=SSEP, heap=f"{BOARD.HEAP_BYTES // 1024}k",
                      paths=(image.slot_dir, TESTS, FAKES), runtime="mcu32")
    r = json.loads(out.strip().splitlines()[-1])
    print(f"rp2_pico2 on mcu32, {r['heap']} B heap: {r['boot_free']} B free before App(), "
          f"{r['app_free']} after, {r['run_free']} with a run set up", file=sys.stderr)
    assert r["state"] == "STIMULATING" and r["fires"] >= 1
    assert r["run_free"] > 32 * 1024


# --- the stand-ins follow the port's stubs -------------------------------------------
STUB_PACKAGE = "micropython-rp2-rpi-pico2-stubs"
FAKED = {
    "machine": {"Pin": ("__init__", "init", "value", "irq", "on", "off"), "ADC": ("__init__", "read_u16"),
                "WDT": ("__init__", "feed"), "SPI": ("__init__", "init", "read", "readinto", "write",
                                                      "write_readinto", "deinit"),
                None: ("reset_cause", "soft_reset", "reset", "disable_irq", "enable_irq", "idle",
                       "freq", "unique_id")},
    "rp2": {"PIO": ("__init__", "state_machine", "add_program", "remove_program", "irq"),
            "StateMachine": ("__init__", "init", "active", "restart", "exec", "put", "get",
                             "tx_fifo", "rx_fifo", "irq"),
            "DMA": ("__init__", "config", "pack_ctrl", "unpack_ctrl", "active", "close", "irq"),
            "DMATimer": ("__init__", "close"), None: ("asm_pio", "asm_pio_encode")},
}


def _stub_file(module: str) -> Path | None:
    # From the port's own stubs folder: in site-packages another port's
    # machine.pyi may have overwritten this one's.
    root = portstubs.folder(STUB_PACKAGE)
    return next((p for p in (root / f"{module}.pyi", root / module / "__init__.pyi") if p.exists()), None)


def _functions(tree: ast.Module, cls: str | None) -> dict[str, list[ast.FunctionDef]]:
    body = tree.body
    if cls is not None:
        node = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls)
        body = node.body
    out: dict[str, list[ast.FunctionDef]] = {}
    for n in body:
        if isinstance(n, ast.FunctionDef):
            out.setdefault(n.name, []).append(n)
    return out


def _params(fn: ast.FunctionDef) -> tuple[list[str], set[str], bool]:
    a = fn.args
    pos = [p.arg for p in a.posonlyargs + a.args if p.arg != "self"]
    return pos, {p.arg for p in a.kwonlyargs}, a.kwarg is not None


@pytest.mark.parametrize("module", sorted(FAKED))
def test_the_stand_ins_take_the_stub_signatures(module: str) -> None:
    stub = _stub_file(module)
    if stub is None:
        pytest.skip(f"{STUB_PACKAGE} is not installed (pip install '.[test]')")
    stub_tree = ast.parse(stub.read_text())
    fake_tree = ast.parse((FAKES / f"{module}.py").read_text())
    problems = []
    for cls, names in FAKED[module].items():
        stubs, fakes = _functions(stub_tree, cls), _functions(fake_tree, cls)
        for name in names:
            where = f"{module}.{cls + '.' if cls else ''}{name}"
            assert name in stubs, f"{where} is not in the stubs"
            fpos, fkw, fany = _params(fakes[name][0])
            # Every form the stubs allow (overloads included) is accepted,
            # with the stubs' parameter names.
            for form in stubs[name]:
                spos, skw, _ = _params(form)
                if fpos[: len(spos)] != spos:
                    problems.append(f"{where}: positional {fpos}, stubs {spos}")
                missing = skw - fkw - set(fpos)
                if missing and not fany:
                    problems.append(f"{where}: lacks keywords {sorted(missing)}")
    assert not problems, "\n".join(problems)


def test_what_this_board_cannot_do_is_refused_at_validate_naming_it() -> None:
    from stimfw.stim import protocol

    with pytest.raises(Exception, match="no output 'SCS'"):  # no SCS lead port
        protocol.normalise({"type": "scs", "pairs": [["E1", "E2"]]}, BOARD)
    # What it can do passes the same check, on its own outputs.
    assert protocol.normalise(SSEP, BOARD)["streams"][1]["out"] == 2
