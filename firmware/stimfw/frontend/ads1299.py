# ADS1299-class 24-bit biopotential front-end on SPI: one device (8 channels)
# or two daisy-chained (16). A board's hal.py builds it from its machine.SPI
# and machine.Pin objects; docs/FRONTEND.md has the wiring and the timing.
#
# Datasheet facts used here are from TI SBAS499C (ADS1299, ADS1299-4,
# ADS1299-6), cited by section:
#   7.6   Timing Requirements: Serial Interface (tSDECODE, tCSSC, tSCCS)
#   9.3.2.4.3  Lead-Off Detection (DC and AC excitation, comparators)
#   9.4   Device Functional Modes (START, RESET, PWDN, settling, daisy chain)
#   9.5.1 Data Format, 9.5.2 SPI Interface (DRDY, Data Retrieval)
#   9.5.3 SPI Command Definitions (opcodes, RREG/WREG byte layout)
#   9.6   Register Map (addresses, reset values, bit fields)
#   10.1  Application: initial flow at power-up
#
# The DRDY path (on_drdy) and read() allocate nothing: a hard IRQ runs with
# the heap locked, and read() sits on the acquisition hot path. The ring keeps
# each frame's bytes exactly as the chip clocks them out (3 bytes a sample);
# read() turns them into numbers only for the channels a caller asks for.
import time

from micropython import const

# --- opcodes (9.5.3, SPI Command Definitions) --------------------------------
_WAKEUP = const(0x02)
_STANDBY = const(0x04)
_RESET = const(0x06)
_START = const(0x08)
_STOP = const(0x0A)
_RDATAC = const(0x10)  # read data continuous: the mode after power-up and reset
_SDATAC = const(0x11)  # stop RDATAC: registers can be read and written again
_RDATA = const(0x12)   # one frame by command (SDATAC mode)
_RREG = const(0x20)    # | start address; second byte: count - 1
_WREG = const(0x40)    # | start address; second byte: count - 1, then the data

# --- register addresses (9.6, Register Map) ----------------------------------
_ID = const(0x00)
_CONFIG1 = const(0x01)
_CONFIG2 = const(0x02)
_CONFIG3 = const(0x03)
_LOFF = const(0x04)
_CH1SET = const(0x05)  # CH1SET..CH8SET at 0x05..0x0C
_BIAS_SENSP = const(0x0D)
_BIAS_SENSN = const(0x0E)
_LOFF_SENSP = const(0x0F)
_LOFF_SENSN = const(0x10)
_LOFF_FLIP = const(0x11)
_LOFF_STATP = const(0x12)  # read-only: comparator outputs
_LOFF_STATN = const(0x13)
_GPIO = const(0x14)
_MISC1 = const(0x15)
_MISC2 = const(0x16)
_CONFIG4 = const(0x17)
_NREGS = const(0x18)

# ID register (9.6 Register Map, ID): REV_ID[7:5] = 001, bit 4 = 1, DEV_ID[3:2] = 11,
# NU_CH[1:0] = 10 for the 8-channel ADS1299 (01 is the -6, 00 the -4).
ID_ADS1299 = 0x3E

