# Firmware release version, reported by info(); the build hash says exactly
# which files run (buildinfo.py).
FIRMWARE_VERSION = "0.1.0"
