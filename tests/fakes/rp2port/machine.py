# Stand-in for the rp2 port's machine module, for running boards/rp2_pico2
# under the Unix MicroPython (tests/test_rp2_board.py). Names and signatures
# follow micropython-rp2-rpi-pico2-stubs; the bodies only keep what the HAL
# did, and what the test says the hardware does, allocating nothing after
# set-up so that hot paths can be run under heap_lock:
#   LEVELS[gpio]   the pin's level (an output's last value, or the input the
#                  test drives), WRITES[gpio] the sequence number of its
#                  last write (SEQ orders every recorded action);
#   mem32          registers: a dict of what was written, with READ_HOOKS and
#                  WRITE_HOOKS where a register has behaviour (rp2.py adds
#                  the DMA's abort);
#   idle()         calls IDLE_HOOK[0], where a test lets time pass for the
#                  hardware (DRDY interrupts).
from array import array

PWRON_RESET = 1
WDT_RESET = 3
CAUSE = [PWRON_RESET]  # what reset_cause() answers

LEVELS = bytearray(48)
WRITES = array("I", bytes(4 * 48))
SEQ = array("I", [0])
IDLE_HOOK = [None]
PINS = {}  # gpio -> the last Pin made on it with an irq handler
# gpio -> a pin of a peer model (value(), irq()) that a Pin on it stands for,
# e.g. tests/ads1299_peer.py's PeerPin: the test wires the front-end so.
PIN_PEERS = {}


def tick():
    SEQ[0] += 1
    return SEQ[0]


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    ALT = 3
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_FALLING = 4
    IRQ_RISING = 8

    def __init__(self, id, mode=-1, pull=-1, *, value=None, drive=0, alt=-1):
        self.id = id
        self.handler = None
        self.hard = False
        self.init(mode, pull, value=value)

    def init(self, mode=-1, pull=-1, *, value=None, drive=0, alt=-1):
        self.mode = mode
        self.pull = pull
        if value is not None:
            self.value(value)

    def value(self, x=None):
        peer = PIN_PEERS.get(self.id)
        if peer is not None:
            return peer.value(x)
        if x is None:
            return LEVELS[self.id]
        LEVELS[self.id] = 1 if x else 0
        WRITES[self.id] = tick()
        return None

    def __call__(self, x=None):
        return self.value(x)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def irq(self, handler=None, trigger=IRQ_FALLING | IRQ_RISING, *, priority=1, wake=None,
            hard=False):
        peer = PIN_PEERS.get(self.id)
        if peer is not None:
            return peer.irq(handler, trigger, hard)
        self.handler = handler
        self.hard = hard
        PINS[self.id] = self
        return None


class _Mem:
    def __init__(self):
        self.regs = {}
        self.read_hooks = {}
        self.write_hooks = {}

    def __getitem__(self, addr):
        hook = self.read_hooks.get(addr)
        if hook is not None:
            return hook()
        return self.regs.get(addr, 0)

    def __setitem__(self, addr, value):
        self.regs[addr] = value
        hook = self.write_hooks.get(addr)
        if hook is not None:
            hook(value)


mem32 = _Mem()
READ_HOOKS = mem32.read_hooks
WRITE_HOOKS = mem32.write_hooks


class ADC:
    CORE_TEMP = 4

    def __init__(self, id, *, sample_ns=0, atten=0):
        self.id = id

    def read_u16(self):
        return 0


class WDT:
    last = None

    def __init__(self, *, id=0, timeout=5000):
        self.timeout = timeout
        self.feeds = 0
        WDT.last = self

    def feed(self):
        self.feeds += 1


class SPI:
    MSB = 0
    LSB = 1
    PEERS = {}  # bus id -> a peer model's SPI (write, readinto, write_readinto)

    def __init__(self, id, baudrate=1000000, *, polarity=0, phase=0, bits=8, firstbit=MSB,
                 sck=None, mosi=None, miso=None, pins=None):
        self.id = id
        self.init(baudrate, polarity=polarity, phase=phase, bits=bits, firstbit=firstbit)
        # Items written (bytes, or 16-bit words on a bits=16 bus), as a ring
        # the test reads; sent_n counts them all.
        self.sent = array("I", bytes(4 * 256))
        self.sent_n = 0
        self.writes = 0
        self.last_seq = 0

    def init(self, baudrate=1000000, *, polarity=0, phase=0, bits=8, firstbit=MSB, sck=None,
             mosi=None, miso=None, pins=None):
        self.baudrate = baudrate
        self.polarity = polarity
        self.phase = phase
        self.bits = bits

    def deinit(self):
        pass

    def _keep(self, buf):
        sent = self.sent
        k = self.sent_n
        for i in range(len(buf)):
            sent[(k + i) & 255] = buf[i]
        self.sent_n = k + len(buf)
        self.writes += 1
        self.last_seq = tick()

    def write(self, buf):
        peer = SPI.PEERS.get(self.id)
        if peer is not None:
            peer.write(buf)
        self._keep(buf)

    def readinto(self, buf, write=0):
        peer = SPI.PEERS.get(self.id)
        if peer is None:
            for i in range(len(buf)):
                buf[i] = write
            return
        peer.readinto(buf, write)

    def read(self, nbytes, write=0):
        buf = bytearray(nbytes)
        self.readinto(buf, write)
        return bytes(buf)

    def write_readinto(self, write_buf, read_buf):
        peer = SPI.PEERS.get(self.id)
        if peer is None:
            for i in range(len(read_buf)):
                read_buf[i] = 0
        else:
            peer.write_readinto(write_buf, read_buf)
        self._keep(write_buf)


def reset_cause():
    return CAUSE[0]


def soft_reset():
    raise SystemExit("machine.soft_reset")


def reset():
    raise SystemExit("machine.reset")


def disable_irq():
    return 1


def enable_irq(state):
    pass


def idle():
    hook = IDLE_HOOK[0]
    if hook is not None:
        hook()


def freq(hz=None):
    return 150000000


def unique_id():
    return b"\xe6\x61\x38\x52\x83\x2b\x1c\x2d"
