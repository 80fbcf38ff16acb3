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

