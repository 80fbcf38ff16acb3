# Fake of MicroPython's stm module (pyboard v1.1 build) for tests: the
# register constants the board HAL uses, with the values of
# micropython-stm32-pybv11-stubs' stm.pyi (tests/test_stm32_board.py checks
# them), and mem8/mem16/mem32 over a register file that records every write.
# Reading a register gives what was last written (0 if never), except where
# stm32hw.py plays the hardware. Nothing here allocates once the register
# file holds the address, so the HAL's hot paths can run under heap_lock.
from array import array

TIM1 = 1073807360
TIM4 = 1073743872
TIM8 = 1073808384
TIM_CR1 = 0
TIM_CR2 = 4
TIM_SMCR = 8
TIM_DIER = 12
TIM_SR = 16
TIM_EGR = 20
TIM_CCMR1 = 24
TIM_CCMR2 = 28
TIM_CCER = 32
TIM_CNT = 36
TIM_PSC = 40
TIM_ARR = 44
TIM_RCR = 48
TIM_CCR1 = 52
TIM_CCR2 = 56
TIM_CCR3 = 60
TIM_CCR4 = 64
TIM_BDTR = 68
TIM_DCR = 72
TIM_DMAR = 76
GPIOA = 1073872896
GPIOB = 1073873920
GPIOC = 1073874944
GPIO_MODER = 0
GPIO_IDR = 16
GPIO_ODR = 20
GPIO_BSRR = 24
DAC = 1073771520
DAC_CR = 0
DAC_DHR12R1 = 8
DAC_DHR12R2 = 20
DAC_DHR12RD = 32
DAC_DOR1 = 44
DAC_DOR2 = 48
RTC = 1073752064
RTC_BKP0R = 80
RTC_BKP1R = 84
RTC_BKP2R = 88
ADC1 = 1073815552
ADC2 = 1073815808
ADC123_COMMON = 1073816320
ADC_SR = 0
ADC_CR1 = 4
ADC_CR2 = 8
ADC_SMPR1 = 12
ADC_SMPR2 = 16
ADC_SQR1 = 44
ADC_SQR3 = 52
ADC_DR = 76
RCC = 1073887232
RCC_AHB1ENR = 48
RCC_APB1ENR = 64
RCC_APB2ENR = 68
DMA1 = 1073897472
DMA2 = 1073898496
DMA_LISR = 0
DMA_HISR = 4
DMA_LIFCR = 8
DMA_HIFCR = 12
PWR = 0x40007000  # not in the stubs' stm module: the HAL names it itself

LOG = 256  # writes kept, oldest overwritten (small: the fakes share the board's heap)


class _Mem:
    """stm.mem32: a register file keyed by address, every write logged."""

    def __init__(self):
        # Filled as the HAL writes: its set-up writes every register its hot
        # paths write, so those find their key and allocate nothing.
        self.regs = {}
        self.log_addr = array("I", bytes(4 * LOG))
        self.log_val = array("I", bytes(4 * LOG))
        self.writes = 0
        self.hook = None  # called as hook(addr, value) after a write (stm32hw)

    def __getitem__(self, addr):
        return self.regs.get(addr, 0)

    def __setitem__(self, addr, value):
        self.regs[addr] = value & 0xFFFFFFFF if value < 0 else value
        i = self.writes % LOG
        self.log_addr[i] = addr
        self.log_val[i] = value & 0xFFFFFFFF if value < 0 else value
        self.writes += 1
        if self.hook is not None:
            self.hook(addr, value)

    def written(self, addr):
        """Values written to addr, oldest first (test helper; allocates)."""
        n = min(self.writes, LOG)
        start = self.writes - n
        return [self.log_val[(start + j) % LOG] for j in range(n)
                if self.log_addr[(start + j) % LOG] == addr]


mem32 = _Mem()
mem16 = mem32
mem8 = mem32
