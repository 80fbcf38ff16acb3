# Hardware abstraction of the pyboard v1.1 bench unit (STM32F405, 168 MHz).
# Every call of the contract (stimfw/hal_api.py) but sim() is provided.
#
# Stimulus: TIM1 + three DMA2 streams play an edge table; Python sets no edge.
#   The table is three preallocated arrays, one entry per edge k:
#     _pat[k]  GPIOB BSRR word at edge k (gates, MARK, output select)
#     _tim[2k], _tim[2k+1]  PSC and ARR of period k (edge k to edge k+1)
#     _dac[k]  DAC_DHR12RD word (both DAC channels), written just after edge k-1
#   TIM1 runs from the 168 MHz APB2 timer clock, PSC 167 (1 us ticks) or
#   16799 (100 us ticks, for intervals over 65.5 ms: a coarse period that
#   ends in a no-op edge, then the exact 1 us remainder). Its DMA requests:
#     UP  -> DMA2 stream 5 ch 6: _pat[k] into GPIOB_BSRR at update (edge) k
#     CC1 -> DMA2 stream 1 ch 6: a 2-word burst into TIM1_DMAR (DCR: DBA =
#            PSC, DBL = 2 transfers), at CNT = 1 of period k-1, so PSC and
#            ARR (both preloaded) take effect at edge k
#     CC2 -> DMA2 stream 2 ch 6: _dac[k] into DAC_DHR12RD at CNT = 1 of
#            period k-1 (DMA2 reaches APB1 through its memory port: the
#            stream runs "peripheral to memory" with PAR on the table and
#            M0AR on the DAC register)
#   Register sequence of fire() (after the table is encoded):
#     TIM1_CR1 = 0; DMA2 SxCR EN = 0 for streams 1, 2, 5; clear their flags
#     stream 5: PAR GPIOB_BSRR, M0AR _pat, NDTR n, CR ch6|MSIZE32|PSIZE32|MINC|M2P|EN
#     stream 1: PAR TIM1_DMAR, M0AR _tim, NDTR 2n, CR ch6|32-bit|MINC|M2P|EN
#     stream 2: PAR _dac, M0AR DAC_DHR12RD, NDTR n, CR ch6|32-bit|PINC|P2M|EN
#     TIM1: CCMR1 0 (frozen), CCR1 = CCR2 = 1, DCR = (1 << 8) | 10,
#           CR1 = ARPE|URS, PSC/ARR of the first period, EGR = UG, SR = 0,
#           DIER = UDE|CC1DE|CC2DE, then with IRQs off: the first period
#           from the clock now, CR1 |= CEN.
#   Edge 0 is a no-op lead edge, so the first period (the only one Python
#   sets) can be any length and the pulses stay exact to 1 us: edges closer
#   than 2 us are put 2 us apart (CC1/CC2 fire at CNT = 1).
#   Per pulse: MARK and the output's select line rise PRE_US before the
#   scheduled start (the DAC words land 1 us later), the phase-1 gate (FWD or
#   REV by polarity and anode) opens at the start, closes after w1; after the
#   gap the other gate opens for w2; MARK falls at the end of the monitor
#   window. Gates are ANDed with ENABLE in the output stage: no gate output
#   without ENABLE, which only Python raises (fire) and drops (abort).
#
# Monitor: ADC1 (current, X21) and ADC2 (voltage, X22) in dual regular
#   simultaneous mode, triggered by TIM8 TRGO at MONITOR_RATE_HZ; TIM8 is in
#   gated slave mode on TI1 (Y1, wired to MARK), so it samples only inside
#   pulse windows. DMA2 stream 0 ch 0 (ADC1, dual DMA mode 2) moves each
#   pair as one word (ADC2 << 16 | ADC1) into the circular ring _ring. MARK
#   windows are whole sample periods long and TIM8 shares TIM1's clock, so
#   every window adds an exact number of samples: a pulse's trace sits at a
#   ring position known when the table is encoded.
#
# Pulse count: MARK (X9) clocks TIM4 (external clock mode 1, TI1FP1 rising):
#   a 16-bit hardware count of started pulses that runs on while the
#   firmware hangs and survives a soft reset (the HAL configures TIM4 by
#   register; pyb's soft reset only stops timers made through pyb.Timer).
#   A watchdog or hard reset clears it: the last count copied to RTC_BKP0R
#   (at each read, fire and abort) seeds the counter again, but the pulses
#   after that copy are unknown, so fired_count() raises NotProvided until
#   the next fire() and the firmware journals the upper bound.
#
# Recording: an ADS1299 on SPI2 (stimfw.frontend.ads1299) streams into its
#   ring from a hard DRDY IRQ; acquire() reads the window by frame index.
#   The driver and its ring (AFE_RING frames, 13.8 KB) are made at the first
#   acquire() or impedance(), not at boot: at the pyboard's 100 KB heap they
#   do not fit beside the rest (README.md, Heap), and made at boot the unit
#   would not start at all.
#
# Allocation: register addresses at or above 0x40000000 are big ints on a
# 32-bit port (small ints stop at 2**30), so every address is computed once,
# here, and the hot calls (fire, abort, outputs_off, fire_done, monitor,
# fired_count, the safety inputs, feed_watchdog) only index stm.mem32 with
# them and write values below 2**30: they allocate nothing (heap_lock test).
import time
from array import array

