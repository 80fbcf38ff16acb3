# Device side of the host link: reads the console, decodes frames, dispatches
# requests to handlers, and writes replies, pushes and bulk data.
#
# Flow control: the host keeps one request in flight and never sends a frame
# longer than RX_WINDOW bytes on the wire (reported by info()), so a board's
# small stdin buffer (512 B on rp2/stm32) can never overflow. Bulk data to the
# host goes out one chunk per main-loop pass so that a long transfer never
# delays the safety checks by more than one chunk.
import gc
import io
import json
import struct

from stimfw.core.errors import Refused
from stimfw.link import codec as lc
from stimfw.link import messages as m

RX_WINDOW = 512  # bytes on the wire, host -> device, per frame
MAX_REQUEST_PAYLOAD = 480  # fits RX_WINDOW unstuffed; host also checks stuffed size
BULK_CHUNK = 1024  # payload bytes per DATA frame
MAX_STAGED = 4096  # largest JSON request, staged over several frames

_FLAG = bytes((lc.FLAG,))

# Bytes read from the console per main-loop pass: bounds the time one pass can
# spend on link input.
_READ_BUDGET = 256


class _OutBuffer:
    """Collects one encoded frame so that it reaches the console in one write
    instead of one per stuffed segment (a syscall each on the simulated
    unit, a USB packet each on a board)."""

    def __init__(self, size, sink):
        self.buf = bytearray(size)
        self.mv = memoryview(self.buf)
        self.n = 0
        self.sink = sink

    def write(self, data):
        k = len(data)
        if self.n + k > len(self.buf):
            self.flush()
            if k > len(self.buf):
                self.sink(data)
                return
        self.buf[self.n : self.n + k] = data
        self.n += k

    def flush(self):
        if self.n:
            self.sink(self.mv[: self.n])
            self.n = 0


class _JsonFrame(io.IOBase):
    """The stream json.dump() writes one frame's payload to, twice: first
    only counting its bytes (the header carries the length), then stuffing
    each piece straight out with a running CRC. No reply, however large
    (a run's result with its recording, a page of the journal), is ever
    built whole in RAM: only json's small pieces, one at a time."""

    def __init__(self, out):
        self.out = out
        self.n = 0
        self.crc = 0
        self.sending = False

    def write(self, b):
        if self.sending:
            self.crc = lc.crc32(b, self.crc)
            lc.stuff_into(self.out.write, b)
        else:
            self.n += len(b)
        return len(b)


class _Transfer:
    __slots__ = ("req_id", "mtype", "name", "data", "offset", "crc")

    def __init__(self, req_id, mtype, name, data):
        self.req_id = req_id
        self.mtype = mtype
        self.name = name
        self.data = data
        self.offset = 0
        self.crc = 0


