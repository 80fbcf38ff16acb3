# Bench unit on a Raspberry Pi Pico 2 (RP2350, 520 KB SRAM, 4 MB flash).
# Pulse timing comes from a PIO state machine fed by DMA (stimpio.py); the
# recording channels from an external ADS1299-class front-end on SPI0
# (stimfw.frontend.ads1299); the output monitor from the RP2350's own ADC.
# The firmware reads this file on the device; the host tools import it under
# CPython. Plain constants only. Wiring and bring-up: README.md beside it.
NAME = "rp2_pico2"
DESCRIPTION = "StimBox bench unit on a Raspberry Pi Pico 2 (RP2350, PIO pulse timing, ADS1299 front-end)"
MCU = "RP2350"
MPY_ARCH = "armv7emsp"  # Cortex-M33 with single-precision FPU
TICKS_PERIOD = 2**30  # time.ticks_* wrap on the port (ticks_us: 17.9 min)
# Free MicroPython heap with the firmware frozen into flash (manifest.py);
# hal.py's two rings (115 KB) come out of it.
HEAP_BYTES = 470 * 1024

# USB: the host matches the product string this unit's MicroPython build
# sets (MICROPY_HW_USB_PRODUCT_FS_STRING, README.md), never MicroPython's
# bare rp2 VID:PID, which every Pico running MicroPython shares.
USB_MATCH = {"product": "StimBox"}
USB_IDS = ()

LIMITS_PROFILE = "rp2-pico2-bench-v1"
# No built-in calibrator: a lab's phantom box supplies the recording chain's
# known signals.
CALIBRATOR = None

# --- wiring: name -> GPIO -----------------------------------------------------
# GATE_1, GATE_2: the gates the PIO program drives (stimpio.GATE_PINS
# consecutive pins): GATE_1 switches each pulse's first phase, GATE_2 its
# second, in the direction the pulse's settings words give (hal.py). The
# isolated output stage ANDs each gate with HV_EN, which has a pull-down (a
# reset MCU's pins are inputs: HV_EN reads low), so no gate reaches the
# patient while HV_EN is low, whatever the PIO or a crashed firmware does;
# the program itself also reads HV_EN as its JMP pin.
# GATE_1_SENSE and GATE_END_SENSE are copies of GATE_1 and of GATE_1 OR
# GATE_2 on the B inputs of two PWM slices (odd GPIOs): one counts the
# pulses (fired_count), the other paces the settings DMA.
PINS = {
    "GATE_1": 2,
    "GATE_2": 3,
    "HV_EN": 6,
    "ESTOP": 7,  # normally closed switch to ground: high = pressed or a broken wire
    "AFE_PWDN": 8,
    "GATE_1_SENSE": 9,  # PWM slice 4 B
    "GATE_END_SENSE": 11,  # PWM slice 5 B
    "INTERLOCK": 12,  # key/footswitch to ground: low = closed
    "SET_CS": 13,  # SPI1 (its CSn frames each word): output stage settings (DACs, routing)
    "SET_SCK": 14,
    "SET_MOSI": 15,
    "AFE_MISO": 16,  # SPI0: the ADS1299 front-end
    "AFE_CS": 17,
    "AFE_SCK": 18,
    "AFE_MOSI": 19,
    "AFE_DRDY": 20,
    "AFE_START": 21,
    "AFE_RESET": 22,
    "LED": 25,
    "MON_I": 26,  # ADC0: output current sense
    "MON_V": 27,  # ADC1: output voltage sense
}
SPI_SETTINGS = 1
SPI_FRONTEND = 0
SPI_FRONTEND_BAUD = 4000000  # ADS1299: SCLK up to 20 MHz; 4 MHz leaves margin on ribbon cable
PWM_PULSE_SLICE = 4  # counts GATE_1 rising edges: the pulses started
PWM_GATE_END_SLICE = 5  # wraps on each falling edge of GATE_1 OR GATE_2: next settings
PIO_BLOCK = 0
PIO_SM = 0

# --- stimulator outputs ----------------------------------------------------------
# Six outputs share one isolated output stage behind a relay matrix; the
# phase-1 and phase-2 amplitudes come from a dual 12-bit DAC (so max // res
# stays under 4096). No SCS lead port: the 16-contact matrix is not fitted,
# so a protocol for it is refused at VALIDATE ("no output 'SCS'").
def _peripheral(k):
    return {
        "name": "P%d" % k,
        "label": "peripheral %d" % k,
        "kind": "CC",
        "max": 100000,  # 100 mA
        "res": 100,
        "compliance": 300000,  # 300 V
        "width_us": (50, 1000),
        "electrodes": ("P%d+" % k, "P%d-" % k),
        "area_cm2": 0.5,
        "mon_ua_lsb": 50,  # 12-bit monitor ADC, +-102 mA
        "mon_mv_lsb": 160,  # +-327 V
    }


