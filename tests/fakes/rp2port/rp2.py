# Stand-in for the rp2 port's rp2 module (PIO, StateMachine, DMA, DMATimer),
# signatures as micropython-rp2-rpi-pico2-stubs. It keeps what the HAL asked
# of the hardware, with SEQ stamps (machine.tick) so a test can tell the
# order of actions, and it models the little behaviour the HAL relies on:
# a channel stops when CHAN_ABORT names it; DMA.run(values) is the test
# playing a channel's transfers into its write buffer (a ring re-armed at
# its end) and moving the channel's WRITE_ADDR register on.
from array import array

import machine

_DMA = 0x50000000
_CHAN_ABORT = 0x50000464
# Buffers handed to a channel get addresses in the RP2350's SRAM (from
# 0x20000000), as the channel's registers hold them on the board.
# Kept in preallocated slots: a buffer first handed over in a hot path is
# registered without allocating.
_sram = [0x20010000]
_bufs = [None] * 64
_addrs = array("I", bytes(4 * 64))


def address(obj):
    """A channel's address for obj: an int as it is, a buffer's in SRAM."""
    if isinstance(obj, int):
        return obj
    k = 0
    while k < 64 and _bufs[k] is not None:
        if _bufs[k] is obj:
            return _addrs[k]
        k += 1
    addr = _sram[0]
    _bufs[k] = obj
    _addrs[k] = addr
    _sram[0] = addr + ((len(obj) * 4 + 7) & ~7)  # room for the largest item size
    return addr


class PIO:
    JOIN_NONE = 0
    JOIN_TX = 1
    JOIN_RX = 2
    SHIFT_LEFT = 0
    SHIFT_RIGHT = 1
    IN_LOW = 0
    IN_HIGH = 1
    OUT_LOW = 2
    OUT_HIGH = 3
    IRQ_SM0 = 256
    IRQ_SM1 = 512
    IRQ_SM2 = 1024
    IRQ_SM3 = 2048

    def __init__(self, id):
        self.id = id
        self.programs = []

    def add_program(self, program):
        self.programs.append(program)

    def remove_program(self, program=None):
        self.programs = [] if program is None else [p for p in self.programs if p is not program]

    def state_machine(self, id, program=None, **kwargs):
        return StateMachine(4 * self.id + id, program, **kwargs)

    def irq(self, handler=None, trigger=0xF00, hard=False):
        return None


class StateMachine:
    ALL = {}

    def __init__(self, id, program=None, *, freq=-1, in_base=None, out_base=None, set_base=None,
                 jmp_pin=None, sideset_base=None, in_shiftdir=None, out_shiftdir=None,
                 push_thresh=None, pull_thresh=None, **kwargs):
        StateMachine.ALL[id] = self
        self.id = id
        self.program = None
        self.running = False
        self.restarts = 0
        self.start_seq = 0  # machine.SEQ when it last started, stopped, exec'd
        self.stop_seq = 0
        self.exec_seq = 0
        self.execs = array("I", bytes(4 * 16))  # the last instructions exec'd
        self.n_exec = 0
        if program is not None:
            self.init(program, freq=freq, in_base=in_base, out_base=out_base, set_base=set_base,
                      jmp_pin=jmp_pin, sideset_base=sideset_base, in_shiftdir=in_shiftdir,
                      out_shiftdir=out_shiftdir, push_thresh=push_thresh, pull_thresh=pull_thresh)

    def init(self, program, *, freq=-1, in_base=None, out_base=None, set_base=None, jmp_pin=None,
             sideset_base=None, in_shiftdir=None, out_shiftdir=None, push_thresh=None,
             pull_thresh=None, **kwargs):
        self.program = program
        self.freq = freq
        self.out_base = out_base
        self.set_base = set_base
        self.jmp_pin = jmp_pin
        self.sideset_base = sideset_base

    def active(self, value=None):
        if value is None:
            return self.running
        self.running = bool(value)
        if value:
            self.start_seq = machine.tick()
        else:
            self.stop_seq = machine.tick()
        return self.running

    def restart(self):
        self.restarts += 1

    def exec(self, instr):
        if isinstance(instr, str):
            raise ValueError("this stand-in takes encoded instructions only")
        self.execs[self.n_exec & 15] = instr
        self.n_exec += 1
        self.exec_seq = machine.tick()

    def put(self, value, shift=0):
        raise OSError("the HAL feeds the state machine by DMA only")

    def get(self, buf=None, shift=0):
        return 0

    def tx_fifo(self):
        return 0

    def rx_fifo(self):
        return 0

    def irq(self, handler=None, trigger=1, hard=False):
        return None


