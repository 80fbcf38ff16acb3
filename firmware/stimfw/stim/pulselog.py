# Per-pulse delivery records in the journal (stimfw.core.journal): one
# record per run of consecutive pulses, up to the slot's room, each pulse
# its output, flags, delivered amplitude (uA or mV) and first-phase charge
# (nC). The record of the segment in progress is the journal's open record:
# it grows pulse by pulse and is rewritten in place once per main-loop pass,
# so a crash or an interrupt loses at most the pulses of the last pass.
import struct

from stimfw.core import journal as jn

HEAD = "<HIB"  # run, index of the first pulse, pulses in the record
HEAD_SIZE = 7
PULSE = "<BBii"  # output, flags, delivered amplitude, charge nC
PULSE_SIZE = 10


class PulseLog:
    def __init__(self, journal):
        self.j = journal
        self.per_record = (journal.payload_max - HEAD_SIZE) // PULSE_SIZE
        self.run = -1
        self.next = -1
        self.n = 0
        self.buf = None

    def add(self, run, index, out, amp, q_nc, flags):
        if (self.buf is None or run != self.run or index != self.next or self.n >= self.per_record
                or self.j.open_seq == 0):
            _seq, self.buf = self.j.open(jn.KIND_PULSES)
            self.run = run
            self.n = 0
            struct.pack_into(HEAD, self.buf, 0, run & 0xFFFF, index, 0)
        struct.pack_into(PULSE, self.buf, HEAD_SIZE + self.n * PULSE_SIZE, out, flags, amp, q_nc)
        self.n += 1
        self.buf[6] = self.n
        self.next = index + 1
        self.j.grown(HEAD_SIZE + self.n * PULSE_SIZE)

    def end(self):
        """The run ended: its last record is complete."""
        self.j.close()
        self.buf = None

    def result(self, summary):
        return result(self.j, summary)


def decode(data):
    """A pulses record as the host reads it."""
    run, first, n = struct.unpack_from(HEAD, data)
    out = []
    amp = []
    q = []
    fl = []
    for i in range(n):
        o, f, a, c = struct.unpack_from(PULSE, data, HEAD_SIZE + i * PULSE_SIZE)
        out.append(o)
        fl.append(f)
        amp.append(a)
        q.append(c)
    return {"run": run, "first": first, "out": out, "amp": amp, "q_nc": q, "flags": fl}


def result(journal, summary):
    """A run's result summary into the journal, after its last pulses."""
    journal.close()
    d = {}
    d.update(summary)
    return journal.append_json(jn.KIND_RESULT, d)
