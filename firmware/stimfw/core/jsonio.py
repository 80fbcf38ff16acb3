# JSON without building the text whole: json.dump() hands a stream its
# output piece by piece (a number, a key, a separator), so a stream that
# counts, or one that copies into a buffer reserved beforehand, never asks
# the heap for one block the size of the text. In a long case the heap's
# largest free block, not its total, is what runs out (docs/PERFORMANCE.md,
# Firmware heap): a record of a few hundred bytes turned into one string
# could find no room with 25 KB free.
import io
import json


class _Count(io.IOBase):
    def __init__(self):
        self.n = 0

    def write(self, b):
        self.n += len(b)
        return len(b)


_count = _Count()


def size(obj):
    """len(json.dumps(obj)), counted."""
    c = _count
    c.n = 0
    json.dump(obj, c)
    return c.n


class _Into(io.IOBase):
    def __init__(self):
        self.buf = None
        self.n = 0

    def write(self, b):
        k = len(b)
        n = self.n
        if n + k <= len(self.buf):
            self.buf[n : n + k] = b
        self.n = n + k
        return k


_into = _Into()


def dump_into(obj, buf):
    """json.dumps(obj) written into buf; returns its length. Longer than
    buf, only what fits was written: the caller needs a larger buffer."""
    w = _into
    w.buf = buf
    w.n = 0
    try:
        json.dump(obj, w)
    finally:
        w.buf = None
    return w.n
