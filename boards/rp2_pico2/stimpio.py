# The stimulus PIO program and its DMA stream (device module; hal.py loads it).
#
# stim.pio beside this file is the program's source; OPCODES is what pioasm
# assembles from it (tests/test_rp2_pio.py checks, and runs them in a PIO
# emulator against compiled timelines). PIO.md explains the stream, the
# timing, the ENABLE interlock and abort.
#
# The stream: one 32-bit word per segment of constant gate state, LSB first:
# bits 1..0 the gate state, bits 31..2 Y; the segment lasts 2 * Y + 6 PIO
# cycles. Gate A (bit 0) is on for a phase of positive amplitude (current
# from the anodes to the cathodes), gate B (bit 1) for a negative one. Words
# stay below 2**30, so on a 32-bit MicroPython they are small ints and
# encode() allocates nothing.
from array import array

# 10 MHz: 0.1 us per PIO cycle, 10 cycles per us, so every 1 us step of the
# timeline is a whole number of 2-cycle loop passes. An integer divider of
# the system clock (15 at the RP2350's 150 MHz) keeps it jitter-free.
PIO_FREQ_HZ = 10_000_000
CYCLES_PER_US = PIO_FREQ_HZ // 1_000_000

# The gate pins the program drives (OUT base = gate A, then gate B).
GATE_PINS = 2
GATE_A = 1
GATE_B = 2

# A pulse is at most 4 segments: the low time before it, phase 1, the
# interphase gap, phase 2. The stream ends with one all-low word.
WORDS_PER_PULSE = 4
TAIL_WORDS = 1

