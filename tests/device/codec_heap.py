# Device side of tests/test_linkcodec.py: the bytes of a frame's body go
# through the decoder one at a time under heap_lock, so the per-byte path
# must not allocate. (Completing a frame builds the Frame object, which is
# outside the lock.)
import micropython
from stimfw.link import codec as lc

wire = bytearray(lc.encode_frame(1, 2, 3, b"x" * 100))
got = [0]


def on_frame(f):
    got[0] += 1


d = lc.Decoder(480, on_frame)


def body_locked():
    one = bytearray(1)
    i = 1
    end = len(wire) - 1
    micropython.heap_lock()
    try:
        while i < end:
            one[0] = wire[i]
            d.feed(one)
            i += 1
    finally:
        micropython.heap_unlock()


d.feed(wire[:1])
body_locked()
d.feed(wire[-1:])
print("frames", got[0])