# CONFIG1 (9.6 Register Map): bit 7 and bit 4 must be 1, bit 3 must be 0; bit 6 is
# DAISY_EN active low (0 = daisy-chain, 1 = multiple read-back); bit 5 CLK_EN
# puts the oscillator on the CLK pin (for the second device of a chain);
# DR[2:0] sets the rate: f_MOD / (2**(DR + 5)) with f_MOD = f_CLK / 4 and
# f_CLK = 2.048 MHz, from 16 kSPS (DR = 0) to 250 SPS (DR = 6).
_CONFIG1_FIXED = const(0x90)
_CONFIG1_MULTI_READBACK = const(0x40)
_CONFIG1_CLK_EN = const(0x20)
RATES_HZ = (250, 500, 1000, 2000, 4000, 8000, 16000)
# CONFIG2 (9.6): bits 7:6 must be 1; test signals off.
_CONFIG2_VALUE = const(0xC0)
# CONFIG3 (9.6): PD_REFBUF (bit 7, internal reference on), bits 6:5 must
# be 1, BIASREF_INT (bit 3), PD_BIAS (bit 2, bias buffer on); BIAS_STAT (bit
# 0) is read-only.
_CONFIG3_REF = const(0xE0)
_CONFIG3_BIAS = const(0x0C)
_CONFIG3_READ_ONLY = const(0x01)
# CHnSET (9.6): PDn (bit 7), GAINn[2:0] (bits 6:4), SRB2 (bit 3),
# MUXn[2:0] (000 normal electrode input). Reset value 0x61 (gain 24, shorted).
GAINS = (1, 2, 4, 6, 8, 12, 24)
# LOFF (9.6): COMP_TH[2:0] (bits 7:5, 000 = 95 % / 5 %), ILEAD_OFF[1:0]
# (bits 3:2: 6 nA, 24 nA, 6 uA, 24 uA), FLEAD_OFF[1:0] (bits 1:0: 00 DC,
# 11 AC at f_DR / 4).
LOFF_CURRENTS_NA = (6, 24, 6000, 24000)
_FLEAD_DC = const(0)
_FLEAD_AC_FDR4 = const(3)
# CONFIG4 (9.6, address 17h): PD_LOFF_COMP (bit 1) powers the lead-off
# comparators; SINGLE_SHOT (bit 3) left 0: continuous conversion.
_CONFIG4_LOFF_COMP = const(0x02)

# Internal reference 4.5 V (9.3.1.3.4 Reference): one LSB is VREF / (gain * 2**23).
_VREF_UV = const(4500000)
# 9.5.1: a frame is 24 status bits (1100 + LOFF_STATP + LOFF_STATN +
# GPIO[7:4]) then 24 bits per channel, twos complement, MSB first; a
# daisy chain shifts the second device's frame out after the first's.
_DEVICE_FRAME = const(27)
_CHANNELS_PER_DEVICE = const(8)
_STATUS_HEADER = const(0xC0)

# Timing (7.6, 9.4.2): commands are decoded in 4 t_CLK (1.96 us at 2.048 MHz)
# between the bytes of a multi-byte command; after RESET, 18 t_CLK before
# the next command; a reset pulse of at least 2 t_CLK.
_T_DECODE_US = const(2)
_T_RESET_US = const(10)
# The internal reference settles before conversions mean anything (10.1,
# power-up flow): waited once in setup().
_REF_SETTLE_US = const(150000)
# 10.1 / 9.4.3: after power-up (PWDN high) wait t_POR = 2**18 t_CLK (128 ms)
# before the reset.
_T_POR_US = const(128000)


class FrontEndError(Exception):
    """The front-end did not answer as configured: wrong ID, a register that
    reads back wrong, a chained device missing, no DRDY."""


