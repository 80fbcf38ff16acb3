"""The rp2 stimulus PIO program (boards/rp2_pico2/stim.pio, stimpio.py).

Its opcodes are what pioasm assembles from the source; run in the RP2040 PIO
emulator (the RP2350's PIO has the same instruction set) and fed encode()'s
words through the TX FIFO as the DMA feeds it, every gate edge lands on the
firmware's compiled timeline; the gates never rise while ENABLE reads low and
fall within a few cycles of it dropping; encode() allocates nothing on either
MicroPython."""

# No `from __future__ import annotations` here: the emulator tells an
# input_source taking a State from one taking a cycle by its real annotation.
import importlib.util
import json
from array import array
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mpy import BOTH, FIRMWARE, ROOT, run_mp
from seq_common import BOARD
from stimfw.stim import compiler, limits, protocol
from stimfw.stim.timeline import COLUMNS, Timeline

pioasm = pytest.importorskip("adafruit_pioasm", reason="adafruit-circuitpython-pioasm not installed")
pioemu = pytest.importorskip("pioemu", reason="rp2040-pio-emulator not installed")

RP2 = ROOT / "boards" / "rp2_pico2"


def _load_stimpio() -> ModuleType:
    # By path: the board folder's package file is not this module's business.
    spec = importlib.util.spec_from_file_location("stimpio", RP2 / "stimpio.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


sp = _load_stimpio()
ENABLE_PIN = sp.GATE_PINS  # the emulator's jmp pin, just above the gates
GATES = (1 << sp.GATE_PINS) - 1
FIFO_DEPTH = 8  # TX joined
# Loop passes of a long segment that the runs below skip at once (see _run).
COMPRESS_ABOVE = 16


# --- the program is its source ------------------------------------------------

def test_opcodes_and_settings_are_what_pioasm_assembles_from_stim_pio() -> None:
    prog = pioasm.Program.from_file(str(RP2 / "stim.pio"))
    want = tuple(prog.assembled)
    assert sp.OPCODES == want, "stimpio.OPCODES must be (" + ", ".join(f"0x{o:04X}" for o in want) + ")"
    assert len(want) <= 32  # one PIO's instruction memory
    kw = prog.pio_kwargs
    assert (sp.WRAP_TARGET, sp.WRAP) == (kw["wrap_target"], kw["wrap"])
    assert kw["out_pin_count"] == sp.GATE_PINS and kw["out_shift_right"] and not kw["auto_pull"]
    assert kw["fifo_type"] == "tx"
    # The form rp2 loads: as @rp2.asm_pio(out_init=(PIO.OUT_LOW,) * 2,
    # set_init=(PIO.OUT_LOW,) * 2, out_shiftdir=PIO.SHIFT_RIGHT,
    # fifo_join=PIO.JOIN_TX) would build it.
    data, off0, off1, execctrl, shiftctrl, out_init, set_init, sideset_init = sp.PROGRAM
    assert data.typecode == "H" and tuple(data) == want and (off0, off1) == (-1, -1)
    assert execctrl == kw["wrap"] << 12 | kw["wrap_target"] << 7
    assert shiftctrl == 1 << 30 | 1 << 19
    assert out_init == set_init == (2,) * sp.GATE_PINS and sideset_init is None
    assert sp.GATES_OFF_INSTR == pioasm.assemble("mov pins, null")[0]
    assert sp.PULL_NOBLOCK_INSTR == pioasm.assemble("pull noblock")[0]
    assert sp.OPCODES[sp.LATCHED_ADDR] == sp.LATCHED_ADDR  # stop: jmp stop


# --- the emulated state machine, fed as the DMA feeds it ------------------------

@dataclass
class Run:
    edges: list[tuple[int, int]]  # (cycle whose instruction set them, gate state)
    states: list[Any]  # emulator state after each emulated cycle, when kept


def _run(words: list[int], cycles: int, low: tuple[int, int] | None = None,
         dma_words: int | None = None, compress: bool = True, keep: bool = False,
         state0: Any = None) -> Run:
    """Emulate the program from reset for `cycles` PIO cycles. A DMA keeps the
    TX FIFO topped up from words (stopping after dma_words, as an aborted DMA
    does); ENABLE is high but for the cycles low = (first, end). state0: the state to start from
    instead of reset, its FIFO already holding the stream's first words.

    With compress, the long `hold`/`tick` loop of a segment jumps ahead by
    whole passes (each pass: jmp pin, jmp y--; nothing but Y changes while
    ENABLE is steady and the FIFO full), so a 100 ms timeline runs in a
    second; test_compression_changes_nothing proves it against a full run."""
    from pioemu import State, emulate

    feed = words[: len(words) if dma_words is None else dma_words]
    fed = min(FIFO_DEPTH, len(feed))
    state = state0 or State(pin_directions=GATES, transmit_fifo=deque(feed[:fed]))
    edges: list[tuple[int, int]] = []
    states: list[Any] = []
    hold_pc = sp.OPCODES.index(0x00CA)  # hold: jmp pin, tick

    def pins(s: State) -> int:
        return int(_enable(low, s.clock)) << ENABLE_PIN

    while True:
        jumped = False
        gen: Iterator[tuple[Any, Any]] = emulate(
            list(sp.OPCODES), stop_when=lambda _op, s: s.clock >= cycles, initial_state=state,
            input_source=pins, shift_osr_right=True, out_base=0, out_count=sp.GATE_PINS,
            jmp_pin=ENABLE_PIN, wrap_target=sp.WRAP_TARGET, wrap_top=sp.WRAP)
        for before, after in gen:
            if (after.pin_values ^ before.pin_values) & GATES:
                edges.append((before.clock, after.pin_values & GATES))
            fifo = after.transmit_fifo
            while len(fifo) < FIFO_DEPTH and fed < len(feed):
                fifo.append(feed[fed])
                fed += 1
            if keep:
                states.append(after)
            state = after
            y = after.y_register
            if compress and after.program_counter == hold_pc and y > COMPRESS_ABOVE:
                skip = y - COMPRESS_ABOVE
                end = after.clock + 2 * skip
                if end < cycles and (low is None or not any(after.clock < c <= end for c in low)):
                    state = replace(after, y_register=y - skip, clock=end)
                    jumped = True
                    break
        if not jumped:
            return Run(edges, states)


def _enable(low: tuple[int, int] | None, cycle: int) -> bool:
    return low is None or not low[0] <= cycle < low[1]


def _expected_edges(tl: Timeline, start_delay_us: int) -> list[tuple[int, int]]:
    """The timeline's edges in PIO cycles from reset, straight from its
    columns: phase 1 on, off (or straight to phase 2 without a gap), phase 2
    on, off; gate A for a positive amplitude, gate B for a negative one."""
    def gate(a: int) -> int:
        return sp.GATE_A if a >= 0 else sp.GATE_B

    us: list[tuple[int, int]] = []
    for i in range(tl.n):
        t, w1, gap, w2 = tl.t_us[i], tl.w1_us[i], tl.gap_us[i], tl.w2_us[i]
        us.append((t, gate(tl.amp[i])))
        if w2 and not gap:
            us.append((t + w1, gate(tl.amp2[i])))
        else:
            us.append((t + w1, 0))
            if w2:
                us.append((t + w1 + gap, gate(tl.amp2[i])))
        if w2:
            us.append((t + w1 + gap + w2, 0))
    # A phase 2 of phase 1's polarity without a gap is no edge.
    changes = [e for k, e in enumerate(us) if e[1] != (us[k - 1][1] if k else 0)]
    return [(sp.START_CYCLES + (start_delay_us + t) * sp.CYCLES_PER_US, g) for t, g in changes]


def _compile(wire: dict[str, Any]) -> Timeline:
    spec = protocol.normalise(wire, BOARD)
    limits.check(spec, BOARD)
    return compiler.compile_spec(spec)


def _stream(tl: Timeline, start_delay_us: int) -> list[int]:
    buf = array("I", [0] * sp.words_needed(tl))
    n = sp.encode(tl, buf, start_delay_us)
    assert n <= len(buf) <= sp.WORDS_PER_PULSE * tl.n + sp.TAIL_WORDS
    return list(buf[:n])


TCMEP = {"type": "tcmep", "amp_mv": 400000, "pulses": 5, "isi_us": 3000, "width_us": 75,
         "anode": "C4", "cathode": "C3"}
SSEP_PAIR = {"type": "ssep", "count": 1, "rate_hz": 4.7,
             "sites": [{"site": "l_median", "amp_ua": 25000, "width_us": 200},
                       {"site": "r_median", "amp_ua": 25000, "width_us": 200}]}
BIPHASIC = {"type": "temg", "amp_ua": 3000, "shape": "bi", "width_us": 200, "gap_us": 50,
            "width2_us": 400, "polarity": "anodic", "rate_hz": 3.3, "count": 1}
START_DELAY_US = 7


@pytest.mark.parametrize("wire", [TCMEP, SSEP_PAIR, BIPHASIC], ids=["tcmep_train", "ssep_pair",
                                                                    "biphasic"])
def test_every_edge_lands_on_the_compiled_timeline(wire: dict[str, Any]) -> None:
    tl = _compile(wire)
    want = _expected_edges(tl, START_DELAY_US)
    words = _stream(tl, START_DELAY_US)
    # decode() (the host's reading of a stream) agrees with the timeline too.
    assert [(sp.START_CYCLES + t * sp.CYCLES_PER_US, g) for t, g in sp.decode(words, len(words))] \
        == want
    got = _run(words, want[-1][0] + 50 * sp.CYCLES_PER_US).edges
    assert [g for _, g in got] == [g for _, g in want]
    # Within one PIO clock at 10 MHz (0.1 us); the program is in fact exact.
    assert max(abs(a - b) for (a, _), (b, _) in zip(got, want, strict=True)) <= 1
    assert got == want


def test_the_biphasic_pulse_drives_the_gates_it_should() -> None:
    # Anodic first: phase 1 of negative amplitude (gate B), then gate A.
    tl = _compile(BIPHASIC)
    assert (tl.amp[0], tl.amp2[0]) == (-3000, 1500)
    got = _run(_stream(tl, 0), 8000).edges
    assert [g for _, g in got] == [sp.GATE_B, 0, sp.GATE_A, 0]
    assert [b - a for (a, _), (b, _) in zip(got, got[1:], strict=False)] == [2000, 500, 4000]


def test_compression_changes_nothing() -> None:
    tl = _compile(BIPHASIC)
    words = _stream(tl, 30)
    cycles = 8000
    full = _run(words, cycles, compress=False).edges
    assert full == _run(words, cycles).edges
    assert len(full) == 4


# --- ENABLE interlock ------------------------------------------------------------

def _pulse_words() -> tuple[list[int], list[tuple[int, int]]]:
    tl = _compile(BIPHASIC)
    return _stream(tl, 2), _expected_edges(tl, 2)


def test_no_gate_edge_while_enable_is_low_from_the_start() -> None:
    words, want = _pulse_words()
    run = _run(words, want[-1][0] + 200, low=(0, 1 << 40), keep=True)
    assert run.edges == []
    assert all(s.pin_values & GATES == 0 for s in run.states)
    assert run.states[-1].program_counter == sp.LATCHED_ADDR


def test_enable_dropping_at_any_cycle_drops_the_gates_for_good() -> None:
    """ENABLE falls at every cycle around each edge of the biphasic pulse and
    at points inside each phase, and at every cycle of a stream of 1 us
    segments (returning high soon after, as a glitch): the
    gates are on for at most 3 cycles from the one ENABLE falls in, and never
    rise again until the HAL restarts the state machine. (The worst case is
    ENABLE falling in the very cycle of a rising edge, one after the check;
    the board's gate drivers, enabled by ENABLE itself, cover those 0.3 us.)"""
    words, want = _pulse_words()
    drops = sorted({e + d for e, _ in want for d in range(-4, 6)}
                   | {e + 700 + d for e, _ in want for d in range(0, 4)})
    # And every cycle of a stream of the shortest segments (1 us), with and
    # without an interphase gap: every place in the program, in every state.
    short = Timeline(2)
    short.add(0, 0, -100, 1, 1, 2, 100, 1, 2)
    short.add(5, 0, 100, 2, 0, 1, -100, 1, 2)
    short_words = _stream(short, 1)
    cases = [(words, d) for d in drops] + [
        (short_words, d) for d in range(_expected_edges(short, 1)[-1][0] + 8)]
    worst = 0
    for words, drop in cases:
        low = (drop, drop + 40)
        run = _run(words, drop + 300, low=low, keep=True)
        on = [s.clock - 1 for s in run.states if s.clock - 1 >= drop and s.pin_values & GATES]
        # on: the cycles (from the drop) at whose end a gate is still on.
        if on:
            assert on == list(range(drop, on[-1] + 1))
            worst = max(worst, len(on))
        # A gate rises only where the cycle before read ENABLE high (the
        # `jmp pin` just before `out pins`), and never after the drop.
        assert all(g == 0 or _enable(low, t - 1) for t, g in run.edges)
        assert all(g == 0 for t, g in run.edges if t > drop)
        assert run.states[-1].program_counter == sp.LATCHED_ADDR
    assert worst == 3
    print(f"ENABLE low -> gates low: worst {worst} PIO cycles "
          f"({worst * 1e6 / sp.PIO_FREQ_HZ:.1f} us at {sp.PIO_FREQ_HZ / 1e6:g} MHz)")


def test_abort_gates_low_in_one_instruction() -> None:
    """The HAL's abort: sm.active(0) freezes the state machine between
    instructions, sm.exec(GATES_OFF_INSTR) runs one instruction; whatever the
    program was doing, the gates are low after it."""
    from pioemu import emulate

    words, want = _pulse_words()
    run = _run(words, want[-1][0], keep=True, compress=False)
    on = [s for s in run.states if s.pin_values & GATES]
    assert on
    for s in on[:: max(1, len(on) // 200)]:
        # The exec'd instruction is not in instruction memory: its own one-word program.
        steps = list(emulate([sp.GATES_OFF_INSTR], initial_state=replace(s, program_counter=0),
                             out_base=0,
                             out_count=sp.GATE_PINS, stop_when=lambda _op, st, c=s.clock: st.clock > c))
        assert len(steps) == 1 and steps[0][1].pin_values & GATES == 0


def test_an_empty_fifo_plays_gates_low() -> None:
    # The DMA stops after phase 1's word (an aborted or starved DMA): phase 1
    # still ends on time, and nothing rises after it.
    words, want = _pulse_words()
    got = _run(words, want[-1][0] + 500, dma_words=2).edges
    assert got == want[:2]


# --- encode() on the device ---------------------------------------------------

def _rows(tl: Timeline) -> list[list[int]]:
    return [[getattr(tl, c)[i] for c in COLUMNS] for i in range(tl.n)]


@pytest.mark.parametrize("runtime", BOTH)
def test_encode_allocates_nothing_on_the_device(runtime: str) -> None:
    cases = [_rows(_compile(w)) for w in (TCMEP, SSEP_PAIR, BIPHASIC)]
    # A segment of the longest length: its word must still be a small int.
    cases.append([[0, 0, 100, 10, 0, 0, 0, 1, 2], [sp.MAX_SEGMENT_US + 10, 0, -100, 10, 0, 0,
                                                   0, 1, 2]])
    out = run_mp(
        f"""
        import json, micropython
        from array import array
        from stimfw.stim.timeline import Timeline
        import stimpio
        res = []
        for rows in {json.dumps(cases)}:
            tl = Timeline(len(rows))
            for r in rows:
                tl.add(*r)
            buf = array("I", [0] * stimpio.words_needed(tl))
            micropython.heap_lock()
            try:
                n = stimpio.encode(tl, buf, 7)
                m = stimpio.words_needed(tl)
            finally:
                micropython.heap_unlock()
            res.append([n, m, list(buf[:n])])
        print(json.dumps(res))
        """,
        paths=(FIRMWARE, RP2), runtime=runtime)
    got = json.loads(out.strip().splitlines()[-1])
    for rows, (n, m, words) in zip(cases, got, strict=True):
        tl = Timeline(len(rows))
        for r in rows:
            tl.add(*r)
        assert words == _stream(tl, 7) and n == m == len(words)


def test_encode_refuses_what_the_program_cannot_play() -> None:
    tl = Timeline(2)
    tl.add(0, 0, 100, 200, 0, 0, 0, 1, 2)
    tl.add(150, 0, 100, 200, 0, 0, 0, 1, 2)
    with pytest.raises(ValueError, match="overlap"):
        sp.encode(tl, array("I", [0] * 16))
    tl.t_us[1] = 200  # touching: one 400 us gate, one pulse counted
    with pytest.raises(ValueError, match="touch"):
        sp.encode(tl, array("I", [0] * 16))
    tl.clear()
    tl.add(0, 0, 100, 200, 0, 0, 0, 1, 2)
    with pytest.raises(ValueError, match="too small"):
        sp.encode(tl, array("I", [0] * 1), 5)



def test_a_new_stream_after_an_abort_plays_from_its_start() -> None:
    """The HAL's sequence between streams: stop mid-stream (stale words in the
    FIFO, the program inside a segment), exec pull noblock FIFO_WORDS times,
    restart (a jump to the program's first instruction, which re-zeroes X):
    the next stream's edges are exactly its own."""
    from pioemu import emulate

    tl = _compile(TCMEP)
    words = _stream(tl, 0)
    s = _run(words, _expected_edges(tl, 0)[0][0] + 40, keep=True, compress=False).states[-1]
    assert s.pin_values & GATES and len(s.transmit_fifo) == FIFO_DEPTH

    def exec_one(st: Any, instr: int) -> Any:
        return list(emulate([instr], initial_state=replace(st, program_counter=0), out_base=0,
                            out_count=sp.GATE_PINS, stop_when=lambda _op, x: x.clock > st.clock))[-1][1]

    s = exec_one(s, sp.GATES_OFF_INSTR)
    for _ in range(sp.FIFO_WORDS):
        s = exec_one(s, sp.PULL_NOBLOCK_INSTR)
    assert not s.transmit_fifo
    assert s.pin_values & GATES == 0
    tl = _compile(BIPHASIC)
    fresh = _stream(tl, START_DELAY_US)
    restarted = replace(s, program_counter=0, clock=0, x_register=0xDEAD,
                        transmit_fifo=deque(fresh[:FIFO_DEPTH]))
    want = _expected_edges(tl, START_DELAY_US)
    assert _run(fresh, want[-1][0] + 100, state0=restarted).edges == want


@st.composite
def _timelines(draw: st.DrawFn) -> tuple[Timeline, int]:
    n = draw(st.integers(1, 4))
    tl = Timeline(n)
    t = draw(st.integers(0, 40))
    for _ in range(n):
        w1 = draw(st.integers(1, 120))
        w2 = draw(st.sampled_from([0, draw(st.integers(1, 120))]))
        gap = draw(st.integers(0, 60))
        amp = draw(st.sampled_from([-2000, 0, 1500]))
        amp2 = draw(st.sampled_from([-700, 0, 3000]))
        tl.add(t, 0, amp, w1, gap, w2, amp2, 1, 2)
        t += w1 + gap + w2 + draw(st.integers(1, 200))
    return tl, draw(st.integers(0, 30))


@settings(max_examples=40, deadline=None)
@given(_timelines())
def test_any_timeline_plays_edge_for_edge(case: tuple[Timeline, int]) -> None:
    """Pulses of any widths, gaps (none too), polarities and spacing from
    1 us, starting at the stream's time 0 or later."""
    tl, delay = case
    want = _expected_edges(tl, delay)
    words = _stream(tl, delay)
    assert len(words) == sp.words_needed(tl) - (1 if delay + tl.t_us[0] == 0 else 0)
    assert _run(words, want[-1][0] + 100).edges == want
