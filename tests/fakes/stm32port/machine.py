# Fake of MicroPython's machine module (stm32 port, pyboard v1.1) for tests,
# with the stubs' signatures (micropython-stm32-pybv11-stubs machine.pyi):
# WDT, reset_cause, soft_reset, IRQ masking, mem32 (stm's register file),
# and the Pin and SPI the front-end driver takes. Records what the HAL did.
import pyb
import stm

SOFT_RESET = 0
PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4

mem32 = stm.mem32
mem16 = stm.mem16
mem8 = stm.mem8

cause = PWRON_RESET  # what reset_cause() answers (tests set it)
irq_masked = 0  # disable_irq() calls not yet undone
soft_resets = 0


def reset_cause():
    return cause


def soft_reset():
    global soft_resets
    soft_resets += 1
    raise SystemExit("soft reset")


def disable_irq():
    global irq_masked
    irq_masked += 1
    return irq_masked


def enable_irq(state):
    global irq_masked
    irq_masked -= 1


class WDT:
    made = []

    def __init__(self, *, id=0, timeout=5000):
        self.timeout = timeout
        self.feeds = 0
        WDT.made.append(self)

    def feed(self):
        self.feeds += 1


class Pin(pyb.Pin):
    pass


class SPI:
    CONTROLLER = 0
    MSB = 0

    def __init__(self, id, baudrate=1000000, *, polarity=0, phase=0, bits=8, firstbit=MSB,
                 sck=None, mosi=None, miso=None):
        self.id = id
        self.baudrate = baudrate
        self.polarity = polarity
        self.phase = phase

    def write(self, buf):
        pass

    def readinto(self, buf, write=0):
        for i in range(len(buf)):
            buf[i] = 0

    def write_readinto(self, out, into):
        for i in range(len(into)):
            into[i] = 0
