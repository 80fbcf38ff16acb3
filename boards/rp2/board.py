# Raspberry Pi Pico / Pico 2 (RP2040 / RP2350) based unit. Declarations only
# so far: the host finds such a unit by its USB product string and knows its architecture.
# Its HAL (PIO + DMA pulse timing, DMA-paced ADC) is not written yet, and
# the build refuses a board without hal.py.
NAME = "rp2"
DESCRIPTION = "StimBox on an RP2040/RP2350 controller board"
MPY_ARCH = "armv6m"  # runs on both; armv7emsp would exclude the RP2040
USB_MATCH = {"product": "StimBox"}  # the product string the firmware sets
LIMITS_PROFILE = "rp2-default-v1"
# No built-in calibrator: a lab's phantom box supplies the recording chain's
# known signals.
CALIBRATOR = None

# Output monitor: a pulse's trace starts this many samples before its
# scheduled start, so a late pulse shows as a late edge.
MONITOR_PRE_SAMPLES = 8

# The read-back tolerances of the limits profile (docs/SAFETY.md, "Output
# monitoring"); the rest of the profile comes with the board's HAL.
LIMITS = {
    "profile": LIMITS_PROFILE,
    "amp_tol_pct": 4,
    "width_tol_us": 5,
    "timing_tol_us": 10,
    "imbalance_tol_ppm": 50000,
}
