# FreeRun.feed() (filter and detect) over a quiet interleaved block,
# repeated (parameters: devparams "backend", "n_ch", "rate_hz", "block",
# "blocks", "lock", "measure").
#   lock: every feed after the first under micropython.heap_lock().
#   measure: the first half of the feeds each after gc.collect() with the
#     collector disabled, so gc.mem_alloc() gives the bytes one feed
#     allocated; the second half with automatic collection.
# Either way the live heap after gc.collect() is compared with the one after
# the first feed every 10th feed and at the end (in a function: no global
# is created while measuring). Prints one JSON line.
import gc
import json

import devparams
import micropython
from stimfw.amp.freerun import FreeRun


def main():
    P = devparams.load()
    be = devparams.backend(P["backend"])
    n_ch = P["n_ch"]
    block = P["block"]
    fr = FreeRun(n_ch, P["rate_hz"], block, P["sos"], thr_uv=4000, backend=be)
    buf = fr.buf
    k = 0
    for i in range(len(buf)):  # low-level noise, far below the threshold
        k = (k * 75 + 74) % 65537
        buf[i] = (k & 255) - 128
    fr.feed(buf, block)
    gc.collect()
    a0 = gc.mem_alloc()
    feed_max = 0
    feed_min = -1
    moved = 0
    blocks = P["blocks"]
    for j in range(1, blocks):
        if P["lock"]:
            micropython.heap_lock()
            fr.feed(buf, block)
            micropython.heap_unlock()
        elif P["measure"] and j < blocks // 2:
            gc.collect()
            m = gc.mem_alloc()
            gc.disable()
            fr.feed(buf, block)
            d = gc.mem_alloc() - m
            gc.enable()
            if d > feed_max:
                feed_max = d
            if feed_min < 0 or d < feed_min:
                feed_min = d
        else:
            fr.feed(buf, block)
        if j % 10 == 0:
            gc.collect()
            if gc.mem_alloc() != a0:
                moved += 1
    gc.collect()
    a1 = gc.mem_alloc()
    print(json.dumps({"backend": be.NAME, "feed_alloc_max": feed_max, "feed_alloc_min": feed_min,
                      "heap_moved": moved, "mem_alloc_before": a0, "mem_alloc_after": a1,
                      "spikes": list(fr.spikes), "t": fr.t}))


main()
