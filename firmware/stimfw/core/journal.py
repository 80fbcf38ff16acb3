# The unit's journal: a bounded ring of sequence-numbered records (safety
# events, per-pulse delivery records, run results) that survives soft
# resets, an interrupt from the host and crashes, kept until the host has
# acknowledged what it stored.
#
# Why a file of fixed-size slots. On the simulated unit the flash is a
# folder, so the ring is one file, journal.bin, in it: slot 0 is a header
# (geometry, the acknowledged sequence number, the unit's last state) and
# record seq lives in slot 1 + seq % SLOTS. A record never moves, so finding
# one is a seek, writing one is one bounded write of at most a slot (never a
# rewrite of the file), and at boot the highest valid sequence number found
# in the slots is where the sequence goes on: numbers are monotonic across
# reboots while the flash lasts. Each slot carries the CRC of its payload, so
# a write torn by a crash reads as a missing record, not as garbage. On a
# board the same layout goes on a flash partition, where a main-loop pass
# may write only a bounded number of slots (WRITE_BUDGET: flash writes are
# slow and wear the part), or, for a board without spare flash, into a RAM
# region that survives a soft reset (rp2 and stm32 keep .noinit RAM across
# machine.soft_reset and a watchdog reset, not across power loss).
#
# Writes are queued and go out WRITE_BUDGET slots per main-loop pass
# (service()); a queue that fills up is written at once rather than lost.
# One record may be "open": the per-pulse record of the segment in progress
# grows pulse by pulse and is rewritten in place (one slot) on each pass it
# changed. What a crash keeps from being written is recovered at the next
# boot from the write-ahead records (stimfw.stim.reconcile): the header
# names the first write-ahead record of the run whose books are still open
# (run_seq), and flush() puts everything queued on flash before a segment
# goes to the output stage.
#
# A JSON record longer than a slot spans consecutive sequence numbers: its
# head slot carries the record's kind and the number of parts, each further
# slot is a KIND_PART carrying its index; every slot is one bounded write,
# and the text is cut only between UTF-8 characters. The host joins the
# parts (stimbox.client). A record beyond MAX_PARTS slots loses its largest
# list or table values, named under "dropped", never its text mid-way.
#
# The ring never overwrites a record the host has not acknowledged unless it
# is full; each record so lost is counted, and the count is reported through
# on_overflow (the event log records it as an event of its own).
import json
import struct

try:
    from binascii import crc32
except ImportError:  # CPython without binascii.crc32 (never on MicroPython)
    from zlib import crc32

KIND_EVENT = 1
KIND_PULSES = 2
KIND_RESULT = 3
KIND_SEGMENT = 4  # write-ahead: a segment about to go to the output stage
KIND_PART = 5  # a further slot of a record longer than one slot
KIND_MEP = 6  # one TcMEP trial's measured MEP per muscle (stimfw.record.mep)
KIND_NAMES = {KIND_EVENT: "event", KIND_PULSES: "pulses", KIND_RESULT: "result",
              KIND_SEGMENT: "segment", KIND_PART: "part", KIND_MEP: "mep"}

PATH = "journal.bin"  # in the flash root
MAGIC = b"SBJ1"
SLOT_HDR = "<IHHI"  # seq, kind, payload length, crc32 of the payload
SLOT_HDR_SIZE = 12
HEAD_FMT = "<4sHIIB"  # magic, slot bytes, slots, acked seq, state text length
HEAD_SIZE = 15
STATE_MAX = 64
WRITE_BUDGET = 4  # slots written per main-loop pass
QUEUE = 16  # queued records before a write goes out at once
MAX_PARTS = 16  # slots one record may span


