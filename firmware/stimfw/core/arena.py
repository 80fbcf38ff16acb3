# The DSP arena: one block reserved at start-up, before the rest of the
# firmware loads, while the heap is still one free run. Loading modules
# leaves the heap in small pieces, and the sweep buffer and averaging sums
# (tens of KB) each need a contiguous run; taking them from here instead of
# the heap makes an 8-channel, 1000-sample A/B average fit a ~96 KB MCU heap.
#
# The block is an int16 array, so a slice of it is a sweep buffer as the
# HAL's acquire() takes it (int16 items), and viper code can also address
# its bytes (the averaging sums use 3-byte words).
#
# A bump allocator: take() hands out consecutive slices, reset() frees them
# all at once, when a new run sets up its averaging.
from stimfw.core.buffers import zeros

_block = None
_used = 0  # int16 items handed out


def reserve(nbytes):
    """Reserve the arena; call first thing at boot. Idempotent."""
    global _block
    if _block is None:
        _block = zeros("h", (nbytes + 1) // 2)


def size():
    return 0 if _block is None else 2 * len(_block)


def reset():
    global _used
    _used = 0


def take(nbytes):
    """A zeroed int16 memoryview covering at least nbytes, or None when the
    arena has no room (the caller then allocates from the heap)."""
    global _used
    items = (nbytes + 1) // 2
    if _block is None or _used + items > len(_block):
        return None
    start = _used
    _used += items
    i = start
    while i < _used:
        _block[i] = 0
        i += 1
    return memoryview(_block)[start:_used]
