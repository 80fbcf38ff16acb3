# The pyboard bench unit's timers, DMA and ADC as the fakes' register file
# leaves them after the HAL programmed them: plays TIM1 period by period,
# with DMA2 streams 1 (CC1 -> TIM1_DMAR burst: PSC, ARR), 2 (CC2 -> DAC dual
# register) and 5 (UP -> GPIOB_BSRR) reading the tables at the addresses the
# HAL gave them, MARK gating TIM8 whose updates put one ADC1/ADC2 pair into
# DMA2 stream 0's circular ring every 4 us, and TIM4 counting MARK's rising
# edges. What a test compares with the compiled timeline: the GPIOB output
# register at each edge, on the clock the HAL read when it set CEN.
import struct
import time

import stm
import uctypes

m = stm.mem32
T1 = stm.TIM1
DMA2 = stm.DMA2
BSRR = stm.GPIOB + stm.GPIO_BSRR
ODR = stm.GPIOB + stm.GPIO_ODR
DAC_DUAL = stm.DAC + stm.DAC_DHR12RD
T1_CR1 = T1 + stm.TIM_CR1
T4_CNT = stm.TIM4 + stm.TIM_CNT
T4_CR1 = stm.TIM4 + stm.TIM_CR1
state = [0, 0]  # clock at the last CEN write to TIM1, and those writes


def _hook(addr, value):
    if addr == T1_CR1 and value & 1:
        state[0] = time.ticks_us()
        state[1] += 1
    elif addr == BSRR:
        _bsrr(value)


def _bsrr(w):
    odr = m[ODR]
    m.regs[ODR] = (odr | (w & 0xFFFF)) & ~((w >> 16) & 0xFFFF)


m.hook = _hook


def cr(s):
    return DMA2 + 0x10 + 0x18 * s


def _word(addr, j):
    return struct.unpack("<I", uctypes.bytearray_at(addr + 4 * j, 4))[0]


def _poke(addr, j, w):
    b = uctypes.bytearray_at(addr + 4 * j, 4)
    b[0:4] = struct.pack("<I", w)


def play(mark, fwd, rev, enable_pin, ring_size, until_us=None):
    """Run TIM1 from CEN until the pattern stream's last edge (or until_us
    after CEN). Returns [(us after CEN, GPIOB ODR after the edge, DAC dual
    word at that moment)] for every pattern edge."""
    regs = m.regs
    rd = m.__getitem__
    psc = rd(T1 + stm.TIM_PSC)
    arr = rd(T1 + stm.TIM_ARR)
    pre_psc, pre_arr = psc, arr
    dier = rd(T1 + stm.TIM_DIER)
    n5, a5 = rd(cr(5) + 4), rd(cr(5) + 12)
    n1, a1 = rd(cr(1) + 4), rd(cr(1) + 12)
    n2, a2 = rd(cr(2) + 4), rd(cr(2) + 8)  # "peripheral" address: the table
    i5 = i1 = i2 = 0
    ring = rd(cr(0) + 12)
    ring_n = rd(cr(0) + 4)
    g = 0  # us MARK has been high (TIM8's count, in us)
    t = 0
    edges = []
    dac = rd(DAC_DUAL)
    while rd(T1_CR1) & 1:
        tick = (psc + 1) // 168
        length = (arr + 1) * tick
        # CNT = 1: the CC1 burst and the CC2 word
        if dier & 0x200 and n1 >= 2 and rd(cr(1)) & 1:
            pre_psc, pre_arr = _word(a1, i1), _word(a1, i1 + 1)
            i1 += 2
            n1 -= 2
        if dier & 0x400 and n2 >= 1 and rd(cr(2)) & 1:
            dac = _word(a2, i2)
            regs[DAC_DUAL] = dac
            i2 += 1
            n2 -= 1
        # monitor samples while MARK is high in this period
        odr = rd(ODR)
        if odr & mark:
            on = enable_pin.value()
            cur = 0
            volt = 0
            if on and odr & fwd:
                cur, volt = 1000, (dac & 0xFFF) // 4
            elif on and odr & rev:
                cur, volt = -1000, -(((dac >> 16) & 0xFFF) // 4)
            for _ in range(length):
                if g % 4 == 0:
                    pos = ring_size - ring_n
                    _poke(ring, pos, ((2048 + volt) << 16) | (2048 + cur))
                    ring_n -= 1
                    if ring_n == 0:
                        ring_n = ring_size
                g += 1
        t += length
        if until_us is not None and t > until_us:
            break
        if n5 == 0:
            break  # the last period: no edge ends it
        psc, arr = pre_psc, pre_arr
        if dier & 0x100 and rd(cr(5)) & 1:
            w = _word(a5, i5)
            i5 += 1
            n5 -= 1
            before = rd(ODR)
            _bsrr(w)
            if not before & mark and rd(ODR) & mark and rd(T4_CR1) & 1:
                regs[T4_CNT] = (rd(T4_CNT) + 1) & 0xFFFF
            edges.append((t, rd(ODR), dac))
    regs[cr(5) + 4] = n5
    regs[cr(1) + 4] = n1
    regs[cr(2) + 4] = n2
    regs[cr(0) + 4] = ring_n
    return edges
