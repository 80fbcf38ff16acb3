# Hardware layer of the Pico 2 bench unit (RP2350). Every call of the
# contract (stimfw/hal_api.py) but sim() is served here; the firmware above
# is the simulated unit's, unchanged.
#
# Pulse edges: a PIO state machine plays the timeline from a word stream
# (stimpio.encode) that one DMA channel feeds into its TX FIFO; Python only
# prepares the stream and starts it. HV_EN is a separate pin this module
# drives: high only while a timeline is in hand. The program reads it as its
# JMP pin (no gate rises while it is low, a drop latches the gates low) and
# the output stage ANDs every gate with it in hardware (board.py).
# GATE_1 drives each pulse's first phase and GATE_2 its second, their
# direction set by the pulse's settings; the phase amplitudes and the
# output and electrode routing are settings words the output stage latches
# over SPI1. A DMA channel sends the next pulse's words when the previous
# pulse's last phase ends (a PWM slice wraps on each falling edge of
# GATE_1-or-GATE_2 and paces it): settings change between pulses without
# Python either.
#
# fired_count: a PWM slice counts GATE_1 rising edges, one per pulse (16
# bits: modulo 2**16, as the contract has it); an endless DMA channel paced
# by a DMA timer copies the counter into a watchdog scratch register, which
# outlives a watchdog or soft reset (the PWM block does not); the next boot
# loads the counter from it.
#
# Output monitor: the ADC samples current (ADC0) and voltage (ADC1) in round
# robin at 500 kS/s into a RAM ring, by DMA paced by the ADC's DREQ; a second
# channel re-arms the first at the ring's end. fire() notes the ring position
# at the moment the stimulus stream starts, so pulse i's samples are found
# from the stream's own offsets, never from a Python-timed clock read.
#
# Recording: the ADS1299 front-end (stimfw.frontend.ads1299) reads each frame
# into its own ring from the DRDY interrupt; acquire() takes a window of it.
#
# Register addresses are the RP2350's (datasheet chapter 12 and 2.5).
import time
from array import array

import board
import machine
import pico2io
import rp2
import stimpio
from machine import Pin
from micropython import const
from pico2io import SETTINGS_HALFWORDS, edge_slice, phase_gates, settings
from stimfw.frontend.ads1299 import FrontEndError
from stimfw.hal_api import Hal as Contract
from stimfw.link.console import StdioConsole

mem32 = machine.mem32

# --- RP2350 registers ------------------------------------------------------------
_PWM_DIVMODE_RISE = const(2 << 4)
_PWM_DIVMODE_FALL = const(3 << 4)
_WATCHDOG = const(0x400D8000)
_SCRATCH_COUNT = const(0x400D800C)  # SCRATCH0: the pulse count's mirror
_SCRATCH_MARK = const(0x400D8010)  # SCRATCH1: _MARK once the mirror runs
# PWM slice 7's CC register (the slice idles: its pins are SPI1's) holds
# _WARM from boot on. A chip reset (power-on, watchdog, RUN) clears the PWM
# block; a soft reset does not, and machine.reset_cause() then still tells
# the last chip reset's reason: this tells the two apart.
_PWM_WARM = const(0x400A8000 + 0x14 * 7 + 0x0C)
_MARK = const(0x2D5B0C5)  # small ints: a 32-bit port reads them without allocating
_WARM = const(0x2D5B0C6)
_IO_BANK0 = const(0x40028000)  # GPIOn_CTRL at 8n + 4; FUNCSEL in bits 4:0
_FUNC_SPI = const(1)
_PWM = const(0x400A8000)  # slice n at 0x14 n: CSR, DIV, CTR, CC, TOP
_ADC = const(0x400A0000)  # CS, RESULT, FCS, FIFO, DIV
_ADC_FIFO = const(0x400A000C)
_ADC_CS_RUN = const(1 | (1 << 3) | (0b11 << 16))  # EN, START_MANY, RROBIN AIN0+AIN1
_ADC_FCS = const(1 | (1 << 3) | (1 << 24))  # EN, DREQ_EN, THRESH 1; 12-bit samples
_ADC_DIV = const(95 << 8)  # 48 MHz / (1 + 95) = 500 kS/s
_DMA = const(0x50000000)  # channel n at 0x40 n
_DMA_WRITE_ADDR = const(0x04)
_DMA_AL1_COUNT_TRIG = const(0x1C)
_DMA_AL2_WRITE_TRIG = const(0x2C)
_DMA_ABORT = const(0x50000464)
_PIO_TXF0 = const(0x50200010)  # PIO0 TX FIFO of SM0
_PIO_SM0_ADDR = const(0x502000D4)  # PIO0 SM0's program counter
_SPI1_DR = const(0x40088008)
_DREQ_PIO0_TX0 = const(0)
_DREQ_SPI1_TX = const(26)
_DREQ_PWM_WRAP0 = const(32)
_DREQ_ADC = const(48)
_TRIGGER_SELF = const(0x10000000)  # TRANS_COUNT mode: re-trigger on completion
_MAX_PULSES = const(32)  # the sequencer's segment
_START_MARGIN_US = const(200)  # stream set-up before the first scheduled edge
_MIRROR_HZ = const(100000)


