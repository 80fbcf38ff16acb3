# Fake of MicroPython's pyb module (pyboard v1.1) for tests: Pin and DAC with
# the stubs' signatures (micropython-stm32-pybv11-stubs pyb.pyi), recording
# what the HAL does with them. PINS maps the pyboard's names to (port, pin)
# as on the board (port 0 = A, 1 = B, 2 = C). Pin writes and reads allocate
# nothing, so the HAL's hot paths can run under heap_lock.
PINS = {
    "X1": (0, 0), "X2": (0, 1), "X3": (0, 2), "X4": (0, 3), "X5": (0, 4), "X6": (0, 5),
    "X7": (0, 6), "X8": (0, 7), "X9": (1, 6), "X10": (1, 7), "X11": (2, 4), "X12": (2, 5),
    "X17": (1, 3), "X18": (2, 13), "X19": (2, 0), "X20": (2, 1), "X21": (2, 2), "X22": (2, 3),
    "Y1": (2, 6), "Y2": (2, 7), "Y3": (1, 8), "Y4": (1, 9), "Y5": (1, 12), "Y6": (1, 13),
    "Y7": (1, 14), "Y8": (1, 15), "Y9": (1, 10), "Y10": (1, 11), "Y11": (1, 0), "Y12": (1, 1),
}
made = {}  # name -> the last Pin made for it (tests read and drive them)


class Pin:
    IN = 0
    OUT = 1
    OUT_PP = 1
    OUT_OD = 17
    OPEN_DRAIN = 17
    ALT = 2
    AF_PP = 2
    AF_OD = 18
    ANALOG = 3
    PULL_NONE = 0
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_RISING = 269549568
    IRQ_FALLING = 270598144
    AF1_TIM1 = 1
    AF1_TIM2 = 1
    AF2_TIM4 = 2
    AF3_TIM8 = 3
    AF5_SPI2 = 5

    def __init__(self, id, mode=-1, pull=-1, *, value=None, alt=-1, af=-1):
        if id not in PINS:
            raise ValueError("Pin(" + repr(id) + ") doesn't exist")
        self._name = id
        self._port, self._pin = PINS[id]
        self._mode = mode
        self._pull = pull
        self._af = af if af != -1 else alt
        self._v = 1 if pull == Pin.PULL_UP else 0
        self.writes = 0  # value(x) calls after construction
        if value is not None:
            self._v = 1 if value else 0
        made[id] = self

    def init(self, mode=-1, pull=-1, *, value=None, alt=-1, af=-1):
        self._mode = mode
        if value is not None:
            self._v = 1 if value else 0

    def value(self, v=None):
        # value() reads, value(x) writes (one optional argument, not *args:
        # a call must allocate nothing)
        if v is not None:
            self._v = 1 if v else 0
            self.writes += 1
            return None
        return self._v

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def high(self):
        self.value(1)

    def low(self):
        self.value(0)

    def name(self):
        return self._name

    def names(self):
        return [self._name]

    def port(self):
        return self._port

    def pin(self):
        return self._pin

    def mode(self):
        return self._mode

    def pull(self):
        return self._pull

    def af(self):
        return self._af

    def irq(self, handler=None, trigger=IRQ_RISING | IRQ_FALLING, hard=False):
        self.handler = handler

    def drive(self, v):
        """Test side: an input's level as the outside world sets it."""
        self._v = 1 if v else 0


class DAC:
    NORMAL = 0
    CIRCULAR = 256

    def __init__(self, port, bits=8, *, buffering=None):
        if port not in (1, 2, "X5", "X6"):
            raise ValueError("DAC(" + repr(port) + ") doesn't exist")
        self.port = port
        self.bits = bits
        self.last = None

    def init(self, bits=8, *, buffering=None):
        self.bits = bits

    def write(self, value):
        self.last = value

    def deinit(self):
        pass


def disable_irq():
    return 1


def enable_irq(state=True):
    pass