class Link:
    def __init__(self, console):
        self.console = console
        self.decoder = lc.Decoder(MAX_REQUEST_PAYLOAD, self._on_frame, self._on_intr)
        self.handlers = {}
        self.interrupted = False
        self.unexpected_kind = 0
        self.unknown_type = 0
        self.transfer = None
        self.staged = bytearray()
        self._dhdr = bytearray(m.DATA_HEADER_SIZE)
        # Worst case for a bulk frame: every byte stuffed.
        self._out = _OutBuffer(2 * (BULK_CHUNK + m.DATA_HEADER_SIZE + lc.OVERHEAD) + 2, console.write)
        self._json = _JsonFrame(self._out)
        self._crc = bytearray(4)
        self._scratch = bytearray(256)

    # --- handlers -----------------------------------------------------------
    def handle(self, mtype, fn, raw=False):
        """fn(payload, req_id) -> reply. JSON requests get a decoded dict (or
        {} for an empty payload) and reply with a dict; raw handlers get the
        payload memoryview and reply with bytes. A reply of None means the
        handler replies later itself (bulk transfers)."""
        self.handlers[mtype] = (fn, raw)

    def counters(self):
        c = self.decoder.counters()
        c["unexpected_kind"] = self.unexpected_kind
        c["unknown_type"] = self.unknown_type
        return c

    # --- input --------------------------------------------------------------
    def poll(self):
        """Read and act on what the host sent; True if any byte was read."""
        console = self.console
        got = False
        for _ in range(_READ_BUDGET):
            if self.interrupted or not console.wait(0):
                break
            b = console.read_byte()
            if b is None:
                break
            got = True
            self.decoder.feed(b)
        return got

    def _on_intr(self):
        self.interrupted = True

    def _on_frame(self, f):
        if f.kind != lc.KIND_REQUEST:
            self.unexpected_kind += 1
            return
        entry = self.handlers.get(f.mtype)
        if entry is None:
            self.unknown_type += 1
            self.error(f.req_id, f.mtype, m.ERR_UNKNOWN_TYPE, "unknown message type %d" % f.mtype)
            return
        fn, raw = entry
        try:
            if raw:
                arg = f.payload
            elif len(f.payload):
                arg = json.loads(bytes(f.payload))
                if not isinstance(arg, dict):
                    raise ValueError("payload is not a JSON object")
                if len(arg) == 1 and "staged" in arg:
                    arg = self._take_staged(arg["staged"])
            else:
                arg = {}
        except ValueError as e:
            self.error(f.req_id, f.mtype, m.ERR_BAD_PAYLOAD, "bad payload: %s" % e)
            return
        try:
            reply = fn(arg, f.req_id)
        except Refused as e:  # any layer's refusal: one ERROR reply, with its detail
            self.error(f.req_id, f.mtype, e.code, e.message, e.detail)
            return
        except Exception as e:  # a firmware bug must still answer the host
            self.error(f.req_id, f.mtype, m.ERR_INTERNAL, "%s: %s" % (type(e).__name__, e))
            return
        if reply is None:
            return
        try:
            self.ok(f.req_id, f.mtype, reply, raw)
        except MemoryError:
            # The reply did not fit the heap: still exactly one reply.
            gc.collect()
            self.error(f.req_id, f.mtype, m.ERR_INTERNAL, "reply too large for the free heap")

    def stage(self, payload, rid):
        """MSG_STAGE: offset u32 + bytes; offset 0 starts a new request."""
        if len(payload) < 4:
            raise Refused(m.ERR_BAD_PAYLOAD, "stage needs a 4-byte offset")
        off = payload[0] | payload[1] << 8 | payload[2] << 16 | payload[3] << 24
        if off == 0:
            self.staged = bytearray()
        if off != len(self.staged):
            raise Refused(m.ERR_BAD_PAYLOAD,
                               "stage offset %d, expected %d" % (off, len(self.staged)))
        if off + len(payload) - 4 > MAX_STAGED:
            self.staged = bytearray()
            raise Refused(m.ERR_BAD_PAYLOAD, "staged request over %d bytes" % MAX_STAGED)
        self.staged.extend(payload[4:])
        return json.dumps({"size": len(self.staged)}).encode()

    def _take_staged(self, size):
        data = self.staged
        self.staged = bytearray()
        if size != len(data):
            raise ValueError("staged %d bytes, request names %r" % (len(data), size))
        arg = json.loads(data)
        if not isinstance(arg, dict):
            raise ValueError("staged payload is not a JSON object")
        return arg

    # --- output -------------------------------------------------------------
    def ok(self, req_id, mtype, reply, raw=False):
        if raw:
            self._send(lc.KIND_OK, mtype, req_id, reply)
        else:
            self._send_json(lc.KIND_OK, mtype, req_id, reply)

    def error(self, req_id, mtype, code, message, detail=None):
        d = {"code": code, "name": m.ERR_NAMES.get(code, "?"), "message": message}
        if detail is not None:
            d["detail"] = detail
        self._send_json(lc.KIND_ERROR, mtype, req_id, d)

    def ok_int16(self, req_id, mtype, head, samples, n):
        """An OK reply of head (bytes) then samples[0:n] (an array('h')) as
        little-endian int16, copied out through a small scratch buffer:
        however long the trace, no copy of it is made whole."""
        out = self._out
        scratch = self._scratch
        hdr = lc.frame_header(lc.KIND_OK, mtype, req_id, len(head) + 2 * n)
        out.write(_FLAG)
        lc.stuff_into(out.write, hdr)
        lc.stuff_into(out.write, head)
        crc = lc.crc32(head, lc.crc32(hdr))
        k = 0
        while k < n:
            m = n - k
            if m > len(scratch) // 2:
                m = len(scratch) // 2
            for j in range(m):
                struct.pack_into("<h", scratch, 2 * j, samples[k + j])
            crc = lc.crc32(memoryview(scratch)[: 2 * m], crc)
            lc.stuff_into(out.write, scratch, 0, 2 * m)
            k += m
        struct.pack_into("<I", self._crc, 0, crc & 0xFFFFFFFF)
        lc.stuff_into(out.write, self._crc)
        out.write(_FLAG)
        out.flush()

    def push(self, mtype, obj):
        self._send_json(lc.KIND_PUSH, mtype, 0, obj)

    def push_raw(self, mtype, payload):
        self._send(lc.KIND_PUSH, mtype, 0, payload)

    def _send(self, kind, mtype, req_id, payload, prefix=b"", start=0, end=-1):
        out = self._out
        lc.write_frame(out.write, kind, mtype, req_id, payload, prefix, start, end)
        out.flush()

    def _send_json(self, kind, mtype, req_id, obj):
        """One frame whose payload is obj as JSON, the same bytes as
        write_frame(json.dumps(obj)) would send, streamed (_JsonFrame)."""
        js = self._json
        js.sending = False
        js.n = 0
        json.dump(obj, js)
        hdr = lc.frame_header(kind, mtype, req_id, js.n)
        out = self._out
        out.write(_FLAG)
        lc.stuff_into(out.write, hdr)
        js.crc = lc.crc32(hdr)
        js.sending = True
        try:
            json.dump(obj, js)
        finally:
            js.sending = False
            # A frame cut short still ends with a flag: the host drops it
            # (its length or CRC disagrees) and reads the next one.
            struct.pack_into("<I", self._crc, 0, js.crc & 0xFFFFFFFF)
            lc.stuff_into(out.write, self._crc)
            out.write(_FLAG)
            out.flush()

    # --- bulk ---------------------------------------------------------------
    def start_transfer(self, req_id, mtype, name, data):
        """Send data as DATA chunks, then an OK reply {obj, size, crc32}."""
        if self.transfer is not None:
            raise Refused(m.ERR_BUSY, "a transfer of %r is in progress" % self.transfer.name)
        self.transfer = _Transfer(req_id, mtype, name, data)

    def service(self):
        """Send the next bulk chunk, if a transfer is running."""
        t = self.transfer
        if t is None:
            return False
        n = len(t.data)
        end = t.offset + BULK_CHUNK
        if end > n:
            end = n
        if t.offset < n or n == 0:
            struct.pack_into(m.DATA_HEADER, self._dhdr, 0, t.offset)
            t.crc = lc.crc32(memoryview(t.data)[t.offset : end], t.crc)
            self._send(lc.KIND_DATA, t.mtype, t.req_id, t.data, self._dhdr, t.offset, end)
            t.offset = end
        if t.offset >= n:
            self.transfer = None
            self.ok(t.req_id, t.mtype, {"obj": t.name, "size": n, "crc32": t.crc & 0xFFFFFFFF})
        return True
