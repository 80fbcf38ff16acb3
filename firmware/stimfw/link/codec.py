# Link frame codec. This one file runs unchanged on the device (MicroPython)
# and on the host (CPython): both sides import it, nothing is copied.
#
# Wire form of one frame (see docs/LINK.md):
#
#   FLAG | stuffed( header | payload | crc32 ) | FLAG
#
#   header (7 bytes, little endian):
#     version  u8   PROTOCOL_VERSION; a frame of another version is counted and dropped
#     kind     u8   KIND_* below: request, reply OK/error, push, bulk data
#     mtype    u8   message type (messages.py)
#     req_id   u16  request id; a reply and its bulk data carry the request's id,
#                   pushes carry 0
#     length   u16  payload length in bytes
#   crc32    u32  binascii.crc32 over header and payload
#
# Byte stuffing keeps three byte values off the wire inside frames:
#   FLAG 0x7E  frame delimiter, so a receiver can resynchronise after garbage;
#   ESC  0x7D  escape introducer;
#   INTR 0x03  Ctrl-C. The link never sends 0x03, so a 0x03 from the host always
#              means "interrupt": the firmware stops stimulating and hands the
#              console back to the REPL (mpremote sends it before raw REPL).
# A reserved byte b is sent as ESC, b ^ 0x20.
import struct

try:
    from binascii import crc32
except ImportError:  # pragma: no cover - every supported port has it
    from zlib import crc32

try:
    from micropython import const
except ImportError:

    def const(x):
        return x


PROTOCOL_VERSION = const(1)

FLAG = const(0x7E)
ESC = const(0x7D)
INTR = const(0x03)
ESC_XOR = const(0x20)

KIND_REQUEST = const(1)  # host -> device; exactly one reply follows
KIND_OK = const(2)  # device -> host; reply carrying a payload
KIND_ERROR = const(3)  # device -> host; reply carrying {code, message, ...}
KIND_PUSH = const(4)  # device -> host; unsolicited event/progress/alarm, req_id 0
KIND_DATA = const(5)  # device -> host; one bulk chunk of a request, before its reply

HEADER_SIZE = const(7)
CRC_SIZE = const(4)
OVERHEAD = const(HEADER_SIZE + CRC_SIZE)
_HDR = "<BBBHH"

# Why a frame was dropped; the decoder counts each one.
DROP_CRC = const(0)  # checksum mismatch
DROP_SHORT = const(1)  # shorter than header + crc, or length field disagrees
DROP_OVERSIZE = const(2)  # longer than the receiver's buffer
DROP_VERSION = const(3)  # another protocol version
DROP_ESCAPE = const(4)  # ESC followed by a byte that is never escaped
DROP_NAMES = ("crc", "truncated", "oversize", "version", "bad_escape")

_RESERVED = bytes((FLAG, ESC, INTR))
_ESCAPED = bytes((FLAG ^ ESC_XOR, ESC ^ ESC_XOR, INTR ^ ESC_XOR))


def _next_reserved(data, start, nxt):
    # nxt caches, per reserved byte, the position of its next occurrence (or -1
    # once none is left), so a long clean chunk is scanned by bytes.find in C
    # once per reserved value rather than byte by byte in Python. -2 means
    # not searched yet.
    best = -1
    for k in range(3):
        p = nxt[k]
        if p == -2 or (p != -1 and p < start):
            p = data.find(_RESERVED[k : k + 1], start)
            nxt[k] = p
        if p != -1 and (best == -1 or p < best):
            best = p
    return best


def stuff_into(write, data, start=0, end=-1):
    """Write data[start:end] with reserved bytes escaped, through write().

    data must be bytes or bytearray (MicroPython's memoryview has no find);
    what is written are memoryview slices of it, never copies."""
    mv = memoryview(data)
    n = len(data) if end < 0 else end
    nxt = [-2, -2, -2]
    esc = bytearray(2)
    esc[0] = ESC
    while start < n:
        p = _next_reserved(data, start, nxt)
        if p == -1 or p >= n:
            write(mv[start:n])
            return
        if p > start:
            write(mv[start:p])
        esc[1] = data[p] ^ ESC_XOR
        write(esc)
        start = p + 1


def frame_header(kind, mtype, req_id, length):
    return struct.pack(_HDR, PROTOCOL_VERSION, kind, mtype, req_id, length)


def write_frame(write, kind, mtype, req_id, payload=b"", prefix=b"", start=0, end=-1):
    """Encode one frame straight into write(), without building it in memory.

    The frame's payload is prefix followed by payload[start:end] (bulk chunks
    carry their offset as a prefix); both are bytes or bytearray and are
    never copied whole.
    """
    if end < 0:
        end = len(payload)
    body = memoryview(payload)[start:end]
    hdr = frame_header(kind, mtype, req_id, len(prefix) + end - start)
    crc = crc32(body, crc32(prefix, crc32(hdr)))
    write(_FLAG_BYTES)
    stuff_into(write, hdr)
    if prefix:
        stuff_into(write, prefix)
    stuff_into(write, payload, start, end)
    stuff_into(write, struct.pack("<I", crc & 0xFFFFFFFF))
    write(_FLAG_BYTES)


_FLAG_BYTES = bytes((FLAG,))
_ESC_BYTES = bytes((ESC,))
_INTR_BYTES = bytes((INTR,))


def encode_frame(kind, mtype, req_id, payload=b""):
    """Return one whole encoded frame as bytes."""
    out = bytearray()
    write_frame(out.extend, kind, mtype, req_id, payload)
    return bytes(out)