class Journal:
    def __init__(self, path, slots, slot_bytes, sync=True):
        self.path = path
        # sync: flush() commits the file to the medium. A board's file
        # system keeps writes in its cache until then; the simulated unit's
        # writes reach its host's page cache at once (see its board.py).
        self.sync = sync
        self.slots = slots
        self.slot_bytes = slot_bytes
        self.payload_max = slot_bytes - SLOT_HDR_SIZE
        self.hdr = bytearray(SLOT_HDR_SIZE)
        self.buf = bytearray(slot_bytes)
        self.queue = []  # (seq, kind, bytes) not written yet
        self.open_seq = 0  # the open record, rewritten while it grows
        self.open_kind = 0
        self.open_buf = bytearray(self.payload_max)
        self.open_len = 0
        self.open_dirty = False
        self.lost = 0  # unacknowledged records overwritten, since boot
        self.lost_new = 0  # ... not reported yet
        self.on_overflow = None  # fn(count) when the ring overwrote records
        self.reporting = False
        self.seq = 0
        self.acked = 0
        self.last_state = None
        self.run_seq = 0  # first write-ahead record of the run with open books
        self._open_file()

    # --- the file -------------------------------------------------------------
    def _commit(self):
        if self.sync:
            self.f.flush()

    def _open_file(self):
        try:
            f = open(self.path, "r+b")
        except OSError:
            f = None
        if f is not None:
            # The state text's room is followed by run_seq, a u32 (zero in
            # files from before it was kept).
            head = f.read(HEAD_SIZE + STATE_MAX + 4)
            ok = len(head) >= HEAD_SIZE + STATE_MAX + 4
            if ok:
                magic, sb, n, acked, sl = struct.unpack_from(HEAD_FMT, head)
                ok = magic == MAGIC and sb == self.slot_bytes and n == self.slots
            if ok:
                self.f = f
                self.acked = acked
                if sl:
                    self.last_state = bytes(head[HEAD_SIZE : HEAD_SIZE + sl]).decode()
                self.run_seq = struct.unpack_from("<I", head, HEAD_SIZE + STATE_MAX)[0]
                self._recover()
                return
            f.close()
        # New, or another geometry (a board declaration changed): start afresh.
        f = open(self.path, "wb")
        zero = bytearray(self.slot_bytes)
        for _ in range(self.slots + 1):
            f.write(zero)
        f.close()
        self.f = open(self.path, "r+b")
        self._write_head()

    def _recover(self):
        """The highest valid sequence number in the ring: where it goes on."""
        f = self.f
        buf = self.buf
        best = 0
        for i in range(self.slots):
            f.seek((1 + i) * self.slot_bytes)
            if f.readinto(buf) != self.slot_bytes:
                break
            seq, kind, n, crc = struct.unpack_from(SLOT_HDR, buf)
            if seq > best and kind and n <= self.payload_max and self._crc(buf, n) == crc:
                best = seq
        self.seq = best
        if self.acked > best:
            self.acked = best
        if self.run_seq > best:
            self.run_seq = 0

    def _crc(self, buf, n):
        return crc32(memoryview(buf)[SLOT_HDR_SIZE : SLOT_HDR_SIZE + n]) & 0xFFFFFFFF

    def _write_head(self):
        st = (self.last_state or "").encode()[:STATE_MAX]
        head = bytearray(HEAD_SIZE + STATE_MAX + 4)
        struct.pack_into(HEAD_FMT, head, 0, MAGIC, self.slot_bytes, self.slots, self.acked, len(st))
        head[HEAD_SIZE : HEAD_SIZE + len(st)] = st
        struct.pack_into("<I", head, HEAD_SIZE + STATE_MAX, self.run_seq)
        self.f.seek(0)
        self.f.write(head)
        self._commit()

    def _write(self, seq, kind, data, n):
        hdr = self.hdr
        struct.pack_into(SLOT_HDR, hdr, 0, seq, kind, n,
                         crc32(memoryview(data)[:n]) & 0xFFFFFFFF)
        f = self.f
        # Payload first, header last: a write torn by a crash leaves a slot
        # whose CRC fails, which reads as missing.
        f.seek((1 + seq % self.slots) * self.slot_bytes + SLOT_HDR_SIZE)
        f.write(memoryview(data)[:n])
        f.seek((1 + seq % self.slots) * self.slot_bytes)
        f.write(hdr)

    # --- writing --------------------------------------------------------------
    def _next(self):
        self.seq += 1
        gone = self.seq - self.slots  # the record this one overwrites
        if gone > self.acked and gone > 0:
            self.lost += 1
            if not self.reporting:
                self.lost_new += 1
        return self.seq

    def append(self, kind, data):
        """Queue a record; returns its sequence number."""
        if len(data) > self.payload_max:
            raise ValueError("journal record of %d bytes" % len(data))
        seq = self._next()
        self.queue.append((seq, kind, data))
        if len(self.queue) > QUEUE:
            s, k, d = self.queue.pop(0)
            self._write(s, k, d, len(d))
            self._commit()
        return seq

    def append_json(self, kind, obj):
        """obj gets its "seq"; longer than a slot, it spans further slots
        (at most MAX_PARTS). Returns its (first) sequence number."""
        obj["seq"] = self.seq + 1
        room = self.payload_max
        data = json.dumps(obj).encode()
        while len(data) > room * MAX_PARTS:
            # Too long even so: the largest list or table value goes, named
            # under "dropped", until it fits.
            big = None
            size = 0
            for k, v in obj.items():
                if k != "dropped" and isinstance(v, (list, dict)):
                    n = len(json.dumps(v))
                    if n > size:
                        big, size = k, n
            if big is None:
                raise ValueError("journal record of %d bytes" % len(data))
            del obj[big]
            obj.setdefault("dropped", []).append(big)
            data = json.dumps(obj).encode()
        if len(data) <= room:
            return self.append(kind, data)
        view = memoryview(data)
        parts = []
        i = 0
        while i < len(data):
            j = i + room
            if j < len(data):
                while (data[j] & 0xC0) == 0x80:  # never inside a UTF-8 character
                    j -= 1
            else:
                j = len(data)
            parts.append(view[i:j])
            i = j
        first = self.append(kind | len(parts) << 8, parts[0])
        for k in range(1, len(parts)):
            self.append(KIND_PART | k << 8, parts[k])
        return first

    def open(self, kind):
        """Close the open record and open a new one; returns (seq, buffer).
        Fill the buffer and call grown(n) after each change."""
        self.close()
        self.open_seq = self._next()
        self.open_kind = kind
        self.open_len = 0
        return self.open_seq, self.open_buf

    def grown(self, n):
        self.open_len = n
        self.open_dirty = True

    def close(self):
        if self.open_seq and self.open_dirty:
            self._write(self.open_seq, self.open_kind, self.open_buf, self.open_len)
            self._commit()
        self.open_seq = 0
        self.open_dirty = False

    def service(self):
        """Write at most WRITE_BUDGET slots; True if anything was written."""
        budget = WRITE_BUDGET
        wrote = False
        if self.open_dirty:
            self._write(self.open_seq, self.open_kind, self.open_buf, self.open_len)
            self.open_dirty = False
            budget -= 1
            wrote = True
        q = self.queue
        while q and budget > 0:
            s, k, d = q.pop(0)
            self._write(s, k, d, len(d))
            budget -= 1
            wrote = True
        if wrote:
            self._commit()
        if self.lost_new and self.on_overflow is not None:
            n = self.lost_new
            self.lost_new = 0
            # Records the report itself overwrites go into the next report
            # of a real overflow, never into one of their own.
            self.reporting = True
            try:
                self.on_overflow(n)
            finally:
                self.reporting = False
        return wrote

    def flush(self):
        """Everything queued to the file now (interrupt, shutdown, crash)."""
        while self.queue or self.open_dirty:
            self.service()

    def set_state(self, text, run_seq=None):
        """The unit's state, kept for the next boot to report; run_seq, if
        given: the first write-ahead record of the run whose books are open
        (0: none). On flash before this returns."""
        self.last_state = text
        if run_seq is not None:
            self.run_seq = run_seq
        self._write_head()

    def ack(self, seq):
        if isinstance(seq, int) and not isinstance(seq, bool) and seq > self.acked:
            self.acked = seq if seq <= self.seq else self.seq
            self._write_head()
        return self.acked

    # --- reading --------------------------------------------------------------
    def first(self):
        """The oldest sequence number still in the ring."""
        f = self.seq - self.slots + 1
        return f if f > 1 else 1

    def get(self, seq):
        """(kind, payload bytes, part) of record seq, or None if it is gone.
        part: for a KIND_PART slot its index in its record (the record's
        head is seq - part); for any other kind the slots its record spans
        (1 for most)."""
        if seq < self.first() or seq > self.seq:
            return None
        if seq == self.open_seq:
            kind, data = self.open_kind, bytes(self.open_buf[: self.open_len])
        else:
            got = None
            for s, k, d in self.queue:
                if s == seq:
                    got = k, bytes(d)
            if got is None:
                got = self._read(seq)
                if got is None:
                    return None
            kind, data = got
        part = kind >> 8
        return kind & 0xFF, data, (part if part or kind & 0xFF == KIND_PART else 1)

    def _read(self, seq):
        buf = self.buf
        self.f.seek((1 + seq % self.slots) * self.slot_bytes)
        if self.f.readinto(buf) != self.slot_bytes:
            return None
        s, kind, n, crc = struct.unpack_from(SLOT_HDR, buf)
        if s != seq or n > self.payload_max or self._crc(buf, n) != crc:
            return None
        return kind, bytes(buf[SLOT_HDR_SIZE : SLOT_HDR_SIZE + n])

