# Where the heap goes at boot, on the device: run from a firmware image's
# slot folder (argv[1]) with the sim HAL's model socket in the environment.
# Follows the order of stimfw.app: the DSP arena first, then the modules,
# then the objects App() builds. Prints one JSON object.
import gc
import json
import sys

sys.path.insert(0, sys.argv[1])
gc.collect()
start = gc.mem_alloc()
out = {"heap_total": gc.mem_alloc() + gc.mem_free(), "before_firmware": start}

import board  # noqa: E402
from stimfw.core import arena  # noqa: E402

gc.collect()
m0 = gc.mem_alloc()
arena.reserve(board.DSP_ARENA_BYTES)
gc.collect()
out["arena"] = gc.mem_alloc() - m0

# Modules, layer by layer from the bottom, as importing app would load them.
layers = (
    ("core", ("stimfw.core.errors", "stimfw.core.notices", "stimfw.core.buffers",
              "stimfw.core.buildinfo")),
    ("hal", ("stimfw.hal_api", "hal")),
    ("dsp", ("stimfw.dsp.backend", "stimfw.dsp.filters")),
    ("record", ("stimfw.record.recording",)),
    ("stim", ("stimfw.stim.eventlog", "stimfw.stim.safety", "stimfw.stim.sequencer")),
    ("amp", ("stimfw.amp.slot",)),
    ("link", ("stimfw.link.endpoint", "stimfw.link.objects", "stimfw.link.handlers.system",
              "stimfw.link.handlers.stim", "stimfw.link.handlers.amp")),
    ("app", ("stimfw.app",)),
)
code = {}
for name, mods in layers:
    gc.collect()
    m = gc.mem_alloc()
    for mod in mods:
        try:
            __import__(mod)
        except ImportError:
            pass  # a module this build does not have (e.g. no hal_api yet)
    gc.collect()
    code[name] = gc.mem_alloc() - m
out["modules"] = code
out["modules_total"] = sum(code.values())

from stimfw import app  # noqa: E402

gc.collect()
m = gc.mem_alloc()
a = app.App(app.board_hal.Hal(), board)
gc.collect()
out["app_objects"] = gc.mem_alloc() - m
out["used_at_boot"] = gc.mem_alloc()
out["free_at_boot"] = gc.mem_free()
out["loaded"] = sorted(k for k in sys.modules if k.startswith("stimfw") or k in ("board", "hal"))
print()  # after the boot frame App() pushed
print(json.dumps(out))