class Frame:
    """One decoded frame. payload is a memoryview into the decoder's buffer on
    the device (valid until the next feed) and bytes on the host."""

    __slots__ = ("kind", "mtype", "req_id", "payload")

    def __init__(self, kind, mtype, req_id, payload):
        self.kind = kind
        self.mtype = mtype
        self.req_id = req_id
        self.payload = payload

    def __repr__(self):
        return "Frame(kind=%d, mtype=%d, req_id=%d, %d bytes)" % (
            self.kind,
            self.mtype,
            self.req_id,
            len(self.payload),
        )


class Decoder:
    """Incremental frame decoder with a fixed, preallocated buffer.

    feed() takes any number of bytes and calls on_frame(Frame) for every good
    frame. Corrupt, truncated, oversized and foreign-version frames are counted
    in drops[] and never reach on_frame. Bytes outside frames are counted in
    garbage. A 0x03 byte anywhere is reported through on_intr() and is never
    part of a frame.
    """

    def __init__(self, max_payload, on_frame, on_intr=None, copy_payload=False):
        self.buf = bytearray(max_payload + OVERHEAD)
        self._mv = memoryview(self.buf)
        self.n = 0
        self.in_frame = False
        self.opened = False
        self.escape = False
        self.overflow = False
        self.on_frame = on_frame
        self.on_intr = on_intr
        self.copy_payload = copy_payload
        self.frames = 0
        self.garbage = 0
        self.drops = [0, 0, 0, 0, 0]

    def counters(self):
        c = {"frames_ok": self.frames, "garbage_bytes": self.garbage}
        for i in range(len(DROP_NAMES)):
            c[DROP_NAMES[i]] = self.drops[i]
        return c

    def _drop(self, why):
        self.drops[why] += 1

    def feed(self, data):
        n = len(data)
        i = 0
        # Next FLAG / ESC / INTR positions in data (-2: not searched yet,
        # -1: none left), for copying runs of plain bytes in one slice. The
        # device feeds one byte at a time and never takes that path.
        pf = pe = pi = -2
        while i < n:
            if not self.in_frame:
                # Hunt for the next FLAG; everything before it is garbage,
                # except an interrupt byte.
                p = data.find(_FLAG_BYTES, i)
                end = n if p == -1 else p
                if self.on_intr is not None and data.find(_INTR_BYTES, i, end) != -1:
                    self.garbage += end - i - 1
                    self.on_intr()
                else:
                    self.garbage += end - i
                if p == -1:
                    return
                self.in_frame = True
                self.opened = True
                self.n = 0
                self.escape = False
                self.overflow = False
                i = p + 1
                continue
            if not self.escape and n - i > 1:
                if pf == -2 or -1 < pf < i:
                    pf = data.find(_FLAG_BYTES, i)
                if pe == -2 or -1 < pe < i:
                    pe = data.find(_ESC_BYTES, i)
                if pi == -2 or -1 < pi < i:
                    pi = data.find(_INTR_BYTES, i)
                j = n
                if -1 < pf < j:
                    j = pf
                if -1 < pe < j:
                    j = pe
                if -1 < pi < j:
                    j = pi
                if j - i > 1:
                    if self.n + j - i <= len(self.buf):
                        self.buf[self.n : self.n + j - i] = data[i:j]
                        self.n += j - i
                    else:
                        self.overflow = True
                    i = j
                    continue
            b = data[i]
            i += 1
            if b == FLAG:
                # Every frame has an opening and a closing FLAG. Bytes after
                # a good frame's closing FLAG that are not opened by a FLAG of
                # their own are garbage between frames. After a damaged frame
                # its "closing" FLAG may be the next frame's opening one.
                if self.n == 0 and not self.escape:
                    self.opened = True
                elif not self.opened:
                    self.garbage += self.n
                    self.opened = True
                else:
                    self.opened = not self._finish()
                self.n = 0
                self.escape = False
                self.overflow = False
                continue
            if b == INTR:
                # Never part of a frame: abandon the frame in progress.
                self._drop(DROP_SHORT)
                self.in_frame = False
                if self.on_intr is not None:
                    self.on_intr()
                continue
            if self.escape:
                self.escape = False
                if b not in _ESCAPED:
                    self._drop(DROP_ESCAPE)
                    self.in_frame = False
                    continue
                b ^= ESC_XOR
            elif b == ESC:
                self.escape = True
                continue
            if self.n < len(self.buf):
                self.buf[self.n] = b
                self.n += 1
            else:
                self.overflow = True

    def _finish(self):
        n = self.n
        if self.overflow:
            self._drop(DROP_OVERSIZE)
            return False
        if self.escape or n < OVERHEAD:
            self._drop(DROP_SHORT)
            return False
        buf = self.buf
        ver = buf[0]
        length = buf[5] | (buf[6] << 8)
        if HEADER_SIZE + length + CRC_SIZE != n:
            self._drop(DROP_SHORT)
            return False
        mv = self._mv
        want = buf[n - 4] | (buf[n - 3] << 8) | (buf[n - 2] << 16) | (buf[n - 1] << 24)
        if crc32(mv[: n - 4]) & 0xFFFFFFFF != want:
            self._drop(DROP_CRC)
            return False
        if ver != PROTOCOL_VERSION:
            self._drop(DROP_VERSION)
            return False
        self.frames += 1
        payload = mv[HEADER_SIZE : HEADER_SIZE + length]
        if self.copy_payload:
            payload = bytes(payload)
        self.on_frame(Frame(buf[1], buf[2], buf[3] | (buf[4] << 8), payload))
        return True