import board
import machine
import pyb
import stm
import uctypes
from micropython import const
from stimfw.hal_api import Hal as Contract
from stimfw.hal_api import NotProvided
from stimfw.link.console import StdioConsole

# --- register bits ------------------------------------------------------------------
_CEN = const(1)
_URS = const(4)
_ARPE = const(0x80)
_UG = const(1)
_UDE = const(0x100)
_CC1DE = const(0x200)
_CC2DE = const(0x400)
_DCR_PSC_ARR = const((1 << 8) | 10)  # DBL: 2 transfers from DBA 10 (PSC), then ARR
_SMCR_EXT_TI1 = const((5 << 4) | 7)  # TS TI1FP1, SMS external clock mode 1
_SMCR_GATED_TI1 = const((5 << 4) | 5)  # TS TI1FP1, SMS gated
_MMS_UPDATE = const(2 << 4)
_EN = const(1)  # DMA stream CR
_M2P = const(1 << 6)
_CIRC = const(1 << 8)
_PINC = const(1 << 9)
_MINC = const(1 << 10)
_W32 = const((2 << 11) | (2 << 13))  # PSIZE and MSIZE 32-bit
_PL_HIGH = const(2 << 16)
_CH6 = const(6 << 25)
_ADON = const(1)
_EXTEN_RISING = const(1 << 28)
_EXTSEL_TIM8_TRGO = const(14 << 24)
_DUAL_REGSIMULT = const(6)  # ADC CCR MULTI
_DMA_MODE2 = const((2 << 14) | (1 << 13))  # DMA mode 2, DDS
_PWR_DBP = const(0x100)

_FINE_PSC = const(167)  # 1 us ticks at 168 MHz
_COARSE_PSC = const(16799)  # 100 us ticks
_FINE_MAX = const(65536)  # us in one fine period
_COARSE_MAX = const(6553600)  # us in one coarse period
_FAR = const(60000)  # a coarse period leaves 60.000..60.099 ms for the fine one after it
_MIN_PERIOD = const(2)  # us between edges: CC1/CC2 fire at CNT = 1
_POST_US = const(32)  # monitor window after a pulse's end
_COUNT_TAG = const(0x1717)  # RTC_BKP0R: tag << 16 | count (kept below 2**30)
_SOFT_TAG = const(0x50F7)  # RTC_BKP2R: reset() asked for this soft reset

SAMPLE_US = 1000000 // board.MONITOR_RATE_HZ  # 4 us
PRE_US = board.MONITOR_PRE_SAMPLES * SAMPLE_US
RING = board.MONITOR_MAX_SAMPLES * board.MONITOR_RING_WINDOWS  # sample pairs in the monitor ring
MAX_PULSES = 32  # pulses of one fire() (the sequencer's segment)
EDGE_CAP = 256  # edges of one fire(): up to 6 a pulse, and coarse fillers
AFE_RING = 512  # front-end frames: 128 ms at 4 kHz