class Hal(Contract):
    def __init__(self):
        self.console = StdioConsole()
        p = board.PINS
        # Safe first: enable low, gates low, before anything else is set up.
        self._en = Pin(p["HV_EN"], Pin.OUT, value=0)
        gate = Pin(p["GATE_1"], Pin.OUT, value=0)
        Pin(p["GATE_2"], Pin.OUT, value=0)
        self._ilk = Pin(p["INTERLOCK"], Pin.IN, Pin.PULL_UP)
        self._estop = Pin(p["ESTOP"], Pin.IN, Pin.PULL_UP)
        self._wdt = None
        self._aborted = True
        self._end_us = 0
        self._n = 0
        self._tl = None
        self._delay_us = 0
        self._anchor = 0  # monitor ring sample index (absolute) at stream start
        self._fire_ms = 0
        # Stimulus stream and its state machine.
        words = stimpio.WORDS_PER_PULSE * _MAX_PULSES + 8
        self._words = array("I", bytes(4 * words))
        # The program reads ENABLE as its JMP pin: a gate never rises while
        # HV_EN reads low, and a drop latches the gates low (stim.pio).
        self._sm = rp2.StateMachine(4 * board.PIO_BLOCK + board.PIO_SM, stimpio.PROGRAM,
                                    freq=stimpio.PIO_FREQ_HZ, out_base=gate, jmp_pin=self._en)
        # Where the program parks, gates low, once it has read ENABLE low:
        # rp2 notes the program's load offset in PROGRAM[1 + PIO block].
        self._latched = stimpio.PROGRAM[1 + board.PIO_BLOCK] + stimpio.LATCHED_ADDR
        self._dma = rp2.DMA()
        self._ctrl = self._dma.pack_ctrl(size=2, inc_read=True, inc_write=False,
                                         treq_sel=_DREQ_PIO0_TX0)
        # Settings: words for every phase end of a segment, and the first
        # pulse's, which fire() sends itself before the stream starts.
        self._set = array("H", bytes(2 * SETTINGS_HALFWORDS * (2 * _MAX_PULSES + 1)))
        self._first = memoryview(self._set)[:SETTINGS_HALFWORDS]
        self._rest = memoryview(self._set)[SETTINGS_HALFWORDS:]
        self._off = array("H", bytes(2 * SETTINGS_HALFWORDS))  # DACs 0, all relays open
        self._spi = machine.SPI(board.SPI_SETTINGS, baudrate=10000000, bits=16,
                                sck=Pin(p["SET_SCK"]), mosi=Pin(p["SET_MOSI"]))
        # SPI1's own chip select (GPIO function 1): it frames every 16-bit
        # word, whether the CPU or the settings DMA sends it.
        Pin(p["SET_CS"], Pin.OUT, value=1)
        mem32[_IO_BANK0 + 8 * p["SET_CS"] + 4] = _FUNC_SPI
        self._set_dma = rp2.DMA()
        self._set_ctrl = self._set_dma.pack_ctrl(size=1, inc_read=True, inc_write=False,
                                                 treq_sel=_DREQ_SPI1_TX)
        self._kick = rp2.DMA()
        self._kick_n = array("I", [SETTINGS_HALFWORDS])
        self._kick_ctrl = self._kick.pack_ctrl(size=2, inc_read=False, inc_write=False,
                                               treq_sel=_DREQ_PWM_WRAP0 + board.PWM_GATE_END_SLICE)
        # Addresses above 2**30 are big ints on a 32-bit port: made here, once.
        self._kick_to = _DMA + 0x40 * self._set_dma.channel + _DMA_AL1_COUNT_TRIG
        self._abort_mask = ((1 << self._dma.channel) | (1 << self._kick.channel)
                            | (1 << self._set_dma.channel))
        edge_slice(p["GATE_END_SENSE"], board.PWM_GATE_END_SLICE, _PWM_DIVMODE_FALL, 0)
        self._count_init(p["GATE_1_SENSE"])
        self._monitor_init()
        self._fe_init()
        self.outputs_off()

    # --- PWM edge counters and the count's mirror ---------------------------------
    def _count_init(self, gpio):
        # After a soft reset the counter ran on: keep it. After a chip reset
        # the count survives in SCRATCH0 while SCRATCH1 holds the mark
        # (cleared by power-on alone): reload the counter from it.
        self._warm = mem32[_PWM_WARM] == _WARM
        mem32[_PWM_WARM] = _WARM
        if self._warm:
            start = mem32[_PWM + 0x14 * board.PWM_PULSE_SLICE + 8] & 0xFFFF
        elif mem32[_SCRATCH_MARK] == _MARK:
            start = mem32[_SCRATCH_COUNT] & 0xFFFF
        else:
            start = 0
        s = edge_slice(gpio, board.PWM_PULSE_SLICE, _PWM_DIVMODE_RISE, 0xFFFF, start)
        self._ctr = s + 8
        mem32[_SCRATCH_COUNT] = start
        self._mirror_timer = rp2.DMATimer(freq=_MIRROR_HZ)
        self._mirror = rp2.DMA()
        self._mirror.config(read=self._ctr, write=_SCRATCH_COUNT, count=_TRIGGER_SELF | 1,
                            ctrl=self._mirror.pack_ctrl(size=2, inc_read=False, inc_write=False,
                                                        treq_sel=self._mirror_timer),
                            trigger=True)
        mem32[_SCRATCH_MARK] = _MARK

    # --- monitor ring -----------------------------------------------------------------
    def _monitor_init(self):
        machine.ADC(Pin(board.PINS["MON_I"]))
        machine.ADC(Pin(board.PINS["MON_V"]))
        n = 2 * board.MONITOR_RING_PAIRS
        self._ring = pico2io.RING
        self._ring_n = n
        self._mon = rp2.DMA()
        self._rearm = rp2.DMA()
        self._mon.config(read=_ADC_FIFO, write=self._ring, count=n,
                         ctrl=self._mon.pack_ctrl(size=1, inc_read=False, inc_write=True,
                                                  treq_sel=_DREQ_ADC, chain_to=self._rearm.channel))
        # The ring's address as the DMA holds it (in SRAM, below 2**30: a
        # small int, so the position arithmetic allocates nothing).
        self._mon_waddr = _DMA + 0x40 * self._mon.channel + _DMA_WRITE_ADDR
        self._ring_addr = mem32[self._mon_waddr]
        # At the ring's end: write its start into the sampling channel's
        # WRITE_ADDR trigger alias, which starts it again (the FIFO holds the
        # ADC's samples meanwhile).
        self._rearm_word = array("I", [self._ring_addr])
        self._rearm.config(read=self._rearm_word,
                           write=_DMA + 0x40 * self._mon.channel + _DMA_AL2_WRITE_TRIG, count=1,
                           ctrl=self._rearm.pack_ctrl(size=2, inc_read=False, inc_write=False))
        mem32[_ADC + 16] = _ADC_DIV
        mem32[_ADC + 8] = _ADC_FCS
        self._mon.active(1)
        mem32[_ADC] = _ADC_CS_RUN  # AINSEL 0 first: even ring slots are current

    def _ring_pos(self):
        """The sampling channel's next ring slot (a sample index, current
        and voltage slots alternating)."""
        return ((mem32[self._mon_waddr] - self._ring_addr) >> 1) % self._ring_n

    # --- front-end --------------------------------------------------------------------
    def _fe_init(self):
        pico2io.OWNER[0] = self
        self._fe = pico2io.FE
        self._rate = 0
        # Running from boot, so that a sweep's pre-trigger samples are in the
        # ring when it asks. A front-end that does not answer leaves the unit
        # able to boot and stimulate: the error answers each acquisition.
        self._fe_error = None
        try:
            self._fe_rate(board.AMP_RATES_HZ[-1])
        except FrontEndError as e:
            self._fe_error = e

    def _fe_rate(self, rate_hz):
        # Set up again when a request asks for another rate: the ring starts
        # over, and a window from before that is refused (acquire()).
        if rate_hz == self._rate:
            return
        if rate_hz not in board.AMP_RATES_HZ:
            raise ValueError("rate_hz %d: not one of %s" % (rate_hz, board.AMP_RATES_HZ))
        fe = self._fe
        fe.stop()
        self._rate = 0
        fe.setup(rate_hz, board.AMP_GAIN)
        fe.start()
        self._rate = rate_hz
        self._fe_error = None

    # --- clocks and idle -------------------------------------------------------------
    def idle(self, timeout_ms, until_us=None):
        if until_us is not None:
            d = time.ticks_diff(until_us, self.ticks_us())
            ms = (d + 999) // 1000 if d > 0 else 0
            if ms < timeout_ms:
                timeout_ms = ms
        self.console.wait(timeout_ms)

    def reset(self):
        machine.soft_reset()

    def reset_cause(self):
        if self._warm:
            return "soft", None
        c = machine.reset_cause()
        if c == machine.PWRON_RESET:
            return "power_on", None
        if c == machine.WDT_RESET:
            return "watchdog", None
        return "unknown", None

    # --- safety -----------------------------------------------------------------------
    def interlock_closed(self):
        return self._ilk.value() == 0

    def estop_pressed(self):
        return self._estop.value() == 1

    def outputs_off(self):
        self.abort()
        # DACs to zero and every relay open.
        self._spi.write(self._off)

    def start_watchdog(self, timeout_ms):
        self._wdt = machine.WDT(timeout=timeout_ms)

    def feed_watchdog(self):
        if self._wdt is not None:
            self._wdt.feed()

    def stop_watchdog(self):
        # machine.WDT cannot be stopped on rp2: the board resets timeout_ms
        # after the last feed.
        return False

    # --- stimulation ------------------------------------------------------------------
    def fire(self, timeline, start_us):
        self.abort()
        tl = timeline
        n = tl.n
        if n > _MAX_PULSES or stimpio.words_needed(tl) > len(self._words):
            raise ValueError("rp2_pico2: a segment of %d pulses is more than the stream holds" % n)
        # Settings: pulse 0 now; then at each phase end (a falling edge of
        # GATE_1-or-GATE_2: two per biphasic pulse with an interphase gap,
        # else one) the pulse's own words again, or after its last phase the
        # next pulse's.
        settings(self._set, tl, 0, 0)
        k = 1
        i = 0
        while i < n:
            if tl.w2_us[i] and tl.gap_us[i]:
                settings(self._set, tl, i, k)
                k += 1
            settings(self._set, tl, i + 1 if i + 1 < n else i, k)
            k += 1
            i += 1
        now = self.ticks_us()
        delay = time.ticks_diff(start_us, now)
        if delay < _START_MARGIN_US:
            delay = _START_MARGIN_US  # late: the monitor shows the late edges
        used = stimpio.encode(tl, self._words, delay)
        phase_gates(self._words, tl, used)
        self._tl = tl
        self._n = n
        self._delay_us = delay
        self._end_us = time.ticks_add(now, delay + tl.duration_us)
        self._fire_ms = self.ticks_ms()
        self._spi.write(self._first)
        self._set_dma.config(read=self._rest, write=_SPI1_DR, count=SETTINGS_HALFWORDS,
                             ctrl=self._set_ctrl)
        self._kick.config(read=self._kick_n, write=self._kick_to, count=k - 1,
                          ctrl=self._kick_ctrl, trigger=True)
        sm = self._sm
        sm.restart()
        self._en(1)
        self._aborted = False
        # The stream's time zero: the state machine starts with the DMA's
        # first words in its FIFO, and the monitor ring's position is noted
        # in the same breath, interrupts off.
        self._dma.config(read=self._words, write=_PIO_TXF0, count=used, ctrl=self._ctrl,
                         trigger=True)
        st = machine.disable_irq()
        sm.active(1)
        self._anchor = self._ring_pos()
        machine.enable_irq(st)

    def fire_done(self):
        if self._aborted:
            return True
        # ENABLE fell under a playing stream (not by abort()): the program
        # has latched the gates low and the DMA stalls on a full FIFO.
        cut = mem32[_PIO_SM0_ADDR] == self._latched
        if not cut and (time.ticks_diff(self.ticks_us(), self._end_us) < 0 or self._dma.active()):
            return False
        # The stream has played out: HV off until the next fire().
        self.abort()
        return True

    def abort(self):
        sm = self._sm
        sm.active(0)
        sm.exec(stimpio.GATES_OFF_INSTR)
        self._en(0)
        mask = self._abort_mask
        mem32[_DMA_ABORT] = mask
        k = 0
        while mem32[_DMA_ABORT] & mask and k < 1000:
            k += 1
        self._aborted = True

    def fired_count(self):
        return mem32[self._ctr] & 0xFFFF

    def monitor(self, pulse_index, buf):
        """Current and voltage across pulse pulse_index, from the ring."""
        tl = self._tl
        if tl is None or pulse_index >= self._n:
            return 0
        us = 1000000 // board.MONITOR_RATE_HZ
        pre = board.MONITOR_PRE_SAMPLES
        # Samples per trace: before, the pulse, and as long again after.
        length = (tl.w1_us[pulse_index] + tl.gap_us[pulse_index] + tl.w2_us[pulse_index]) // us
        want = pre + length + pre
        room = len(buf) // 2
        if want > room:
            want = room
        # The trace's first sample pair, counted from the anchor.
        # The first sample at or after the scheduled start is the trace's
        # pre-th.
        first = self._anchor + 2 * ((self._delay_us + tl.t_us[pulse_index] + us - 1) // us - pre)
        ring = self._ring_n
        # Samples written since the anchor: the ring position gives them
        # modulo the ring, the time since fire() how many times it wrapped.
        pos = self._ring_pos()
        delta = (pos - self._anchor) % ring
        approx = time.ticks_diff(self.ticks_ms(), self._fire_ms) * (board.MONITOR_RATE_HZ // 500)
        laps = (approx - delta + ring // 2) // ring
        written = self._anchor + delta + (laps * ring if laps > 0 else 0)
        if written < first + 2 * want:
            return 0  # not yet sampled
        if written - first > ring:
            raise ValueError("monitor: pulse %d has left the ring" % pulse_index)
        mon = self._ring
        j = first % ring
        k = 0
        while k < want:
            buf[2 * k] = mon[j] - 2048
            buf[2 * k + 1] = mon[j + 1] - 2048
            j += 2
            if j >= ring:
                j = 0
            k += 1
        return want

    # --- acquisition ------------------------------------------------------------------
    def acquire(self, t0_us, rate_hz, channels, buf):
        if rate_hz != self._rate:
            self._fe_rate(rate_hz)
        elif self._fe_error is not None:
            raise self._fe_error
        fe = self._fe
        ns = len(buf) // len(channels)
        if fe.count == 0:
            fe.wait(1, 100)  # index_at() counts from the last frame's time
        first = fe.index_at(t0_us)
        if first < 0:
            raise ValueError("acquire: the window starts before the front-end ran at %d Hz"
                             % rate_hz)
        # The window's last frame, with DRDY stuck a clear error, not a hang.
        fe.wait(first + ns, ns * 1000 // rate_hz + 100)
        return fe.read(buf, channels, first)

    def impedance(self, electrode):
        where = board.AMP_INPUTS.get(electrode)
        if where is None:
            raise ValueError("no recording electrode %r on this unit" % (electrode,))
        # The driver's AC lead-off measurement: the series impedance of the
        # channel's two inputs, this electrode and its partner (board.AMP_INPUTS).
        if not self._rate:
            self._fe_rate(board.AMP_RATES_HZ[0])
        return int(self._fe.impedance(where[0]) + 0.5)