class DMATimer:
    def __init__(self, timer_id=None, *, freq=None, ratio=None):
        self.timer_id = 0 if timer_id is None else timer_id
        self.freq = freq

    def close(self):
        pass


# RP2350 CH_CTRL_TRIG fields: (name, shift, width).
_CTRL = (("enable", 0, 1), ("high_pri", 1, 1), ("size", 2, 2), ("inc_read", 4, 1),
         ("inc_read_rev", 5, 1), ("inc_write", 6, 1), ("inc_write_rev", 7, 1),
         ("ring_size", 8, 4), ("ring_sel", 12, 1), ("chain_to", 13, 4), ("treq_sel", 17, 6),
         ("irq_quiet", 23, 1), ("bswap", 24, 1), ("sniff_en", 25, 1))


class DMA:
    CHANNELS = {}
    _next = [0]

    def __init__(self):
        self.channel = DMA._next[0]
        DMA._next[0] += 1
        DMA.CHANNELS[self.channel] = self
        self.read = None
        self.write = None
        self.count = 0
        self.ctrl = 0
        self.running = False
        self.triggers = 0
        self.configs = 0
        self.trigger_seq = 0
        self.abort_seq = 0
        self.pos = 0  # items written into the write buffer (DMA.run)
        # READ_ADDR and WRITE_ADDR: made here, as on a 32-bit port addresses
        # above 2**30 are big ints, which config() must not allocate.
        self._ra = _DMA + 0x40 * self.channel
        self._wa = self._ra + 4
        machine.mem32[self._ra] = 0
        machine.mem32[self._wa] = 0

    def pack_ctrl(self, *, default=None, **kwargs):
        v = {"enable": 1, "size": 2, "inc_read": 1, "inc_write": 1, "chain_to": self.channel,
             "treq_sel": 0x3F, "irq_quiet": 1}
        if default is not None:
            v.update(DMA.unpack_ctrl(default))
        for k, x in kwargs.items():
            if isinstance(x, DMATimer):
                x = 0x3B + x.timer_id
            v[k] = int(x)
        out = 0
        for name, shift, width in _CTRL:
            out |= (v.get(name, 0) & ((1 << width) - 1)) << shift
        return out

    @staticmethod
    def unpack_ctrl(value):
        return {name: (value >> shift) & ((1 << width) - 1) for name, shift, width in _CTRL}

    def config(self, *, read=None, write=None, count=None, ctrl=None, trigger=False):
        if read is not None:
            self.read = read
            machine.mem32[self._ra] = address(read)
        if write is not None:
            self.write = write
            self.pos = 0
            machine.mem32[self._wa] = address(write)
        if count is not None:
            self.count = count
        if ctrl is not None:
            self.ctrl = ctrl
        self.configs += 1
        if trigger:
            self.running = True
            self.triggers += 1
            self.trigger_seq = machine.tick()

    def active(self, value=None):
        if value is None:
            return self.running
        self.running = bool(value)
        return self.running

    def close(self):
        self.running = False

    def irq(self, handler=None, hard=False):
        return None

    def run(self, values):
        """The hardware moving values into the write buffer: from where the
        channel is, round its end (the re-armed ring) and on."""
        buf = self.write
        n = len(buf)
        k = self.pos
        for v in values:
            buf[k % n] = v
            k += 1
        self.pos = k
        size = 1 << ((self.ctrl >> 2) & 3)
        machine.mem32[self._wa] = address(buf) + size * (k % n)


def _abort(mask):
    for ch in range(16):
        c = DMA.CHANNELS.get(ch)
        if c is not None and mask & (1 << ch):
            c.running = False
            c.abort_seq = machine.tick()
    # Done at once: the register reads back 0.
    machine.mem32.regs[_CHAN_ABORT] = 0


machine.WRITE_HOOKS[_CHAN_ABORT] = _abort


def asm_pio(*, out_init=None, set_init=None, sideset_init=None, side_pindir=False, in_shiftdir=0,
            out_shiftdir=0, autopush=False, autopull=False, push_thresh=32, pull_thresh=32,
            fifo_join=PIO.JOIN_NONE):
    raise NotImplementedError("this stand-in does not assemble: load assembled opcodes")


def asm_pio_encode(instr, sideset_count, sideset_opt=False):
    raise NotImplementedError("this stand-in does not assemble")