# --- absolute register addresses (computed once) ----------------------------------
_m = stm.mem32
_TIM1 = stm.TIM1
_T1_CR1 = _TIM1 + stm.TIM_CR1
_T1_DIER = _TIM1 + stm.TIM_DIER
_T1_SR = _TIM1 + stm.TIM_SR
_T1_EGR = _TIM1 + stm.TIM_EGR
_T1_CCMR1 = _TIM1 + stm.TIM_CCMR1
_T1_CCR1 = _TIM1 + stm.TIM_CCR1
_T1_CCR2 = _TIM1 + stm.TIM_CCR2
_T1_PSC = _TIM1 + stm.TIM_PSC
_T1_ARR = _TIM1 + stm.TIM_ARR
_T1_DCR = _TIM1 + stm.TIM_DCR
_T1_DMAR = _TIM1 + stm.TIM_DMAR
_T4_CR1 = stm.TIM4 + stm.TIM_CR1
_T4_SMCR = stm.TIM4 + stm.TIM_SMCR
_T4_CCMR1 = stm.TIM4 + stm.TIM_CCMR1
_T4_CCER = stm.TIM4 + stm.TIM_CCER
_T4_ARR = stm.TIM4 + stm.TIM_ARR
_T4_CNT = stm.TIM4 + stm.TIM_CNT
_T8_CR1 = stm.TIM8 + stm.TIM_CR1
_T8_CR2 = stm.TIM8 + stm.TIM_CR2
_T8_PSC = stm.TIM8 + stm.TIM_PSC
_T8_ARR = stm.TIM8 + stm.TIM_ARR
_T8_CCMR1 = stm.TIM8 + stm.TIM_CCMR1
_T8_SMCR = stm.TIM8 + stm.TIM_SMCR
_BSRR = stm.GPIOB + stm.GPIO_BSRR
_DAC_DUAL = stm.DAC + stm.DAC_DHR12RD
_BKP_COUNT = stm.RTC + stm.RTC_BKP0R
_BKP_RESET = stm.RTC + stm.RTC_BKP2R
_PWR_CR = 0x40007000  # the stm module names no PWR registers
_ADC_CCR = stm.ADC123_COMMON + 0x04
_ADC_CDR = stm.ADC123_COMMON + 0x08
_RCC_APB1ENR = stm.RCC + stm.RCC_APB1ENR
_RCC_APB2ENR = stm.RCC + stm.RCC_APB2ENR
_RCC_AHB1ENR = stm.RCC + stm.RCC_AHB1ENR
# DMA2 stream x registers: CR 0x10 + 0x18 x, then NDTR, PAR, M0AR, (M1AR), FCR.
_S_CR = tuple(stm.DMA2 + 0x10 + 0x18 * s for s in range(8))
_S_NDTR = tuple(a + 0x04 for a in _S_CR)
_S_PAR = tuple(a + 0x08 for a in _S_CR)
_S_M0AR = tuple(a + 0x0C for a in _S_CR)
_S_FCR = tuple(a + 0x14 for a in _S_CR)
# Interrupt flag clear register and the 6-bit flag field of each stream.
_S_IFCR = tuple(stm.DMA2 + (stm.DMA_LIFCR if s < 4 else stm.DMA_HIFCR) for s in range(8))
_S_FLAGS = tuple(0x3D << (0, 6, 16, 22)[s & 3] for s in range(8))
_PAT, _TIMS, _DACS, _ADC = 5, 1, 2, 0  # the streams


def _stream_off(s):
    _m[_S_CR[s]] = 0
    while _m[_S_CR[s]] & _EN:
        pass
    _m[_S_IFCR[s]] = _S_FLAGS[s]


