# The simulated unit: the real firmware under the MicroPython Unix port, its
# console on a pseudo-terminal and its hardware modelled by the simulator
# process (simunit/). This file declares the box; the firmware reads it on
# the device and the host tools read it for deploying.
NAME = "sim"
DESCRIPTION = "Simulated StimBox (MicroPython Unix port, modelled hardware)"

# mpy-cross target: the Unix port here is x86-64.
MPY_ARCH = "x64"
# Not a USB device: `--port auto` finds running simulated units by their
# registry entry instead of a USB VID/PID.
USB_IDS = ()

LIMITS_PROFILE = "sim-default-v1"
