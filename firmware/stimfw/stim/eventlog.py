# The safety event log: what stopped, refused or faulted, with timestamps.
# Each entry goes into the unit's journal (stimfw.core.journal) under the
# unit-wide sequence number, where it survives reboots until the host has
# acknowledged it, and is pushed live as PUSH_EVENT. Replies are pages of a
# bounded size: however many entries wait, no reply is built larger than
# PAGE_BYTES plus one slot's record (a record spanning several slots comes
# slot by slot, its parts as text, which the host joins).
import json

from stimfw.core import journal as jn
from stimfw.core import jsonio
from stimfw.core import notices as note

PAGE_BYTES = 1536  # JSON bytes of records in one reply
PAGE_SCAN = 64  # slots looked at per reply (bounds the time a request takes)


class EventLog:
    def __init__(self, clock_ms, push, journal):
        self.clock_ms = clock_ms  # wall clock: events are for humans
        self.push = push  # fn(mtype, obj) or None
        self.journal = journal
        journal.on_overflow = self._overflow

    @property
    def seq(self):
        return self.journal.seq

    def record(self, kind, **detail):
        e = {"t_ms": self.clock_ms(), "kind": kind}
        e.update(detail)
        self.journal.append_json(jn.KIND_EVENT, e)
        if self.push is not None:
            self.push(note.PUSH_EVENT, e)
        return e

    def _overflow(self, n):
        j = self.journal
        self.record("journal_overflow", lost=n, lost_total=j.lost, acked=j.acked)

    def page(self, since, kinds=None):
        """Records after seq since, of the given kinds (None: all), as many
        as fit a page: (records, next seq to ask from)."""
        j = self.journal
        s = since + 1
        first = j.first()
        if s < first:
            s = first
        out = []
        size = 0
        scanned = 0
        while s <= j.seq and scanned < PAGE_SCAN and size < PAGE_BYTES:
            scanned += 1
            got = j.get(s)
            if got is None:
                if kinds is None:
                    out.append({"seq": s, "type": "missing"})
                    size += 32
            else:
                kind, data, parts = got
                keep = kinds is None or kind in kinds
                if kind == jn.KIND_PART and not keep:
                    # The further slots of a long record go with its head.
                    head = j.get(s - parts)
                    keep = head is not None and head[0] in kinds
                if keep:
                    rec = decode(kind, data, s, parts)
                    n = jsonio.size(rec)
                    if out and size + n > PAGE_BYTES:
                        break
                    out.append(rec)
                    size += n
            s += 1
        return out, s - 1

    def request(self, req):
        """MSG_EVENTS: {"ack": seq, "since": seq} both optional; replies
        with one page of events after since (default: the acknowledged)."""
        j = self.journal
        j.ack(req.get("ack"))
        since = req.get("since")
        if not isinstance(since, int) or isinstance(since, bool):
            since = j.acked
        events, upto = self.page(since, (jn.KIND_EVENT,))
        return {"events": events, "next": upto, "more": upto < j.seq, "dropped": j.lost,
                "last_seq": j.seq, "acked": j.acked}


def decode(kind, data, seq, parts=1):
    """One slot as the host reads it. parts: as journal.get() gives it; a
    record's head that spans several slots and each further part carry
    their text, which the host joins."""
    if kind == jn.KIND_PULSES:
        from stimfw.stim.pulselog import decode as pulses

        rec = pulses(data)
    elif kind == jn.KIND_SEGMENT:
        from stimfw.stim.pulselog import decode as pulses

        rec = pulses(data, True)
    elif kind == jn.KIND_MEP:
        from stimfw.record.mep import decode as mep

        rec = mep(data)
    elif kind == jn.KIND_PART:
        rec = {"part": parts, "text": data.decode()}  # of the record at seq - part
    elif parts > 1:
        rec = {"parts": parts, "text": data.decode()}
    else:
        try:
            rec = json.loads(data)
        except ValueError:
            rec = {"unreadable": len(data)}
    rec["seq"] = seq
    rec["type"] = jn.KIND_NAMES.get(kind, "?")
    return rec
