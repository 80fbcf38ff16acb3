# The simulated unit's boot ROM, run by the MicroPython Unix port before its
# REPL (`micropython -i rom.py`). It does what a board's startup code does:
# mounts the flash at "/", then runs boot.py and main.py from it. After that
# the REPL starts on the same console, as on a board whose main.py returned.
# This file is not deployed; it plays the part of the port's C startup.
import os
import sys

_flash = os.getenv("STIMBOX_SIM_FLASH")
_boot = os.getenv("STIMBOX_SIM_BOOT") or "normal"

os.umount("/")
os.mount(os.VfsPosix(_flash), "/")
os.chdir("/")
sys.path[:] = ["", ".frozen", "/lib"]
del _flash


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
