# Device side of tests/test_heap_storage_mp.py: the DSP arena's held slice
# (free-run EMG's block buffer) beside the runs' bump allocation. Prints
# JSON: what each step got (its length in int16 items, or null).
import json

from stimfw.core import arena

arena.reserve(2000)  # 1000 int16 items


def n(v):
    return None if v is None else len(v)


steps = {}
steps["take_400"] = n(arena.take(800))
held = arena.hold(800)
steps["hold_400"] = n(held)
for i in range(len(held)):
    held[i] = 7
steps["take_past_held"] = n(arena.take(800))
steps["hold_again"] = n(arena.hold(2))
arena.reset()  # a new run's set-up: the held slice stays
steps["held_kept"] = held[0] == 7 and held[len(held) - 1] == 7
steps["take_600"] = n(arena.take(1200))
steps["take_1"] = n(arena.take(2))
arena.let_go()
rest = arena.take(800)
steps["after_let_go"] = n(rest)
steps["zeroed"] = all(v == 0 for v in rest)
arena.reset()
steps["hold_too_big"] = n(arena.hold(2002))
steps["hold_all"] = n(arena.hold(2000))
steps["take_none_left"] = n(arena.take(2))
print(json.dumps(steps))
