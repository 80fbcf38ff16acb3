# The simulated unit's boot ROM, run by the MicroPython Unix port before its
# REPL (`micropython -i rom.py`). It does what a board's startup code does:
# mounts the firmware's ROMFS partition at /rom (simunit/romflash.py) and the
# flash at "/", then runs boot.py and main.py from the flash. After that
# the REPL starts on the same console, as on a board whose main.py returned.
# This file is not deployed; it plays the part of the port's C startup.
import gc
import os
import sys

import vfs


def _mount_rom():
    # The firmware's ROMFS partition (simunit/romflash.py): the image goes
    # into the heap first, so it lies below everything else and never
    # fragments what the firmware allocates; then what the board would
    # not have free is held back, so the free heap is the board's.
    path = os.getenv("STIMBOX_SIM_ROM")
    if not path:
        return None
    gc.collect()
    before = gc.mem_alloc()
    free0 = gc.mem_free()
    img = bytearray(os.stat(path)[6])
    with open(path, "rb") as f:
        f.readinto(img)
    vfs.mount(vfs.VfsRom(img), "/rom")
    gc.collect()
    image_heap = free0 - gc.mem_free()
    blk = 16 if sys.maxsize < 2**32 else 32  # a heap block: 4 machine words
    native = (int(os.getenv("STIMBOX_SIM_ROM_NATIVE")) + blk - 1) // blk * blk
    target = int(os.getenv("STIMBOX_SIM_BOARD_HEAP")) - before - native
    gc.collect()  # what reading the environment left
    hold = gc.mem_free() - target
    held = None
    if hold >= 2 * blk:  # a bytearray of k bytes takes a header block and k bytes more
        held = bytearray(hold - blk)
    elif hold == blk:
        held = bytearray(0)
    gc.collect()
    free = gc.mem_free()
    report = {"image": len(img), "image_heap": image_heap, "native": native, "held": hold,
              "before": before, "free": free, "board_free": target + native,
              "residual": free - target}
    with open(os.getenv("STIMBOX_SIM_ROM_REPORT"), "w") as f:
        f.write(repr(report).replace("'", '"'))
    return held


_held = _mount_rom()
_flash = os.getenv("STIMBOX_SIM_FLASH")
_boot = os.getenv("STIMBOX_SIM_BOOT") or "normal"

os.umount("/")
os.mount(os.VfsPosix(_flash), "/")
os.chdir("/")
sys.path[:] = ["", ".frozen", "/lib"]
del _flash, _mount_rom


def _run(name):
    try:
        os.stat(name)
    except OSError:
        return
    try:
        with open(name) as f:
            src = f.read()
        exec(src, {"__name__": "__main__", "__file__": name})
    except KeyboardInterrupt:
        pass
    except SystemExit:
        # machine.soft_reset() (or sys.exit) in boot.py/main.py. Under `-i`
        # the port would fall into the REPL instead of rebooting, so end the
        # process the way the supervisor reads as a reset: SIGTERM from
        # inside. $PPID of the shell is this MicroPython process.
        os.system("kill -TERM $PPID")
    except Exception as e:
        sys.print_exception(e)


_run("boot.py")
# After a soft reset from the raw REPL a board comes back in the raw REPL and
# skips main.py; the supervisor asks for the same with STIMBOX_SIM_BOOT=raw.
if _boot != "raw":
    _run("main.py")
del _run, _boot
