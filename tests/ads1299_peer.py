# A register-level model of the ADS1299 (TI SBAS499C) as the SPI peer behind
# small fakes of machine.SPI and machine.Pin, so the real driver
# (stimfw/frontend/ads1299.py) runs under MicroPython against it. Written
# from the datasheet, not from the driver: register map and reset values
# (9.6), opcodes and their byte layout (9.5.3), RDATAC/RDATA frames and the
# status word (9.5.1), daisy-chain shifting (9.4, DAISY_EN in CONFIG1), DRDY
# (falls at a conversion, rises on the first SCLK of a read), lead-off
# sensing, comparators and AC excitation (9.3.2.4.3).
#
# Time is virtual: the driver is given clock() below as its tick source, and
# every call moves time on; conversions fall due on it at the rate CONFIG1
# sets, and DRDY's falling edge calls the driver's IRQ handler as a hard IRQ
# would, with the heap locked (an allocation there is caught and counted).
# MicroPython code: it runs in the driver's process.
import micropython

F_MOD_HZ = 512000  # f_CLK 2.048 MHz / 4 (9.6.1.2, CONFIG1 DR)
VREF_UV = 4500000
GAINS = (1, 2, 4, 6, 8, 12, 24)
LOFF_NA = (6, 24, 6000, 24000)
T_POR_US = 128000  # 2**18 t_CLK at 2.048 MHz

RESET_VALUES = {
    0x01: 0x96, 0x02: 0xC0, 0x03: 0x60, 0x04: 0x00,
    0x05: 0x61, 0x06: 0x61, 0x07: 0x61, 0x08: 0x61,
    0x09: 0x61, 0x0A: 0x61, 0x0B: 0x61, 0x0C: 0x61,
    0x14: 0x0F,
}
READ_ONLY = (0x00, 0x12, 0x13)
# Opcodes honoured in RDATAC mode (9.5.3: RREG/WREG need SDATAC first).
RDATAC_OK = (0x02, 0x04, 0x06, 0x08, 0x0A, 0x11)
OPCODES = {0x02: "WAKEUP", 0x04: "STANDBY", 0x06: "RESET", 0x08: "START", 0x0A: "STOP",
           0x10: "RDATAC", 0x11: "SDATAC", 0x12: "RDATA"}


class Device:
    """One chip: registers, the input it sees, its electrodes."""

    def __init__(self, dev_id=0x3E):
        self.dev_id = dev_id
        self.regs = bytearray(0x18)
        # Differential input per channel in nV (a function of (channel, n)
        # set by the test), electrode impedances in ohms and off flags.
        self.signal = None
        self.z_p = [0] * 8
        self.z_n = [0] * 8
        self.off_p = 0
        self.off_n = 0
        self.stuck_regs = ()  # addresses whose writes do not take (a faulty chip)
        self.reset()

    def reset(self):
        for a in range(0x18):
            self.regs[a] = RESET_VALUES.get(a, 0)
        self.regs[0] = self.dev_id

    def gain(self, ch):
        return GAINS[(self.regs[0x05 + ch] >> 4) & 7]

    def input_nv(self, ch, n):
        """What channel ch's inputs see at conversion n, in nV."""
        v = self.signal(ch, n) if self.signal else 0
        loff = self.regs[0x04]
        sp = (self.regs[0x0F] >> ch) & 1
        sn = (self.regs[0x10] >> ch) & 1
        i_na = LOFF_NA[(loff >> 2) & 3]
        z = self.z_p[ch] * sp + self.z_n[ch] * sn
        if loff & 3 == 3:
            # AC excitation at f_DR / 4: +I, +I, -I, -I through both inputs
            v += i_na * z if (n >> 1) & 1 == 0 else -i_na * z
        elif loff & 3 == 0:
            v += i_na * z  # DC current: an offset of I * Z
        return v

    def code(self, ch, n):
        if self.regs[0x05 + ch] & 0x80:
            return 0  # powered down: 9.5.1, the channel reads 0
        c = (self.input_nv(ch, n) * self.gain(ch) * 8388608) // (VREF_UV * 1000)
        return max(-8388608, min(8388607, c))

    def status(self):
        on = self.regs[0x17] & 0x02  # PD_LOFF_COMP: comparators powered
        p = self.off_p & self.regs[0x0F] if on else 0
        n = self.off_n & self.regs[0x10] if on else 0
        g = self.regs[0x14] >> 4
        return 0xC00000 | (p << 12) | (n << 4) | g

    def frame(self, n, out, at):
        s = self.status()
        out[at], out[at + 1], out[at + 2] = s >> 16, (s >> 8) & 0xFF, s & 0xFF
        codes = []
        for ch in range(8):
            c = self.code(ch, n)
            codes.append(c)
            c &= 0xFFFFFF
            o = at + 3 + 3 * ch
            out[o], out[o + 1], out[o + 2] = c >> 16, (c >> 8) & 0xFF, c & 0xFF
        return codes


