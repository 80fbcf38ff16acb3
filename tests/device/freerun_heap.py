# Device side of tests/test_monitoring_mp.py: the free-run task's per-block
# path (acquire, filter, detect) for 2 s of stream, proven as
# tests/device/hotpath.py does, then the
# train it saw reported once the discharge stops.
import gc

import hotpath
from freerun_hal import BlockHal
from stimfw.amp.requests import FreeRunTask
from stimfw.link import messages as m

pushed = []
hal = BlockHal()
task = FreeRunTask(hal, lambda t, d: pushed.append((t, d)))
st = task.start({"channels": [8, 9, 12, 13], "rate_hz": 10000, "block_ms": 5, "thr_uv": 50})
assert st["block"] == 50
assert task.service()  # the first block, outside the lock


name = most = after = None  # globals made before the heap is measured
gc.collect()
before = gc.mem_alloc()
name, most = hotpath.run(task.service, 400)  # 2 s of stream
gc.collect()
after = gc.mem_alloc()
assert after <= before, (before, after)  # nothing kept, on either backend
assert not pushed and task.stream.count == 401
spikes = list(task.fr.spikes)
assert spikes == [401] * 4, spikes
hal.firing = False
for _ in range(10):
    task.service()
assert len(pushed) == 1 and pushed[0][0] == m.PUSH_EMG
ev = pushed[0][1]["events"]
assert [e["kind"] for e in ev] == ["train"] * 4 and [e["ch"] for e in ev] == [8, 9, 12, 13]
assert [e["spikes"] for e in ev] == [401] * 4
s = task.stop()
assert s["trains"] == [1] * 4 and s["done"] and task.stream is None
print("blocks 400", name, most)
