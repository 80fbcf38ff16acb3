# MicroPython freeze manifest of the pyboard v1.1 bench unit: the firmware
# (stimfw), the board's declarations and its HAL compiled into the firmware
# image, so their bytecode and constants run in place from flash and only
# their objects take the ~100 KB heap. Build: README.md. Not deployed
# (manifest.py is a build file; the deploy copies board.py and hal.py only
# when a slot is used instead of the frozen modules).
#
# Relative paths are from this file's folder; include, package and module
# are the names MicroPython's manifest tool (tools/manifestfile.py) provides.
# ruff: noqa: F821

# The port's own frozen modules (asyncio, the pyboard's helpers).
include("$(PORT_DIR)/boards/manifest.py")

# The firmware package, every module of it.
package("stimfw", base_path="../../firmware")

# This board's declarations and hardware layer, imported as `board` and `hal`.
module("board.py")
module("hal.py")
