# The safety event log: what stopped, refused or faulted, with timestamps,
# kept on the device until the host acknowledges it. A fixed number of slots:
# unacknowledged entries are never overwritten (they are the record of
# adverse events); when every slot is taken a new entry is still pushed live
# but only counted in `dropped`, which every reply carries.
from stimfw.core import notices as note

SLOTS = 32


class EventLog:
    def __init__(self, clock_ms, push=None, slots=SLOTS):
        self.clock_ms = clock_ms  # wall clock: events are for humans
        self.push = push  # fn(mtype, obj) or None
        self.slots = [None] * slots
        self.head = 0  # oldest unacknowledged entry
        self.count = 0
        self.seq = 0  # sequence number of the last entry recorded
        self.dropped = 0

    def record(self, kind, **detail):
        self.seq += 1
        e = {"seq": self.seq, "t_ms": self.clock_ms(), "kind": kind}
        e.update(detail)
        n = len(self.slots)
        if self.count < n:
            self.slots[(self.head + self.count) % n] = e
            self.count += 1
        else:
            self.dropped += 1
        if self.push is not None:
            self.push(note.PUSH_EVENT, e)
        return e

    def ack(self, seq):
        """Forget entries up to and including seq."""
        n = len(self.slots)
        while self.count and self.slots[self.head]["seq"] <= seq:
            self.slots[self.head] = None
            self.head = (self.head + 1) % n
            self.count -= 1

    def entries(self):
        n = len(self.slots)
        return [self.slots[(self.head + i) % n] for i in range(self.count)]

    def request(self, req):
        """MSG_EVENTS: {"ack": seq} optional; replies with what is kept."""
        ack = req.get("ack")
        if isinstance(ack, int) and not isinstance(ack, bool):
            self.ack(ack)
        return {"events": self.entries(), "dropped": self.dropped, "last_seq": self.seq}