class ADS1299:
    """One ADS1299 (8 channels) or two daisy-chained (16) on one SPI bus and
    chip select. spi: machine.SPI-like (mode 1: polarity 0, phase 1, MSB
    first, up to 20 MHz); cs, start, reset, pwdn: output pins (value(v));
    drdy: input pin with irq(). start/reset/pwdn may be None (then the START
    and RESET opcodes stand in; PWDN tied high). ring_samples: frames the
    ring holds (27 bytes per device each). uv_per_lsb: read() gives int16 at
    that scale (the board's AMP_UV_PER_LSB), clipped; None: read() gives the
    raw 24-bit codes (into an array('i'), lsb_uv() per LSB). clock: a
    ticks_us-like function (default time.ticks_us), the time DRDY frames are
    stamped with."""

    RATES_HZ = RATES_HZ
    GAINS = GAINS

    def __init__(self, spi, cs, drdy, start=None, reset=None, pwdn=None, devices=1,
                 ring_samples=512, uv_per_lsb=None, clock=None):
        if devices not in (1, 2):
            raise ValueError("front-end: 1 or 2 daisy-chained devices, not %r" % (devices,))
        if ring_samples < 4:
            raise ValueError("front-end: ring of at least 4 frames")
        self._spi = spi
        self._cs = cs
        self._drdy = drdy
        self._start_pin = start
        self._reset_pin = reset
        self._pwdn = pwdn
        self.devices = devices
        self.channels = _CHANNELS_PER_DEVICE * devices
        self._flen = _DEVICE_FRAME * devices
        self._ring_n = ring_samples
        self._ring = bytearray(self._flen * ring_samples)
        self._frame = bytearray(self._flen)
        self._cmd = bytearray(1)
        self._regs = bytearray(_NREGS)
        self._uv_per_lsb = uv_per_lsb
        self._clock = clock if clock is not None else time.ticks_us
        # The IRQ handler as one bound method made here: binding it in the
        # IRQ would allocate.
        self._handler = self.on_drdy
        self.rate_hz = 0
        self.gain = 0
        self._period16 = 0  # sample period in 1/16 us (exact for every rate)
        self._loff_byte = 0
        self._gap_us = 0
        self._mul = 0
        self._shift = 0
        self._round = 0
        self._running = False
        self._have_t = False
        self.t_last_us = 0  # clock() at the last frame read
        self.count = 0      # frames in the ring since start(), lost ones included
        self._rpos = 0      # read()'s position, a frame index like count
        self.lost = 0       # frames the chip made that were never read (DRDY late)
        self.overruns = 0   # frames read() skipped: overwritten before it came
        self.bad_frames = 0  # frames whose status header was wrong (dropped)
        self.timeouts = 0   # wait() calls that saw no DRDY in time
        self._t_power = None
        if pwdn is not None:
            pwdn.value(1)
            self._t_power = self._clock()
        if start is not None:
            start.value(0)
        if reset is not None:
            reset.value(1)
        cs.value(1)

    # --- SPI primitives ----------------------------------------------------
    def _command(self, op):
        self._cmd[0] = op
        self._cs.value(0)
        self._spi.write(self._cmd)
        self._cs.value(1)
        # 9.5.3: SDATAC, RESET and the like need 4 t_CLK before the next one.
        time.sleep_us(_T_DECODE_US)

    def _bytes_out(self, *values):
        # Multi-byte commands one byte at a time, t_SDECODE apart (9.5.3,
        # "Sending Multi-Byte Commands"): right at any SCLK rate.
        cmd = self._cmd
        for v in values:
            cmd[0] = v
            self._spi.write(cmd)
            time.sleep_us(_T_DECODE_US)

    def write_regs(self, addr, data):
        """WREG: data (a sequence of byte values) from register addr on. In a
        daisy chain every device takes the write (DIN and CS are shared)."""
        self._cs.value(0)
        try:
            self._bytes_out(_WREG | addr, len(data) - 1, *data)
        finally:
            self._cs.value(1)

    def read_regs(self, addr, n):
        """RREG: n registers from addr, as a bytearray. In a daisy chain the
        answer is the first device's (the one on the MCU's MISO)."""
        out = bytearray(n)
        self._cs.value(0)
        try:
            self._bytes_out(_RREG | addr, n - 1)
            self._spi.readinto(out, 0)
        finally:
            self._cs.value(1)
        return out

    # --- set-up --------------------------------------------------------------
    def reset(self):
        """RESET (pin pulse or opcode), then SDATAC: the chip comes out of
        reset in RDATAC mode (9.5.3), where it ignores register reads."""
        self.stop()
        if self._t_power is not None:
            # Powered up by our PWDN: t_POR first, once.
            left = _T_POR_US - time.ticks_diff(self._clock(), self._t_power)
            if left > 0:
                self._wait_us(left)
            self._t_power = None
        if self._reset_pin is not None:
            self._reset_pin.value(0)
            time.sleep_us(_T_RESET_US)
            self._reset_pin.value(1)
        else:
            self._command(_RESET)
        time.sleep_us(_T_RESET_US)
        self._command(_SDATAC)

    def check_id(self):
        got = self.read_regs(_ID, 1)[0]
        if got != ID_ADS1299:
            hint = " (no device answering: SPI wiring, power or PWDN)" if got in (0, 0xFF) else ""
            raise FrontEndError("front-end ID 0x%02x read, 0x%02x (ADS1299, 8 channels) expected%s"
                                % (got, ID_ADS1299, hint))
        return got

    def setup(self, rate_hz, gain, bias=True, lead_off=True):
        """Reset, SDATAC, check the ID, write CONFIG1..4, LOFF, CHnSET, bias
        and lead-off sensing, verify every register by read-back, and check
        that every device of the chain sends a frame (one conversion by
        RDATA). rate_hz in RATES_HZ, gain in GAINS. bias: drive the bias
        (right-leg) electrode from every input. lead_off: DC lead-off
        detection (6 nA) on every input, its status in every frame.
        Raises FrontEndError naming what was expected and what was read."""
        if rate_hz not in RATES_HZ:
            raise ValueError("front-end rate %r Hz: one of %r" % (rate_hz, RATES_HZ))
        if gain not in GAINS:
            raise ValueError("front-end gain %r: one of %r" % (gain, GAINS))
        self.reset()
        self.check_id()
        dr = 6 - RATES_HZ.index(rate_hz)
        c1 = _CONFIG1_FIXED | dr
        if self.devices == 2:
            c1 |= _CONFIG1_CLK_EN  # the first device clocks the second
        else:
            c1 |= _CONFIG1_MULTI_READBACK
        c3 = _CONFIG3_REF | (_CONFIG3_BIAS if bias else 0)
        # The reference first, then its settling (10.1).
        self.write_regs(_CONFIG3, (c3,))
        self._wait_us(_REF_SETTLE_US)
        chset = GAINS.index(gain) << 4
        loff_sens = 0xFF if lead_off else 0
        want = self._regs
        want[_CONFIG1] = c1
        want[_CONFIG2] = _CONFIG2_VALUE
        want[_CONFIG3] = c3
        want[_LOFF] = (LOFF_CURRENTS_NA.index(6) << 2) | _FLEAD_DC
        for k in range(_CHANNELS_PER_DEVICE):
            want[_CH1SET + k] = chset
        want[_BIAS_SENSP] = want[_BIAS_SENSN] = 0xFF if bias else 0
        want[_LOFF_SENSP] = want[_LOFF_SENSN] = loff_sens
        want[_LOFF_FLIP] = 0
        want[_MISC1] = 0
        want[_MISC2] = 0
        want[_CONFIG4] = _CONFIG4_LOFF_COMP if lead_off else 0
        self.write_regs(_CONFIG1, want[_CONFIG1:_LOFF_STATP])
        self.write_regs(_MISC1, want[_MISC1:_NREGS])
        self._verify()
        self.rate_hz = rate_hz
        self.gain = gain
        self._loff_byte = want[_LOFF]
        self._period16 = 16000000 // rate_hz
        self._scale()
        self._probe_chain()

    def _verify(self):
        got = self.read_regs(0, _NREGS)
        want = self._regs
        for a in range(_CONFIG1, _NREGS):
            if a in (_LOFF_STATP, _LOFF_STATN, _GPIO):
                continue  # status and pin states, not configuration
            mask = 0xFF & ~_CONFIG3_READ_ONLY if a == _CONFIG3 else 0xFF
            if (got[a] ^ want[a]) & mask:
                raise FrontEndError("front-end register 0x%02x reads 0x%02x, 0x%02x written"
                                    % (a, got[a], want[a]))

    def _probe_chain(self):
        # One conversion read by RDATA: proves DRDY works and that every
        # device of the chain shifts out a frame with the 1100 status header
        # (RREG only ever answers for the first device).
        self._start_conversions()
        try:
            self._wait_drdy_low(self._first_frame_us())
            self._cs.value(0)
            self._cmd[0] = _RDATA
            self._spi.write(self._cmd)
            self._spi.readinto(self._frame, 0)
            self._cs.value(1)
        finally:
            self._stop_conversions()
        f = self._frame
        for d in range(self.devices):
            h = f[d * _DEVICE_FRAME] & 0xF0
            if h != _STATUS_HEADER:
                raise FrontEndError("front-end device %d of %d: status header 0x%x read, 0x%x "
                                    "expected (daisy chain: DOUT2 to DAISY_IN1, CONFIG1 DAISY_EN)"
                                    % (d + 1, self.devices, h >> 4, _STATUS_HEADER >> 4))

    def _first_frame_us(self):
        # 9.4.1: the first DRDY after START comes after the digital filter
        # settles (about 4 periods plus overhead): allow 8 periods and 20 ms.
        return (self._period16 * 8) // 16 + 20000

    def _wait_us(self, us):
        t0 = self._clock()
        while time.ticks_diff(self._clock(), t0) < us:
            pass

    def _wait_drdy_low(self, timeout_us):
        t0 = self._clock()
        while self._drdy.value():
            if time.ticks_diff(self._clock(), t0) > timeout_us:
                self.timeouts += 1
                raise FrontEndError("front-end DRDY stuck high: no conversion in %d ms"
                                    % (timeout_us // 1000))

    def _start_conversions(self):
        if self._start_pin is not None:
            self._start_pin.value(1)
        else:
            self._command(_START)

    def _stop_conversions(self):
        if self._start_pin is not None:
            self._start_pin.value(0)
        else:
            self._command(_STOP)

    def _scale(self):
        # int16 at uv_per_lsb from 24-bit codes with small ints only (31-bit
        # on a 32-bit board): out = code * m / 2**shift, m in [2**17, 2**18),
        # the code split in 12-bit halves so no product passes 2**30.
        if self._uv_per_lsb is None:
            return
        s = self.lsb_uv() / self._uv_per_lsb
        if not 0 < s < 16:
            raise ValueError("front-end: %f uV per LSB at gain %d does not fit int16 at %f"
                             % (self.lsb_uv(), self.gain, self._uv_per_lsb))
        sh = 17
        while s * (1 << sh) < (1 << 17):
            sh += 1
        while s * (1 << sh) >= (1 << 18):
            sh -= 1
        self._shift = sh
        self._mul = int(s * (1 << sh) + 0.5)
        self._round = 1 << (sh - 13)

    def lsb_uv(self):
        """Microvolts per 24-bit code at the set gain: VREF / (gain * 2**23)."""
        return _VREF_UV / (self.gain * 8388608)

    # --- streaming -----------------------------------------------------------
    def start(self):
        """RDATAC and START: frames arrive on DRDY into the ring from index 0
        (count and read()'s position restart). The DRDY IRQ (falling edge,
        hard) is set here; a board may instead call on_drdy from its own."""
        if not self._period16:
            raise FrontEndError("front-end: setup() before start()")
        self.count = 0
        self._rpos = 0
        self._have_t = False
        # A gap longer than the ring, in us: beyond it every slot is stale,
        # and d * 16 below stays a small int.
        self._gap_us = (self._ring_n * self._period16) >> 4
        self._running = True
        self._command(_RDATAC)
        self._drdy.irq(handler=self._handler, trigger=self._drdy.IRQ_FALLING, hard=True)
        self._start_conversions()

    def stop(self):
        """STOP and SDATAC; the ring keeps what it holds."""
        if not self._running:
            return
        self._running = False
        self._drdy.irq(handler=None)
        self._stop_conversions()
        self._command(_SDATAC)

    def on_drdy(self, pin):
        """DRDY fell: one frame (status and channels of every device) into
        the ring. Allocates nothing. A frame that comes more than 1.5
        periods after the last was preceded by frames the chip overwrote
        (IRQ latency): they are counted in lost and their slots hold this
        frame, so ring index and time stay in step."""
        if not self._running:
            return
        t = self._clock()
        f = self._frame
        self._cs.value(0)
        self._spi.readinto(f, 0)
        self._cs.value(1)
        if (f[0] & 0xF0) != _STATUS_HEADER or (
                self.devices == 2 and (f[_DEVICE_FRAME] & 0xF0) != _STATUS_HEADER):
            # Not a frame (a glitch, a chip that reset): dropped, and the
            # gap it leaves is counted as lost with the next good one.
            self.bad_frames += 1
            return
        n = 1
        if self._have_t:
            d = time.ticks_diff(t, self.t_last_us)
            p16 = self._period16
            if d > 0:
                if d > self._gap_us:
                    # Longer than the ring holds: near enough (d * 16 could
                    # leave the small ints), and every slot is rewritten.
                    n = d // (p16 >> 4)
                else:
                    n = (d * 16 + (p16 >> 1)) // p16
                    if n < 1:
                        n = 1
        self.t_last_us = t
        self._have_t = True
        if n > 1:
            self.lost += n - 1
            if n > self._ring_n:
                n = self._ring_n
        ring = self._ring
        flen = self._flen
        c = self.count
        k = 0
        while k < n:
            o = ((c + k) % self._ring_n) * flen
            ring[o:o + flen] = f
            k += 1
        self.count = c + n

    def wait(self, count, timeout_ms):
        """Wait until count frames are in the ring since start(). No DRDY for
        timeout_ms: counted in timeouts, FrontEndError (never a hang)."""
        t0 = self._clock()
        last = self.count
        limit = timeout_ms * 1000
        while self.count < count:
            now = self._clock()
            if self.count != last:
                last = self.count
                t0 = now
            elif time.ticks_diff(now, t0) > limit:
                self.timeouts += 1
                raise FrontEndError("front-end DRDY stuck: no frame for %d ms (%d of %d frames)"
                                    % (timeout_ms, self.count, count))
        return self.count

    def index_at(self, t_us):
        """The frame index whose DRDY came nearest t_us (clock ticks), from
        the last frame's time and the set rate; may be negative or beyond
        count. Needs a frame since start() (wait(1) first)."""
        if not self._have_t:
            raise FrontEndError("front-end: no frame yet to place a time")
        d = time.ticks_diff(t_us, self.t_last_us)
        p16 = self._period16
        if d >= 0:
            return self.count - 1 + (d * 16 + (p16 >> 1)) // p16
        return self.count - 1 - (-d * 16 + (p16 >> 1)) // p16

    def read(self, buf, channels, start=None):
        """Samples of channels (small ints, 0..channels-1) from the ring into
        buf, interleaved by sample (buf[i * len(channels) + c]): int16 at
        uv_per_lsb (clipped), or raw 24-bit codes when uv_per_lsb is None.
        From frame index start, or where the last read() stopped; as many
        frames as buf holds and the ring has. Returns frames per channel and
        moves the read position after them. A start the ring has already
        overwritten moves to its oldest frame, and frames DRDY overwrites
        while they are being copied are counted too (overruns). Allocates
        nothing."""
        nch = len(channels)
        total = self.channels
        j = 0
        while j < nch:
            if not 0 <= channels[j] < total:
                raise ValueError("front-end channel %r: 0..%d" % (channels[j], total - 1))
            j += 1
        pos = self._rpos if start is None else start
        c = self.count
        # One slot short of the ring: the oldest may be the one DRDY is
        # overwriting now.
        oldest = c - self._ring_n + 1
        if pos < oldest:
            self.overruns += oldest - pos
            pos = oldest
        n = c - pos
        if n < 0:
            n = 0
        room = len(buf) // nch
        if n > room:
            n = room
        ring = self._ring
        flen = self._flen
        ring_n = self._ring_n
        scaled = self._uv_per_lsb is not None
        m = self._mul
        sh = self._shift - 12
        rnd = self._round
        i = 0
        w = 0
        while i < n:
            base = ((pos + i) % ring_n) * flen
            j = 0
            while j < nch:
                ch = channels[j]
                o = base + (ch >> 3) * _DEVICE_FRAME + 3 + (ch & 7) * 3
                v = (ring[o] << 16) | (ring[o + 1] << 8) | ring[o + 2]
                if v & 0x800000:
                    v -= 0x1000000
                if scaled:
                    v = ((v >> 12) * m + (((v & 0xFFF) * m) >> 12) + rnd) >> sh
                    if v > 32767:
                        v = 32767
                    elif v < -32768:
                        v = -32768
                buf[w] = v
                w += 1
                j += 1
            i += 1
        # DRDY went on meanwhile: the frames it rewrote under the copy (the
        # oldest ones) are counted; a caller keeps well clear of the oldest.
        late = self.count - ring_n + 1 - pos
        if late > 0:
            self.overruns += late if late < n else n
        self._rpos = pos + n
        return n

    # --- lead-off ------------------------------------------------------------
    def lead_off(self):
        """(p_mask, n_mask) from the last frame's status: bit k set when
        channel k's positive (negative) input is off (LOFF_STATP/N, 9.5.1;
        the second device in bits 8..15). Needs setup(lead_off=True)."""
        if self.count == 0:
            raise FrontEndError("front-end: no frame yet for lead-off status")
        ring = self._ring
        base = ((self.count - 1) % self._ring_n) * self._flen
        p = n = 0
        for d in range(self.devices):
            o = base + d * _DEVICE_FRAME
            b0, b1, b2 = ring[o], ring[o + 1], ring[o + 2]
            p |= (((b0 & 0x0F) << 4) | (b1 >> 4)) << (8 * d)
            n |= (((b1 & 0x0F) << 4) | (b2 >> 4)) << (8 * d)
        return p, n

    def impedance(self, channel, current_na=24, frames=64, timeout_ms=1000):
        """The series impedance in ohms of channel's two inputs (electrodes,
        leads and any series resistors): AC lead-off excitation at f_DR / 4
        with current_na (9.3.2.4.3) drives +-I through them; the square wave
        it leaves in the channel has amplitude I * Z. Stops streaming,
        measures over frames frames, restores DC lead-off and restarts if it
        was running (frame indices then count from 0 again). Allocates (not
        a hot path)."""
        if current_na not in LOFF_CURRENTS_NA:
            raise ValueError("front-end lead-off current %r nA: one of %r"
                             % (current_na, LOFF_CURRENTS_NA))
        if not 0 <= channel < self.channels:
            raise ValueError("front-end channel %r: 0..%d" % (channel, self.channels - 1))
        was = self._running
        self.stop()
        saved = self._uv_per_lsb
        try:
            self.write_regs(_LOFF, ((LOFF_CURRENTS_NA.index(current_na) << 2) | _FLEAD_AC_FDR4,))
            self._uv_per_lsb = None
            self.start()
            skip = 8  # the filter settles on the excitation
            self.wait(skip + frames, timeout_ms)
            codes = [0] * 1
            acc = 0
            prev = []
            for k in range(frames):
                self.read(codes, (channel,), skip + k)
                prev.append(codes[0])
            for k in range(frames - 2):
                acc += abs(prev[k] - prev[k + 2])
            amp_uv = acc / (2 * (frames - 2)) * self.lsb_uv()
            self.stop()
        finally:
            self._uv_per_lsb = saved
            self.write_regs(_LOFF, (self._loff_byte,))
        if was:
            self.start()
        return amp_uv / (current_na * 1e-3)  # uV / nA * 1e-3 -> ohms