class Peer:
    """One ADS1299 or a daisy chain of them on one CS. devices[0] is the
    one whose DOUT reaches the MCU."""

    def __init__(self, devices=1, dev_ids=None):
        self.devices = [Device((dev_ids or {}).get(k, 0x3E)) for k in range(devices)]
        self.t16 = 0  # virtual time, 1/16 us
        self.rdatac = True  # 9.5.3: RDATAC is the mode after power-up
        self.running = False
        self.start_pin = 0
        self.powered = True  # PWDN tied high; wire() with a PWDN pin starts it low
        self.t_power = None  # clock() when PWDN last went high
        self.selected = False
        self.drdy = 1
        self.handler = None
        self.drdy_pin = None
        self.stuck = False  # no conversion ever completes (DRDY stuck high)
        self.miss = 0  # next conversions whose DRDY edge the MCU misses
        self.glitch = 0  # next conversions that shift out a corrupt frame
        self.n = 0  # conversions since START
        self.next_conv = 0
        self.history = []  # per conversion: the codes of every channel
        self.times = []
        self.missed = []  # conversions whose DRDY edge the MCU missed
        self.glitched = []  # conversions shifted out with a corrupt header
        self.irq_calls = 0
        self.irq_alloc = 0  # handler calls that tried to allocate
        self.irq_errors = []
        self.log = []  # (opcode, args) of every command decoded
        self._out = bytearray(27 * devices)
        self._frame = bytearray(27 * devices)
        self._state = 0
        self._cmd = bytearray(3)
        self._pos = 0
        self._data = None  # bytes DOUT shifts out now
        self._data_pos = 0
        self._in_irq = False

    # --- timing (virtual time in 1/16 us: every rate's period is whole) ----
    def period16(self):
        dr = self.devices[0].regs[0x01] & 7
        return (1 << (dr + 5)) * 16000000 // F_MOD_HZ

    def clock(self):
        """The driver's ticks_us: each call moves virtual time on a step
        short against the sample period (1/16 of it), converting when a
        conversion falls due. Inside the IRQ handler (heap locked) time
        moves on by 1 us and nothing converts."""
        if self._in_irq:
            self.t16 += 16
        elif self.running and not self.stuck:
            self.t16 += self.period16() >> 4
            if self.t16 >= self.next_conv:
                self._convert()
        else:
            self.t16 += 8000  # idle: 0.5 ms a call
        return self.t16 >> 4

    def _start(self):
        self.running = True
        self.n = 0  # history, missed and glitched count from this START
        self.history = []
        self.times = []  # us on clock() of each conversion
        self.missed = []
        self.glitched = []
        # 9.4.1: the first data after the filter settles (about 4 periods)
        self.next_conv = self.t16 + 4 * self.period16()

    def _convert(self):
        self.next_conv += self.period16()
        codes = []
        for k, d in enumerate(self.devices):
            codes.extend(d.frame(self.n, self._frame, 27 * k))
        if self.glitch:
            self.glitch -= 1
            self._frame[0] = 0x00
            self.glitched.append(self.n)
        self.history.append(codes)
        self.times.append(self.t16 >> 4)
        self.n += 1
        self.drdy = 0
        if self.miss:
            self.miss -= 1
            self.missed.append(self.n - 1)
            return
        self._deliver()

    def _deliver(self):
        if self.handler is None or self._in_irq:
            return
        self._in_irq = True
        self.irq_calls += 1
        err = None
        micropython.heap_lock()
        try:
            self.handler(self.drdy_pin)
        except MemoryError:
            err = "alloc"
        except Exception as e:  # noqa: BLE001 - reported to the test
            err = e
        micropython.heap_unlock()
        self._in_irq = False
        if err == "alloc":
            self.irq_alloc += 1
        elif err is not None:
            self.irq_errors.append(repr(err))

    # --- pins ---------------------------------------------------------------
    def pin(self, name, v):
        if name == "cs":
            if v == 0 and not self.selected:
                self.selected = True
                self._state = 0
                self._data = None
                if self.rdatac and self.drdy == 0:
                    self._load_frame()
            elif v == 1:
                self.selected = False
        elif name == "start":
            if v and not self.start_pin:
                self._start()
            elif not v:
                self.running = False
            self.start_pin = v
        elif name == "reset":
            if v == 0:
                self._reset()
        elif name == "pwdn":
            if v and not self.powered:
                self._reset()
                self.t_power = self.t16 >> 4
            self.powered = bool(v)

    def _reset(self):
        for d in self.devices:
            d.reset()
        self.rdatac = True
        self.running = False

    def _load_frame(self):
        # Daisy chain (DAISY_EN = 0): the first device's frame, then what its
        # DAISY_IN shifts in (the next device's). Multiple read-back
        # (DAISY_EN = 1): the first device's frame again.
        daisy = not self.devices[0].regs[0x01] & 0x40
        out = self._out
        for k in range(len(self.devices)):
            src = k if daisy else 0
            for b in range(27):
                out[27 * k + b] = self._frame[27 * src + b]
        self._data = out
        self._data_pos = 0

    # --- SPI bytes ----------------------------------------------------------
    def xfer(self, b):
        """One byte on DIN while CS is low; returns the byte on DOUT."""
        if not self.selected or not self.powered:
            return 0
        if self.t_power is not None and (self.t16 >> 4) - self.t_power < T_POR_US:
            return 0  # 10.1: not ready until t_POR after power-up
        r = 0
        data = self._data
        if data is not None:
            if data is self._out:
                self.drdy = 1  # 9.5.2: DRDY rises on the first SCLK of a read
            if self._data_pos < len(data):
                r = data[self._data_pos]
                self._data_pos += 1
            # past the end: 0, DAISY_IN of the last device is tied low
        # DIN is decoded all the while (the driver holds it low when reading)
        self._byte(b)
        return r

    def _byte(self, b):
        st = self._state
        if st == 0:
            if self.rdatac and b not in RDATAC_OK:
                return  # ignored in RDATAC
            top = b & 0xE0
            if top in (0x20, 0x40):
                self._cmd[0] = b
                self._state = 1
                return
            self._opcode(b)
        elif st == 1:
            self._cmd[1] = b & 0x1F
            op = self._cmd[0]
            if op & 0xE0 == 0x20:
                self._rreg(op & 0x1F, self._cmd[1] + 1)
                self._state = 0
            else:
                self._pos = 0
                self._state = 2
                self.log.append(("WREG", op & 0x1F, self._cmd[1] + 1))
        elif st == 2:
            a = (self._cmd[0] & 0x1F) + self._pos
            if a < 0x18 and a not in READ_ONLY:
                for d in self.devices:  # shared DIN: every device takes it
                    if a in d.stuck_regs:
                        continue
                    if a == 0x03:
                        d.regs[a] = (b & 0xFE) | (d.regs[a] & 0x01)
                    else:
                        d.regs[a] = b
            self._pos += 1
            if self._pos > self._cmd[1]:
                self._state = 0

    def _rreg(self, a, n):
        # Apart from _byte: a closure there would make every byte allocate
        # its cells, and bytes come in the handler with the heap locked.
        regs = self.devices[0].regs
        self._data = bytearray(regs[a + i] if a + i < 0x18 else 0 for i in range(n))
        self._data_pos = 0
        self.log.append(("RREG", a, n))

    def _opcode(self, b):
        name = OPCODES.get(b)
        if name is None:
            return
        self.log.append((name,))
        if b == 0x06:
            self._reset()
        elif b == 0x08:
            self._start()
        elif b == 0x0A:
            self.running = False
        elif b == 0x10:
            self.rdatac = True
        elif b == 0x11:
            self.rdatac = False
        elif b == 0x12:
            self._load_frame()