# Cycles of a segment that Y does not count: pull, jmp pin, out pins, out y,
# and the last loop pass.
SEGMENT_OVERHEAD = 6
# The first word's edge comes this many cycles after the state machine starts
# (set x, pull, jmp pin, then out pins), with the FIFO already filled.
START_CYCLES = 3
# Longest segment whose word stays a small int: Y < 2**28 (53.7 s).
MAX_SEGMENT_US = ((1 << 28) - 1 + SEGMENT_OVERHEAD // 2) // (CYCLES_PER_US // 2)

OPCODES = (
    0xE020,  # 0         set x, 0
    0x8080,  # 1 segment: pull noblock
    0x00C5,  # 2         jmp pin, drive
    0xA003,  # 3 off:    mov pins, null
    0x0004,  # 4 stop:   jmp stop
    0x6002,  # 5 drive:  out pins, 2
    0x605E,  # 6         out y, 30
    0x00CA,  # 7 hold:   jmp pin, tick
    0xA003,  # 8         mov pins, null
    0x0004,  # 9         jmp stop
    0x0087,  # 10 tick:  jmp y--, hold
)
WRAP_TARGET = 1
WRAP = 10
# The instruction the HAL executes (sm.exec) after stopping the state
# machine on abort: gates low at once, whatever the program was doing.
GATES_OFF_INSTR = OPCODES[3]
# rp2's StateMachine.restart() leaves the TX FIFO as it was: before a new
# stream the HAL empties it by executing this FIFO_WORDS times with the state
# machine stopped (each pulls one word, or nothing from an empty FIFO).
PULL_NOBLOCK_INSTR = OPCODES[1]
FIFO_WORDS = 8
# Where the program waits, gates low, once it has read ENABLE low (`stop`,
# from the program's load offset): the DMA then stalls with the FIFO full,
# so a HAL that sees the state machine's address there (SMx_ADDR) knows the
# stream was cut, not still playing.
LATCHED_ADDR = 4

# rp2.PIO constants (the rp2 module is not importable off the board).
_OUT_LOW = 2
_SHIFT_RIGHT = 1
_JOIN_TX = 1
EXECCTRL = WRAP << 12 | WRAP_TARGET << 7
# TX FIFO joined (8 words), OSR shifting right, pull threshold 32, no autopull.
SHIFTCTRL = _JOIN_TX << 30 | _SHIFT_RIGHT << 19

# What @rp2.asm_pio returns: [instructions, offset in PIO0, offset in PIO1,
# execctrl, shiftctrl, out_init, set_init, sideset_init]. rp2 writes the
# offsets into this list when it loads the program. MicroPython 1.29 stores
# PIO n's offset at index 1 + n, so loading it into the RP2350's PIO2 would
# overwrite EXECCTRL: use PIO 0 or 1. The gates start as outputs, low; they
# are the SET pins too (the program has no `set pins`), so an exec'd
# `set pins, 0` with set_base at gate A clears both as GATES_OFF_INSTR does.
# The HAL builds the state machine with
#   rp2.StateMachine(id, PROGRAM, freq=PIO_FREQ_HZ, out_base=Pin(gate A),
#                    set_base=Pin(gate A), jmp_pin=Pin(ENABLE))
# jmp_pin is required: without it the program reads GPIO 0 as ENABLE.
_GATES_LOW = (_OUT_LOW, _OUT_LOW)
PROGRAM = [array("H", OPCODES), -1, -1, EXECCTRL, SHIFTCTRL, _GATES_LOW, _GATES_LOW, None]


def _state(amp):
    return GATE_A if amp >= 0 else GATE_B


def words_needed(timeline):
    """Words encode() writes for this timeline (at most
    WORDS_PER_PULSE * timeline.n + TAIL_WORDS)."""
    n = timeline.n
    words = TAIL_WORDS + n  # phase 1 of every pulse
    t = timeline.t_us
    w1 = timeline.w1_us
    gap = timeline.gap_us
    w2 = timeline.w2_us
    end = 0
    for i in range(n):
        if i == 0 or t[i] != end:
            words += 1
        end = t[i] + w1[i]
        if w2[i] > 0:
            words += 2 if gap[i] > 0 else 1
            end += gap[i] + w2[i]
    return words


def _put(buf, k, state, d_us):
    if d_us < 1 or d_us > MAX_SEGMENT_US:
        raise ValueError("segment out of range")
    if k >= len(buf):
        raise ValueError("stream buffer too small")
    buf[k] = ((d_us * CYCLES_PER_US - SEGMENT_OVERHEAD) >> 1) << 2 | state
    return k + 1


def encode(timeline, buf, start_delay_us=0):
    """Fill buf (a preallocated array('I')) with the DMA stream that plays
    timeline; returns the number of words. Time 0 of the stream is the first
    word's edge; pulse i starts start_delay_us + t_us[i] after it. Pulses
    must be apart (one gate pair: at least 1 us low between them). Allocates
    nothing."""
    n = timeline.n
    t = timeline.t_us
    w1 = timeline.w1_us
    gap = timeline.gap_us
    w2 = timeline.w2_us
    amp = timeline.amp
    amp2 = timeline.amp2
    k = 0
    end = -start_delay_us  # timeline time at which the last segment written ends
    for i in range(n):
        low = t[i] - end
        if low > 0:
            k = _put(buf, k, 0, low)
        elif i > 0 or low < 0:
            # One gate pair: pulses that touch would merge into one, and
            # the hardware pulse count would miss one.
            raise ValueError("pulses overlap or touch")
        k = _put(buf, k, _state(amp[i]), w1[i])
        end = t[i] + w1[i]
        if w2[i] > 0:
            if gap[i] > 0:
                k = _put(buf, k, 0, gap[i])
            k = _put(buf, k, _state(amp2[i]), w2[i])
            end += gap[i] + w2[i]
    # All low; how long it lasts does not matter: an empty FIFO plays low too.
    return _put(buf, k, 0, 1)


def decode(words, n):
    """The edges the first n words ask for: [(t_us, gate_state)], t_us from
    the first word's edge, one entry per change of gate state. For host
    tools and tests."""
    edges = []
    state = 0
    cycles = 0
    for k in range(n):
        w = words[k]
        if w & 3 != state:
            state = w & 3
            edges.append((cycles // CYCLES_PER_US, state))
        cycles += 2 * (w >> 2) + SEGMENT_OVERHEAD
    return edges
