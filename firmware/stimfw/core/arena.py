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
# all at once, when a new run sets up its averaging. hold() keeps one slice
# at the arena's far end across runs, until let_go(): free-run EMG's block
# buffer, which streams across runs and would otherwise be a block of up
# to 8 KB taken from the heap in the middle of a case (where a fragmented
# heap may have no such block left).
from stimfw.core.buffers import zeros

_block = None
_used = 0  # int16 items handed out
_held = 0  # int16 items held at the end


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
    if _block is None or _used + items > len(_block) - _held:
        return None
    start = _used
    _used += items
    return _zeroed(start, _used)


def hold(nbytes):
    """Like take(), from the arena's end, and kept by reset(); None when
    the arena has no room or holds one already."""
    global _held
    items = (nbytes + 1) // 2
    if _block is None or _held or _used + items > len(_block):
        return None
    _held = items
    return _zeroed(len(_block) - items, len(_block))


def let_go():
    """The held slice is free again."""
    global _held
    _held = 0


def _zeroed(start, end):
    i = start
    while i < end:
        _block[i] = 0
        i += 1
    return memoryview(_block)[start:end]