OUTPUTS = (
    {
        "name": "TC",
        "label": "transcranial",
        "kind": "CV",
        "max": 800000,  # 800 V
        "res": 1000,  # 1 V steps
        "current_limit": 1500000,
        "width_us": (50, 500),
        "electrodes": ("C3", "C4", "C1", "C2", "Cz", "Fz"),
        "area_cm2": 0.5,
        "mon_ua_lsb": 800,  # +-1.6 A
        "mon_mv_lsb": 400,  # +-819 V
    },
    _peripheral(1),
    _peripheral(2),
    _peripheral(3),
    _peripheral(4),
    {
        "name": "PR",
        "label": "probe (direct nerve / pedicle screw)",
        "kind": "CC",
        "max": 30000,
        "res": 10,
        "compliance": 300000,
        "width_us": (50, 1000),
        "electrodes": ("probe", "return"),
        "area_cm2": 0.02,
        "mon_ua_lsb": 16,  # +-32 mA
        "mon_mv_lsb": 160,
    },
)

WATCHDOG_MS = 2000  # machine.WDT on rp2 takes up to 16.7 s; above LIMITS["heartbeat_ms"]

# Output monitor: ADC0 and ADC1 sampled in round robin at the ADC's full
# 500 kS/s, so each trace is sampled at 250 kHz (4 us).
MONITOR_RATE_HZ = 250000
MONITOR_MAX_SAMPLES = 512  # 2 ms per pulse, current and voltage each
MONITOR_PRE_SAMPLES = 4  # 16 us before the scheduled start
# The DMA ring the monitor ADC runs into: 8192 sample pairs (32 KB), 32 ms.
MONITOR_RING_PAIRS = 8192

# --- recording amplifiers: two daisy-chained ADS1299 (16 channels) -------------
AMP_DEVICES = 2
AMP_CHANNELS = 16
AMP_GAIN = 24
# int16 after the driver's scaling: +-4.096 mV full scale.
AMP_UV_PER_LSB = 0.125
AMP_RATES_HZ = (4000, 8000, 16000)  # the ADS1299's data rates at or above 4 kHz
# Frames the front-end's ring holds (54 bytes each with two devices): 96 ms
# at 16 kHz, 192 ms at 8 kHz.
AMP_RING_SAMPLES = 1536
AMP_ELECTRODES = (
    "AHL", "AHLr", "AHR", "AHRr", "APBL", "APBLr", "APBR", "APBRr", "CP3", "CP4", "CPz",
    "Cv5", "Fz", "TAL", "TALr", "TAR", "TARr", "QUADL", "QUADLr", "QUADR", "QUADRr",
)
# Where each recording electrode lands on the front-end: channel and input
# (p: the channel's positive input, n: its negative). Lead-off status bits
# and impedance follow from it.
AMP_INPUTS = {
    "AHL": (0, "p"), "AHLr": (0, "n"), "AHR": (1, "p"), "AHRr": (1, "n"),
    "APBL": (2, "p"), "APBLr": (2, "n"), "APBR": (3, "p"), "APBRr": (3, "n"),
    "CP3": (4, "p"), "CP4": (5, "p"), "CPz": (6, "p"), "Fz": (4, "n"), "Cv5": (7, "p"),
    "TAL": (8, "p"), "TALr": (8, "n"), "TAR": (9, "p"), "TARr": (9, "n"),
    "QUADL": (10, "p"), "QUADLr": (10, "n"), "QUADR": (11, "p"), "QUADRr": (11, "n"),
}
# Lead-off excitation the impedance check drives (ADS1299 LOFF: 6 uA AC at
# fDR/4).
AMP_LOFF_NA = 6000

DSP_ARENA_BYTES = 8 * 1000 * 3 * 2 + 4 * 1000 * 2

# --- safety limits profile ---------------------------------------------------
# Frozen with the firmware. Same keys and units as the simulated board's; the
# values are this hardware's (docs/SAFETY.md). The read-back tolerances allow
# for the monitor's 4 us sampling.
_PERIPHERAL_LIMITS = {
    "amp_max": 100000,
    "charge_max_nc": 50000,
    "density_max_nc_cm2": 200000,
    "shannon_k": None,
    "energy_max_uj": 20000,
    "train_gap_min_us": 0,
}

LIMITS = {
    "profile": LIMITS_PROFILE,
    "load_ohm": 500,
    "outputs": {
        "TC": {
            "amp_max": 800000,
            "charge_max_nc": 240000,
            "density_max_nc_cm2": 800000,
            "shannon_k": None,
            "energy_max_uj": 80000,
            "train_gap_min_us": 500000,
        },
        "P1": _PERIPHERAL_LIMITS,
        "P2": _PERIPHERAL_LIMITS,
        "P3": _PERIPHERAL_LIMITS,
        "P4": _PERIPHERAL_LIMITS,
        "PR": {
            "amp_max": 30000,
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
    "avg_current_max_ua": 10000,
    "avg_window_us": 1000000,
    "imbalance_max_ppm": 20000,
    "heartbeat_ms": 1000,
    "open_ohm": 20000,
    "short_ohm": 20,
    "shortfall_pct": 90,
    "amp_tol_pct": 4,
    "width_tol_us": 8,  # two monitor samples
    "timing_tol_us": 12,
    "imbalance_tol_ppm": 50000,
    "flags_abort": 3,
    "baselines_max": 16,
}

# --- the journal: a file on the flash file system (littlefs) -------------------
JOURNAL_SLOTS = 1024
JOURNAL_SLOT_BYTES = 384
JOURNAL_SYNC = True
