# The simulated unit: the real firmware under the MicroPython Unix port, its
# console on a pseudo-terminal and its hardware modelled by the simulator
# process (simunit/). This file declares the box; the firmware reads it on
# the device and the host tools read it for deploying. Plain constants only.
NAME = "sim"
DESCRIPTION = "Simulated StimBox (MicroPython Unix port, modelled hardware)"

# mpy-cross target: the Unix port here is x86-64.
MPY_ARCH = "x64"
# Not a USB device: `--port auto` finds running simulated units by their
# registry entry instead of a USB VID/PID.
USB_IDS = ()

LIMITS_PROFILE = "sim-default-v1"

# --- stimulator outputs ------------------------------------------------------
# kind "CC": constant current, amplitudes in uA, compliance in mV.
# kind "CV": constant voltage, amplitudes in mV, current limit in uA.
# electrodes: what the output can be switched to; a pulse names its anodes and
# cathodes as a bitmask over this tuple.
# area_cm2: contact area of the electrodes normally used on this output, for
# charge density (Shannon) limits.
# mon_*_lsb: output monitor ADC scale (int16 samples).
OUTPUTS = (
    {
        "name": "TC",
        "label": "transcranial",
        "kind": "CV",
        "max": 1000000,  # 1000 V
        "res": 1000,  # 1 V steps
        "current_limit": 1500000,  # 1.5 A
        "width_us": (50, 500),
        "electrodes": ("C3", "C4", "C1", "C2", "Cz", "Fz"),
        "area_cm2": 0.5,  # corkscrew / cup electrode on the scalp
        "mon_ua_lsb": 50,
        "mon_mv_lsb": 40,
    },
    {
        "name": "P1",
        "label": "peripheral 1",
        "kind": "CC",
        "max": 100000,  # 100 mA
        "res": 100,
        "compliance": 400000,  # 400 V
        "width_us": (50, 1000),
        "electrodes": ("P1+", "P1-"),
        "area_cm2": 0.5,
        "mon_ua_lsb": 4,
        "mon_mv_lsb": 16,
    },
    {
        "name": "P2",
        "label": "peripheral 2",
        "kind": "CC",
        "max": 100000,
        "res": 100,
        "compliance": 400000,
        "width_us": (50, 1000),
        "electrodes": ("P2+", "P2-"),
        "area_cm2": 0.5,
        "mon_ua_lsb": 4,
        "mon_mv_lsb": 16,
    },
    {
        "name": "P3",
        "label": "peripheral 3",
        "kind": "CC",
        "max": 100000,
        "res": 100,
        "compliance": 400000,
        "width_us": (50, 1000),
        "electrodes": ("P3+", "P3-"),
        "area_cm2": 0.5,
        "mon_ua_lsb": 4,
        "mon_mv_lsb": 16,
    },
    {
        "name": "P4",
        "label": "peripheral 4",
        "kind": "CC",
        "max": 100000,
        "res": 100,
        "compliance": 400000,
        "width_us": (50, 1000),
        "electrodes": ("P4+", "P4-"),
        "area_cm2": 0.5,
        "mon_ua_lsb": 4,
        "mon_mv_lsb": 16,
    },
    {
        "name": "PR",
        "label": "probe (direct nerve / pedicle screw)",
        "kind": "CC",
        "max": 30000,  # 30 mA
        "res": 10,
        "compliance": 300000,
        "width_us": (50, 1000),
        "electrodes": ("probe", "return"),
        "area_cm2": 0.02,  # ball-tip probe
        "mon_ua_lsb": 1,
        "mon_mv_lsb": 12,
    },
    {
        "name": "SCS",
        "label": "SCS lead port",
        "kind": "CC",
        "max": 25000,  # 25 mA
        "res": 10,
        "compliance": 300000,
        "width_us": (50, 1000),
        "electrodes": tuple("E%d" % i for i in range(16)),
        "area_cm2": 0.12,  # 3 mm x 1.3 mm cylindrical contact
        "mon_ua_lsb": 1,
        "mon_mv_lsb": 12,
    },
)

# Output monitor ADC: samples current and voltage across every pulse.
MONITOR_RATE_HZ = 500000
MONITOR_MAX_SAMPLES = 1024  # per pulse, current and voltage each

# --- recording amplifiers ----------------------------------------------------
AMP_CHANNELS = 16
AMP_UV_PER_LSB = 0.125  # int16: +-4.096 mV full scale
AMP_RATES_HZ = (5000, 10000, 20000)