class PeerPin:
    """machine.Pin as the driver uses it: value([x]), irq(handler, trigger,
    hard), IRQ_FALLING."""

    IRQ_FALLING = 4
    IRQ_RISING = 8

    def __init__(self, peer, name):
        self._peer = peer
        self._name = name
        self._v = 1
        if name == "drdy":
            peer.drdy_pin = self

    def value(self, v=None):
        if v is None:
            if self._name == "drdy":
                return self._peer.drdy
            return self._v
        self._v = 1 if v else 0
        self._peer.pin(self._name, self._v)
        return None

    def irq(self, handler=None, trigger=IRQ_FALLING, hard=False):
        if self._name != "drdy":
            raise ValueError("irq on an output pin")
        self._peer.handler = handler
        return None


class PeerSPI:
    """machine.SPI as the driver uses it: write, readinto(buf, write=0),
    write_readinto; each byte goes through the peer. Allocates nothing."""

    def __init__(self, peer):
        self._peer = peer

    def write(self, buf):
        p = self._peer
        i = 0
        n = len(buf)
        while i < n:
            p.xfer(buf[i])
            i += 1

    def readinto(self, buf, write=0):
        p = self._peer
        i = 0
        n = len(buf)
        while i < n:
            buf[i] = p.xfer(write)
            i += 1

    def read(self, nbytes, write=0):
        buf = bytearray(nbytes)
        self.readinto(buf, write)
        return bytes(buf)

    def write_readinto(self, wbuf, rbuf):
        p = self._peer
        i = 0
        n = len(wbuf)
        while i < n:
            rbuf[i] = p.xfer(wbuf[i])
            i += 1


def wire(devices=1, dev_ids=None, pins=("start", "reset", "pwdn")):
    """A peer and the driver's bus: (peer, spi, cs, drdy, {pin name: Pin})."""
    peer = Peer(devices, dev_ids)
    if "pwdn" in pins:
        peer.powered = False  # the MCU pin starts low: the chip is powered down
    extra = {name: PeerPin(peer, name) for name in pins}
    return peer, PeerSPI(peer), PeerPin(peer, "cs"), PeerPin(peer, "drdy"), extra
