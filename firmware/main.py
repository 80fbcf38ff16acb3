# StimBox loader, run by the board at boot. It rarely changes; the firmware
# itself lives in a slot folder fw/<build> written by `stimbox deploy`.
# fw/active names the slot to run and fw/previous the one before it. A slot
# that fails to import is skipped, so a deploy that broke halfway leaves the
# previous firmware running, or at worst a plain REPL: never a dead link.
import os
import sys

ROOT = os.getcwd().rstrip("/")
FW = ROOT + "/fw"


def _read(name):
    try:
        with open(FW + "/" + name) as f:
            return f.read().strip()
    except OSError:
        return None


def _forget_modules():
    for name in list(sys.modules):
        if name.startswith("stimfw") or name in ("board", "hal"):
            del sys.modules[name]


def _slot_dir(slot):
    # A board that carries the slot in a ROMFS partition (mounted at /rom)
    # runs its bytecode in place from flash; otherwise it loads into RAM.
    rom = "/rom/fw/" + slot
    try:
        os.stat(rom)
        return rom
    except OSError:
        return FW + "/" + slot


def _boot():
    tried = []
    for which in ("active", "previous"):
        slot = _read(which)
        if not slot or slot in tried:
            continue
        tried.append(slot)
        path = _slot_dir(slot)
        sys.path.insert(0, path)
        try:
            from stimfw import app
        except Exception as e:  # a broken slot: fall back to the next one
            print("StimBox: slot %s (%s) does not load: %r" % (slot, which, e))
            sys.path.remove(path)
            _forget_modules()
            continue
        app.main(slot)
        return
    print("StimBox: no runnable firmware; REPL only")


_boot()