def _stream(s, par, m0ar, ndtr, cr):
    _stream_off(s)
    _m[_S_PAR[s]] = par
    _m[_S_M0AR[s]] = m0ar
    _m[_S_NDTR[s]] = ndtr
    _m[_S_FCR[s]] = 0  # direct mode
    _m[_S_CR[s]] = cr | _EN


def _zeros(n):
    return array("I", bytes(4 * n))


# The edge table, the monitor map and ring, made at import: the firmware
# imports this module right after reserving the DSP arena (stimfw/app.py),
# while the heap is still in one piece; made later, in a heap the other
# modules have cut up, these blocks found no room at 100 KB.
_PAT_T = _zeros(EDGE_CAP)
_TIM_T = _zeros(2 * EDGE_CAP)
_DAC_T = _zeros(EDGE_CAP + 1)
_MON_T = _zeros(3 * MAX_PULSES)
_RING_T = _zeros(RING)


def _gpiob_bit(name):
    p = pyb.Pin(board.PINS[name])
    if p.port() != 1:
        raise ValueError("board.PINS[%r] = %s is not on GPIOB" % (name, board.PINS[name]))
    return 1 << p.pin()


class Hal(Contract):
    def __init__(self):
        self.console = StdioConsole()
        P = pyb.Pin
        self._enable = P(board.PINS["ENABLE"], P.OUT_PP, value=0)
        self._interlock = P(board.PINS["INTERLOCK"], P.IN, P.PULL_UP)
        self._estop = P(board.PINS["ESTOP"], P.IN, P.PULL_UP)
        for name in ("GATE_FWD", "GATE_REV", "MARK") + board.OUTPUT_SELECT:
            P(board.PINS[name], P.OUT_PP, value=0)
        self._fwd = _gpiob_bit("GATE_FWD")
        self._rev = _gpiob_bit("GATE_REV")
        self._mark = _gpiob_bit("MARK")
        sels = [_gpiob_bit(n) for n in board.OUTPUT_SELECT]
        allsel = 0
        for b in sels:
            allsel |= b
        # BSRR words: an output's select line on, the others off; all off.
        self._sel = tuple(b | ((allsel & ~b) << 16) for b in sels)
        self._all_off = (allsel | self._fwd | self._rev | self._mark) << 16
        # DAC code of an amplitude: (amp // res) * 4095 // (max // res).
        self._res = tuple(o["res"] for o in board.OUTPUTS)
        self._steps = tuple(o["max"] // o["res"] for o in board.OUTPUTS)
        self._full = (1 << board.DAC_BITS) - 1
        self._dacs = (pyb.DAC(1, bits=12), pyb.DAC(2, bits=12))  # pins to analog, DAC on
        for d in self._dacs:
            d.write(0)
        # The edge table and the per-pulse monitor map, made once.
        self._pat = _PAT_T
        self._tim = _TIM_T
        self._dac = _DAC_T
        self._pat_addr = uctypes.addressof(self._pat)
        self._tim_addr = uctypes.addressof(self._tim)
        self._dac_addr = uctypes.addressof(self._dac)
        self._n_edges = 0
        self._lead_rel = 0
        mon = memoryview(_MON_T)
        self._mon_pos = mon[:MAX_PULSES]  # ring index of the trace's first sample
        self._mon_n = mon[MAX_PULSES:2 * MAX_PULSES]  # samples in the trace
        self._mon_edge = mon[2 * MAX_PULSES:]  # the trace is complete once this edge is out
        self._n_pulses = 0
        self._ring = _RING_T
        self._ring_addr = uctypes.addressof(self._ring)
        self._ring_head = 0
        self._done = True
        self._wdt = None
        _m[_RCC_APB2ENR] |= (1 << 0) | (1 << 1) | (1 << 8) | (1 << 9)  # TIM1 TIM8 ADC1 ADC2
        _m[_RCC_AHB1ENR] |= 1 << 22  # DMA2
        self._trusted = self._counter_setup()
        self._monitor_setup()
        self._afe = None
        self._afe_rate = 0
        self.outputs_off()

    # --- clocks: the contract's time.ticks_* defaults ---------------------------------
    def idle(self, timeout_ms, until_us=None):
        if until_us is not None:
            ms = (time.ticks_diff(until_us, time.ticks_us()) + 999) // 1000
            if ms < timeout_ms:
                timeout_ms = ms if ms > 0 else 0
        self.console.wait(timeout_ms)

    def reset(self):
        _m[_BKP_RESET] = _SOFT_TAG
        machine.soft_reset()

    def reset_cause(self):
        c = machine.reset_cause()
        asked = _m[_BKP_RESET] == _SOFT_TAG
        _m[_BKP_RESET] = 0
        if c == machine.SOFT_RESET:
            return ("soft", None) if asked else ("interrupt", "soft reset from the REPL")
        if c == machine.WDT_RESET:
            return "watchdog", None
        if c == machine.HARD_RESET:
            return "hard", "reset button or hard_reset()"
        if c == machine.PWRON_RESET:
            return "power_on", None
        return "unknown", None

    # --- safety -------------------------------------------------------------------
    def interlock_closed(self):
        return self._interlock.value() == 0

    def estop_pressed(self):
        return self._estop.value() == 1  # an open or cut loop reads pressed

    def outputs_off(self):
        self.abort()
        _m[_DAC_DUAL] = 0

    def start_watchdog(self, timeout_ms):
        self._wdt = machine.WDT(timeout=timeout_ms)

    def feed_watchdog(self):
        if self._wdt is not None:
            self._wdt.feed()

    def stop_watchdog(self):
        return False  # the STM32's IWDG runs until the next reset

    # --- stimulation ------------------------------------------------------------------
    def fire(self, timeline, start_us):
        self.abort()
        self._ring_head = RING - _m[_S_NDTR[_ADC]]  # the ADC is idle: MARK is low
        n = self._encode(timeline)
        self._trusted = True
        _stream(_PAT, _BSRR, self._pat_addr, n, _CH6 | _PL_HIGH | _W32 | _MINC | _M2P)
        _stream(_TIMS, _T1_DMAR, self._tim_addr, 2 * n, _CH6 | _PL_HIGH | _W32 | _MINC | _M2P)
        # DMA2 reaches the DAC (APB1) through its memory port: "peripheral"
        # (the table) to "memory" (the DAC register).
        _stream(_DACS, self._dac_addr, _DAC_DUAL, n, _CH6 | _PL_HIGH | _W32 | _PINC)
        _m[_T1_CCMR1] = 0  # CC1, CC2 frozen: DMA triggers only
        _m[_T1_CCR1] = 1
        _m[_T1_CCR2] = 1
        _m[_T1_DCR] = _DCR_PSC_ARR
        _m[_T1_CR1] = _ARPE | _URS  # URS: UG below makes no DMA request
        self._done = False
        self._enable.value(1)
        irq = machine.disable_irq()
        first = self._lead(time.ticks_diff(start_us, time.ticks_us()) + self._lead_rel)
        if first <= _FINE_MAX:
            _m[_T1_PSC] = _FINE_PSC
            _m[_T1_ARR] = first - 1
        else:
            _m[_T1_PSC] = _COARSE_PSC
            _m[_T1_ARR] = first // 100 - 1
        _m[_T1_EGR] = _UG
        _m[_T1_SR] = 0
        _m[_T1_DIER] = _UDE | _CC1DE | _CC2DE
        _m[_T1_CR1] = _ARPE | _URS | _CEN
        machine.enable_irq(irq)

    def _lead(self, d):
        # d: us from now to edge 1 (the first pulse's window). Writes the lead
        # edge's period (_tim[0:2]) and returns the first period, which the
        # timer starts with: the lead edge 2 us before edge 1, or for a far
        # start 60.000..60.099 ms before it, so that the first period is whole
        # 100 us ticks.
        if d < 2 * _MIN_PERIOD:
            d = 2 * _MIN_PERIOD  # late: every edge moves on by the same
        lead = _MIN_PERIOD
        if d > _FINE_MAX + _MIN_PERIOD:
            lead = _FAR + (d - _FAR) % 100
            if d - lead > _COARSE_MAX:
                raise ValueError("fire: start more than %d us ahead" % _COARSE_MAX)
        self._tim[0] = _FINE_PSC
        self._tim[1] = lead - 1
        return d - lead

    def _edge(self, k, dt, pat, dac):
        # Edge k, dt us after edge k-1: its period (k-1), pattern and the DAC
        # word loaded just after it. Coarse no-op edges go first where dt
        # does not fit a fine period. Returns the next edge's index.
        if dt < _MIN_PERIOD:
            dt = _MIN_PERIOD
        while dt > _FINE_MAX:
            c = dt - _FAR
            c -= c % 100
            if c > _COARSE_MAX:
                c = _COARSE_MAX
            k = self._put(k, _COARSE_PSC, c // 100 - 1, 0, dac)
            dt -= c
        return self._put(k, _FINE_PSC, dt - 1, pat, dac)

    def _put(self, k, psc, arr, pat, dac):
        if k >= EDGE_CAP:
            raise ValueError("fire: the timeline needs more than %d edges" % EDGE_CAP)
        self._tim[2 * k - 2] = psc
        self._tim[2 * k - 1] = arr
        self._pat[k] = pat
        self._dac[k + 1] = dac
        return k + 1

    def _encode(self, tl):
        """Timeline tl as the edge table (times relative to its start; edge
        0 is the lead edge) and the monitor map. Returns the edge count."""
        n = tl.n
        if n > MAX_PULSES:
            raise ValueError("fire: %d pulses, at most %d" % (n, MAX_PULSES))
        fwd = self._fwd
        mark = self._mark
        off = self._all_off
        self._pat[0] = 0
        self._dac[0] = 0
        self._dac[1] = 0
        self._lead_rel = 0
        k = 1
        prev = 0  # time of the last edge
        run_t = 0  # the open window's start time and its place in the ring
        run_pos = 0
        pos = 0  # samples this table adds to the ring before the open window
        is_open = False
        i = 0
        while i < n:
            t = tl.t_us[i]
            o = tl.output[i]
            a1 = tl.amp[i]
            w1 = tl.w1_us[i]
            gap = tl.gap_us[i]
            w2 = tl.w2_us[i]
            # Phase 1 on the diagonal that drives current from the anode
            # (FWD: electrode 0 to 1); phase 2 on the other.
            g1 = fwd if (a1 > 0) == ((tl.anodes[i] & 1) != 0) else self._rev
            g2 = self._rev if g1 == fwd else fwd
            res = self._res[o]
            c1 = (abs(a1) // res) * self._full // self._steps[o]
            c2 = (abs(tl.amp2[i]) // res) * self._full // self._steps[o]
            dac = (c2 << 16 | c1) if g1 == fwd else (c1 << 16 | c2)
            wstart = t - PRE_US
            if i == 0:
                self._lead_rel = wstart
                self._pat[1] = mark | self._sel[o]
                self._dac[2] = dac
                k = 2
                prev = run_t = wstart
                is_open = True
            elif not is_open:
                k = self._edge(k, wstart - prev, mark | self._sel[o], dac)
                prev = run_t = prev + max(wstart - prev, _MIN_PERIOD)
                run_pos = pos
                is_open = True
            else:
                # the window stayed open: this pulse's output and DAC words
                dt = min(max(wstart - prev, _MIN_PERIOD), t - prev - _MIN_PERIOD)
                k = self._edge(k, dt, self._sel[o], dac)
                prev += max(dt, _MIN_PERIOD)
            self._mon_pos[i] = (self._ring_head + run_pos + max(wstart - run_t, 0) // SAMPLE_US) % RING
            dt = max(t - prev, _MIN_PERIOD)
            k = self._edge(k, dt, g1, dac)
            prev += dt
            dt = max(w1, _MIN_PERIOD)
            if w2 and gap == 0:
                k = self._edge(k, dt, g2 | (g1 << 16), dac)  # one edge: phase 1 off, phase 2 on
                prev += dt
            else:
                k = self._edge(k, dt, g1 << 16, dac)
                prev += dt
                if w2:
                    dt = max(gap, _MIN_PERIOD)
                    k = self._edge(k, dt, g2, dac)
                    prev += dt
            if w2:
                dt = max(w2, _MIN_PERIOD)
                k = self._edge(k, dt, g2 << 16, dac)
                prev += dt
            # The window closes POST_US after the pulse, on a whole sample,
            # unless the next pulse's window would open within two samples:
            # then it stays open and this trace runs to that window's start.
            span = prev + _POST_US - run_t
            span += (-span) % SAMPLE_US
            wend = run_t + span
            if i + 1 < n and tl.t_us[i + 1] - PRE_US - wend < 2 * SAMPLE_US:
                nxt = tl.t_us[i + 1] - PRE_US
                self._mon_n[i] = min((nxt - wstart) // SAMPLE_US, board.MONITOR_MAX_SAMPLES)
                self._mon_edge[i] = k  # the next edge is at or after nxt
            else:
                k = self._edge(k, wend - prev, off, dac)
                prev = wend
                pos = run_pos + span // SAMPLE_US
                is_open = False
                self._mon_n[i] = min((wend - wstart) // SAMPLE_US, board.MONITOR_MAX_SAMPLES)
                self._mon_edge[i] = k - 1
            i += 1
        if n == 0:
            k = self._edge(k, _MIN_PERIOD, off, 0)
        # The period after the last edge: the pattern stream has ended.
        self._tim[2 * k - 2] = _FINE_PSC
        self._tim[2 * k - 1] = _FINE_MAX - 1
        self._n_edges = k
        self._n_pulses = n
        return k

    def fire_done(self):
        if not self._done and _m[_S_NDTR[_PAT]] == 0:
            _m[_T1_CR1] = 0  # every edge is out; ENABLE stays up for the next segment
            self._done = True
        return self._done

    def abort(self):
        self._enable.value(0)  # first: the output stage ANDs every gate with it
        _m[_T1_CR1] = 0
        _m[_T1_DIER] = 0
        _stream_off(_PAT)
        _stream_off(_TIMS)
        _stream_off(_DACS)
        _m[_BSRR] = self._all_off
        self._count_copy()
        self._done = True

    # --- pulse counter: TIM4 clocked by MARK, copied to RTC_BKP0R ---------------------
    def _counter_setup(self):
        _m[_PWR_CR] |= _PWR_DBP  # backup registers writable
        if _m[_T4_CR1] & _CEN and _m[_T4_SMCR] == _SMCR_EXT_TI1:
            return True  # it ran on through a soft reset or a crash
        pyb.Pin(board.PINS["COUNT_IN"], pyb.Pin.AF_PP, af=pyb.Pin.AF2_TIM4)
        _m[_RCC_APB1ENR] |= 1 << 2  # TIM4
        _m[_T4_CR1] = 0
        _m[_T4_CCMR1] = 1  # CC1S: TI1
        _m[_T4_CCER] = 0  # rising edges
        _m[_T4_ARR] = 0xFFFF
        _m[_T4_SMCR] = _SMCR_EXT_TI1
        bkp = _m[_BKP_COUNT]
        _m[_T4_CNT] = bkp & 0xFFFF if bkp >> 16 == _COUNT_TAG else 0
        _m[_T4_CR1] = _CEN
        return False

    def _count_copy(self):
        _m[_BKP_COUNT] = (_COUNT_TAG << 16) | (_m[_T4_CNT] & 0xFFFF)

    def fired_count(self):
        if not self._trusted:
            raise NotProvided("stm32_pybv11: the pulse counter restarted with the reset; "
                              "the pulses after its last copy are unknown")
        self._count_copy()
        return _m[_T4_CNT] & 0xFFFF

    # --- output monitor -----------------------------------------------------------------
    def _monitor_setup(self):
        P = pyb.Pin
        P(board.PINS["MON_I"], P.ANALOG)
        P(board.PINS["MON_V"], P.ANALOG)
        P(board.PINS["MON_GATE"], P.AF_PP, af=P.AF3_TIM8)
        _m[_T8_CR1] = 0
        _m[_T8_PSC] = 0
        _m[_T8_ARR] = 168000000 // board.MONITOR_RATE_HZ - 1
        _m[_T8_CCMR1] = 1  # CC1S: TI1 (MARK)
        _m[_T8_CR2] = _MMS_UPDATE  # TRGO: each update triggers both ADCs
        _m[_T8_SMCR] = _SMCR_GATED_TI1
        _m[_ADC_CCR] = _DUAL_REGSIMULT | _DMA_MODE2
        for adc, ch in ((stm.ADC1, 12), (stm.ADC2, 13)):
            _m[adc + stm.ADC_SQR1] = 0  # one conversion
            _m[adc + stm.ADC_SQR3] = ch
            _m[adc + stm.ADC_SMPR1] = 0  # 3 cycles
            _m[adc + stm.ADC_CR2] = _ADON
        _m[stm.ADC1 + stm.ADC_CR2] = _ADON | _EXTEN_RISING | _EXTSEL_TIM8_TRGO
        _stream(_ADC, _ADC_CDR, self._ring_addr, RING, _PL_HIGH | _W32 | _MINC | _CIRC)  # ch 0
        _m[_T8_CR1] = _CEN  # counts only while MARK is high

    def monitor(self, pulse_index, buf):
        i = pulse_index
        if i >= self._n_pulses:
            return 0
        if not self._done and self._n_edges - _m[_S_NDTR[_PAT]] <= self._mon_edge[i]:
            return 0  # the trace's window has not closed yet
        n = self._mon_n[i]
        if n > len(buf) // 2:
            n = len(buf) // 2
        ring = self._ring
        p = self._mon_pos[i]
        j = 0
        while j < 2 * n:
            w = ring[p]
            buf[j] = (w & 0xFFF) - 2048  # current: mid-scale is zero
            buf[j + 1] = ((w >> 16) & 0xFFF) - 2048  # voltage
            p += 1
            if p == RING:
                p = 0
            j += 2
        return n

    # --- acquisition: the ADS1299 on SPI2 -----------------------------------------------
    def _frontend(self, rate_hz):
        if self._afe is None:
            from stimfw.frontend.ads1299 import ADS1299

            M = machine.Pin
            spi = machine.SPI(board.AFE_SPI, baudrate=board.AFE_SPI_BAUD, polarity=0, phase=1)
            self._afe = ADS1299(spi, M(board.PINS["AFE_CS"], M.OUT, value=1),
                                M(board.PINS["AFE_DRDY"], M.IN),
                                start=M(board.PINS["AFE_START"], M.OUT, value=0),
                                reset=M(board.PINS["AFE_RESET"], M.OUT, value=1),
                                devices=board.AFE_DEVICES, ring_samples=AFE_RING,
                                uv_per_lsb=board.AMP_UV_PER_LSB)
        afe = self._afe
        if rate_hz != self._afe_rate:
            afe.stop()
            self._afe_rate = 0
            afe.setup(rate_hz, board.AMP_GAIN)
            afe.start()
            afe.wait(1, 1000)  # a first frame: index_at() places times from it
            self._afe_rate = rate_hz
        return afe

    def acquire(self, t0_us, rate_hz, channels, buf):
        afe = self._afe if rate_hz == self._afe_rate else self._frontend(rate_hz)
        n = len(buf) // len(channels)
        i0 = afe.index_at(t0_us)
        afe.wait(i0 + n, 1000)
        return afe.read(buf, channels, i0)

    def impedance(self, electrode):
        names = board.AMP_ELECTRODES
        if electrode not in names or names.index(electrode) >= board.AMP_CHANNELS:
            raise ValueError("no impedance of %r on this unit; electrodes: %s"
                             % (electrode, ", ".join(names[:board.AMP_CHANNELS])))
        afe = self._frontend(self._afe_rate or board.AMP_RATES_HZ[-1])
        return int(afe.impedance(names.index(electrode)))
