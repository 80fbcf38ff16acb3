# Frozen manifest of the Pico 2 bench unit's MicroPython build (README.md
# beside it has the recipe): the port's own frozen modules, the whole
# firmware, this board's device modules and the slot loader, compiled into
# flash. Frozen bytecode runs in place, so the firmware's code costs the
# heap nothing and board.HEAP_BYTES stays free for data. A slot that
# `stimbox deploy` writes (fw/<build>) still takes precedence: the loader
# puts it first on sys.path. Relative paths are from this file's folder.
# include, package and module are the manifest language's, given by
# MicroPython's makemanifest.py when it runs this file.
# ruff: noqa: F821
include("$(PORT_DIR)/boards/manifest.py")

package("stimfw", base_path="../../firmware")
for name in ("board.py", "hal.py", "pico2io.py", "stimpio.py"):
    module(name)
# The loader: a frozen boot.py and main.py run at boot.
module("boot.py", base_path="../../firmware")
module("main.py", base_path="../../firmware")
