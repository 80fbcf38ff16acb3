# Device side of tests/test_stm32_board.py at the pyboard's heap: the
# stm32_pybv11 board's tables and HAL (on the fakes), the DSP arena reserved
# first as at boot, then each protocol of data["protocols"] goes through what
# VALIDATE does (normalise, the limits, the recorder's check) and, if
# accepted, what START does (the recorder's set-up, the first segment
# compiled, fired and played). Prints a line per protocol: ["ok", free heap
# after, the smallest free heap seen, set-ups] or ["refused", detail] or
# ["MemoryError", text]; then the free heap at boot and before the first.
import gc
import json
import os
import sys

import vfs


def _mount():
    # The firmware (and the fakes) as .mpy in a ROMFS image, run in place as
    # a pyboard runs its frozen modules; the image sits in this process's
    # heap, so what the board would not have free is held back (the
    # arithmetic of boards/sim/simunit/rom.py, docs/SIMULATOR.md, Heap).
    gc.collect()
    before = gc.mem_alloc()
    img = bytearray(os.stat(os.getenv("STIMBOX_SIM_ROM"))[6])
    with open(os.getenv("STIMBOX_SIM_ROM"), "rb") as f:
        f.readinto(img)
    vfs.mount(vfs.VfsRom(img), "/rom")
    sys.path.insert(0, "/rom/fw/" + os.getenv("STIMBOX_TEST_SLOT"))
    blk = 16 if sys.maxsize < 2**32 else 32
    native = (int(os.getenv("STIMBOX_SIM_ROM_NATIVE")) + blk - 1) // blk * blk
    target = int(os.getenv("STIMBOX_SIM_BOARD_HEAP")) - before - native
    gc.collect()
    hold = gc.mem_free() - target
    return img, (bytearray(hold - blk) if hold >= 2 * blk else None)


_rom = _mount()
gc.collect()
free_boot = gc.mem_free()

import board  # noqa: E402
import devargs  # noqa: E402
from stimfw.core import arena  # noqa: E402

arena.reserve(board.DSP_ARENA_BYTES)

import time  # noqa: E402

import hal  # noqa: E402
import pyb  # noqa: E402
import stm32hw  # noqa: E402
from stimfw.core.errors import Refused  # noqa: E402
from stimfw.record.averager import SweepProcessor  # noqa: E402
from stimfw.stim import limits, protocol  # noqa: E402
from stimfw.stim.compiler import Segmenter  # noqa: E402
from stimfw.stim.timeline import Timeline  # noqa: E402

tl = Timeline(32)
h = hal.Hal()
gc.collect()
out = {"free_boot": free_boot, "free_at_start": gc.mem_free()}
least = gc.mem_free()


def setups(spec):
    # What the recorder builds for a run (stimfw.record.recording: one
    # averaging set-up per recorded stream, in the DSP arena).
    arena.reset()
    return [SweepProcessor(s["record"], board) for s in spec["streams"] if s.get("record")]


for wire in devargs.data()["protocols"]:
    p = None
    try:
        spec = protocol.normalise(wire, board)
        limits.check(spec, board)  # VALIDATE
        p = setups(spec)  # VALIDATE's check of the record tables, then START's set-up
        gc.collect()
        least = min(least, gc.mem_free())
        Segmenter(spec).fill(tl)
        time.freeze(0)
        h.fire(tl, 20000)
        stm32hw.play(h._mark, h._fwd, h._rev, pyb.made[board.PINS["ENABLE"]], hal.RING)
        h.fire_done()
        time.thaw()
        gc.collect()
        least = min(least, gc.mem_free())
        r = ["ok", gc.mem_free(), least, len(p)]
    except Refused as e:
        r = ["refused", e.detail]
    except MemoryError as e:
        r = ["MemoryError", str(e)]
    p = spec = None
    h.abort()
    gc.collect()
    print(json.dumps(r))  # one line each: the heap has no room for all at once
# What acquisition adds on top (built at the first acquire()): the
# front-end driver and its frame ring.
try:
    import machine
    from stimfw.frontend.ads1299 import ADS1299

    M = machine.Pin
    afe = ADS1299(machine.SPI(2), M("Y5"), M("X12"), ring_samples=hal.AFE_RING)
    gc.collect()
    out["frontend"] = gc.mem_free()
except MemoryError:
    afe = None
    gc.collect()
    out["frontend"] = -gc.mem_free()  # negative: it did not fit, with this much free
print(json.dumps(out))
