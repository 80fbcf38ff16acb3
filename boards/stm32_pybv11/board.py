# A bench StimBox on a pyboard v1.1 (STM32F405RG, 168 MHz, 192 KB RAM of
# which about 100 KB is MicroPython's heap). This file declares the unit;
# the firmware reads it on the device and the host tools read it for
# deploying. Plain constants only. How each table is driven: hal.py and
# README.md (wiring, timer/DMA register set-up, build).
#
# What this bench unit cannot do that the simulated unit can is declared
# here, so that the firmware refuses such a protocol at VALIDATE naming the
# limit: one ADS1299 (8 recording channels, at most 4 kHz here: every frame
# is read in a Python IRQ handler), a 12-bit DAC (the outputs' "res"), a
# 400 V transcranial stage, and a heap that holds a set-up of at most
# LIMITS["record_samples_max"] channel-samples.
NAME = "stm32_pybv11"
DESCRIPTION = "StimBox bench unit on a pyboard v1.1 (STM32F405, ADS1299 front-end)"
MCU = "STM32F405RG"
MPY_ARCH = "armv7emsp"
# Not MicroPython's generic pyboard id (0xF055:0x9800, every pyboard has
# it): the host finds the unit by the USB product string this firmware's
# build sets (README.md: MICROPY_HW_USB_PRODUCT_FS_STRING).
USB_IDS = ()
USB_MATCH = {"product": "StimBox"}
LIMITS_PROFILE = "stm32_pybv11-v1"
# The MicroPython heap of a pyboard v1.1 build with ulab and the frozen
# firmware (docs: README.md).
HEAP_BYTES = 100 * 1024
# time.ticks_* period on the board (32-bit small ints).
TICKS_PERIOD = 2**30

# --- pins (pyboard v1.1 names; the wiring is in README.md) --------------------
# The edge pattern (gates, marker, output select) is on one GPIO port, GPIOB,
# because one DMA write of a BSRR word sets them all at an edge.
PINS = {
    "GATE_FWD": "Y11",  # PB0: bridge diagonal, current from electrode 0 to 1
    "GATE_REV": "Y12",  # PB1: the other diagonal
    "MARK": "Y3",  # PB8: high over a pulse's monitor window; wired to Y1 and X9
    "SEL_TC": "Y4",  # PB9: output select lines (one-hot)
    "SEL_P1": "Y9",  # PB10
    "SEL_P2": "Y10",  # PB11
    "SEL_PR": "X10",  # PB7
    "ENABLE": "X11",  # PC4: output stage enable; the gates are ANDed with it in hardware
    "INTERLOCK": "X19",  # PC0: closed key/footswitch pulls low
    "ESTOP": "X20",  # PC1: normally-closed e-stop to ground: open (pressed or cut) reads high
    "DAC_FWD": "X5",  # PA4, DAC1: amplitude of the forward diagonal's current sink
    "DAC_REV": "X6",  # PA5, DAC2: the reverse diagonal's
    "MON_I": "X21",  # PC2, ADC1 IN12: output current sense (mid-scale = 0)
    "MON_V": "X22",  # PC3, ADC2 IN13: output voltage sense (mid-scale = 0)
    "MON_GATE": "Y1",  # PC6, TIM8 CH1: MARK gates the monitor ADC's sample clock
    "COUNT_IN": "X9",  # PB6, TIM4 CH1: MARK clocks the pulse counter
    "AFE_SCK": "Y6",  # PB13, SPI2
    "AFE_MISO": "Y7",  # PB14
    "AFE_MOSI": "Y8",  # PB15
    "AFE_CS": "Y5",  # PB12
    "AFE_DRDY": "X12",  # PC5
    "AFE_START": "X7",  # PA6
    "AFE_RESET": "X8",  # PA7
}
AFE_SPI = 2  # pyb SPI bus 2 (Y5..Y8)
AFE_SPI_BAUD = 4000000
AFE_DEVICES = 1  # ADS1299s daisy-chained (8 channels each)

# --- stimulator outputs (as boards/sim: kinds, units, fields) -------------------
# One pair of DAC-set current sinks behind an H-bridge per output; the select
# lines route the bridge to one output stage. Amplitude resolution: the
# 12-bit DAC over each output's range.
def _cc(name, label, mx, res, electrodes, area, ua_lsb, mv_lsb):
    return {
        "name": name, "label": label, "kind": "CC", "max": mx, "res": res,
        "compliance": 100000,  # 100 V bench stage
        "width_us": (50, 500),  # a biphasic pulse's monitor window fits MONITOR_MAX_SAMPLES
        "electrodes": electrodes, "area_cm2": area,
        "mon_ua_lsb": ua_lsb, "mon_mv_lsb": mv_lsb,
    }


OUTPUTS = (
    {
        "name": "TC",
        "label": "transcranial (400 V bench stage)",
        "kind": "CV",
        "max": 400000,
        "res": 1000,
        "current_limit": 1000000,
        "width_us": (50, 500),
        "electrodes": ("C3", "C4"),
        "area_cm2": 0.5,
        "mon_ua_lsb": 500,  # 1 A over 2047 LSB of a mid-scale 12-bit ADC
        "mon_mv_lsb": 200,  # 400 V over 2047 LSB
    },
    _cc("P1", "peripheral 1", 50000, 20, ("P1+", "P1-"), 0.5, 25, 50),
    _cc("P2", "peripheral 2", 50000, 20, ("P2+", "P2-"), 0.5, 25, 50),
    _cc("PR", "probe (direct nerve / pedicle screw)", 20000, 10, ("probe", "return"), 0.02, 10, 50),
)
# Output index -> the select pin that routes the bridge to it (PINS names).
OUTPUT_SELECT = ("SEL_TC", "SEL_P1", "SEL_P2", "SEL_PR")
DAC_BITS = 12

WATCHDOG_MS = 2000

# Output monitor: dual ADC (ADC1 current, ADC2 voltage) in regular
# simultaneous mode at 250 kHz, paced by TIM8 and gated by MARK, so only
# pulse windows are sampled (hal.py).
MONITOR_RATE_HZ = 250000
MONITOR_MAX_SAMPLES = 320  # per pulse: 1.28 ms
MONITOR_PRE_SAMPLES = 4  # 16 us before the scheduled start
MONITOR_RING_WINDOWS = 2  # the monitor ring holds two longest windows (640 pairs, 2.5 KB)

# --- recording: one ADS1299 on SPI2 -----------------------------------------
AMP_CHANNELS = 8 * AFE_DEVICES
AMP_GAIN = 24
# The ADS1299's 24-bit code (LSB 4.5 V / gain / 2**23: 22.4 nV at gain 24)
# shifted right by AFE_SHIFT into int16: 0.179 uV per LSB, +-5.9 mV full
# scale, the sim's order of magnitude.
AFE_SHIFT = 3
AMP_UV_PER_LSB = 4500000 / (AMP_GAIN * 2**23) * 2**AFE_SHIFT
# Frame rates the DRDY handler keeps up with (27 bytes per frame over SPI at
# 4 MHz plus the IRQ's entry: about 100 us a frame).
AMP_RATES_HZ = (1000, 2000, 4000)
AMP_ELECTRODES = ("CH1", "CH2", "CH3", "CH4", "CH5", "CH6", "CH7", "CH8", "REF", "BIAS")
CALIBRATOR = None
# 4 channels x 400 samples (100 ms at 4 kHz) with A/B splits (3-byte sums)
# and one sweep buffer: the largest set-up LIMITS allows.
DSP_ARENA_BYTES = 4 * 400 * 3 * 2 + 400 * 2

# --- safety limits profile (keys as boards/sim; values for this hardware) ---------
_PERIPHERAL_LIMITS = {
    "amp_max": 50000,
    "charge_max_nc": 25000,
    "density_max_nc_cm2": 100000,
    "shannon_k": None,
    "energy_max_uj": 10000,
    "train_gap_min_us": 0,
}

LIMITS = {
    "profile": LIMITS_PROFILE,
    "load_ohm": 500,
    "outputs": {
        "TC": {
            "amp_max": 400000,
            "charge_max_nc": 100000,
            "density_max_nc_cm2": 400000,
            "shannon_k": None,
            "energy_max_uj": 40000,
            "train_gap_min_us": 500000,
        },
        "P1": _PERIPHERAL_LIMITS,
        "P2": _PERIPHERAL_LIMITS,
        "PR": {
            "amp_max": 20000,
            "charge_max_nc": 10000,
            "density_max_nc_cm2": 300000,
            "shannon_k": None,
            "energy_max_uj": 5000,
            "train_gap_min_us": 0,
        },
    },
    "pulses_per_train_max": 9,
    "isi_min_us": 1000,
    "rate_max_mhz": 20000,
    "pulses_per_run_max": 5000,
    "run_max_us": 1800000000,
    "avg_current_max_ua": 5000,
    "avg_window_us": 1000000,
    "imbalance_max_ppm": 20000,
    "heartbeat_ms": 1000,
    "open_ohm": 20000,
    "short_ohm": 20,
    "shortfall_pct": 90,
    # Read-back tolerances: the monitor samples every 4 us (the sim's 2 us),
    # so width and onset are judged a sample wider.
    "amp_tol_pct": 4,
    "width_tol_us": 8,
    "timing_tol_us": 14,
    "imbalance_tol_ppm": 50000,
    "flags_abort": 3,
    # 0.5 KB each on 32 bits: a smaller table than the sim's 16 in a 100 KB heap.
    "baselines_max": 8,
    # --- modality limits: what this board cannot meet, refused at VALIDATE by name
    # Samples per channel of one sweep, and channel-samples (channels x
    # samples) of one stream's record set-up: together what DSP_ARENA_BYTES
    # holds (3-byte A/B sums of every channel, one channel's sweep buffer),
    # so no set-up reaches the heap; and a sweep the front-end's ring
    # (hal.AFE_RING frames) keeps until the loop takes it.
    "record_sweep_samples_max": 400,
    "record_samples_max": 1600,
    # Recorded channels of one stream (one ADS1299's inputs).
    "record_channels_max": AMP_CHANNELS,
    # Highest record rate (the DRDY handler's pace).
    "record_rate_max_hz": 4000,
    # One H-bridge serves every output: pulses on different outputs must not
    # overlap either (pulse_overlap).
    "outputs_shared": True,
}

# --- the journal: a 96 KB file on the internal flash's FAT ----------------------
JOURNAL_SLOTS = 256
JOURNAL_SLOT_BYTES = 384
JOURNAL_SYNC = True
