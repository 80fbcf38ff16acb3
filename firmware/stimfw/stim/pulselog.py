# Per-pulse delivery records in the journal (stimfw.core.journal): one
# record per run of consecutive pulses, up to the slot's room, each pulse
# its output, flags, anode and cathode masks, and what the read-back
# measured (stimfw.stim.delivery Judge.fig: both phases' peak, uA or mV,
# and charge, nC; widths, gap and onset, ns). The record of the segment in progress is the journal's open record:
# it grows pulse by pulse and is rewritten in place once per main-loop pass.
# It is also the only copy of those pulses on the unit: the host's
# PUSH_PULSE is decoded from it (send(), once per segment and whenever a
# record fills), so the read-back keeps no per-pulse lists of its own (a
# 32-bit board's heap had no room for a second copy: docs/PERFORMANCE.md,
# Long case).
#
# Write-ahead: before a segment goes to the output stage, segment() puts on
# flash what is about to fire (run, pulse indices, scheduled times, output,
# amplitude and contacts per pulse) with the output stage's pulse count at
# that moment, and the journal's header names the run's first such record
# until the run's result is on flash. So whatever ends the firmware, the
# next boot knows which pulses it handed over and, from the output stage's
# count, how many of them fired (stimfw.stim.reconcile).
import struct

try:
    from micropython import const
except ImportError:  # the host reads the record layout from here too

    def const(x):
        return x


from stimfw.core import journal as jn
from stimfw.core.notices import PUSH_PULSE
from stimfw.stim.delivery import FLAG_UNVERIFIED

HEAD = "<HIB"  # run, index of the first pulse, pulses in the record
HEAD_SIZE = 7
PULSE = "<BHHHiiiiiiii"  # output, flags, anodes, cathodes, then Judge.fig
PULSE_SIZE = 39
_ZERO_FIG = (0, 0, 0, 0, 0, 0, 0, 0)
# A pulse record's fields in PULSE's order, by the names PUSH_PULSE and
# decode() give them (docs/LINK.md); the sequencer keeps its segment's
# records in this order too.
KEYS = ("out", "flags", "an", "ca", "amp", "q_nc", "amp2", "q2_nc", "w1_ns", "w2_ns", "gap_ns", "onset_ns")

# A write-ahead record: run, its total pulses, the segment's first pulse
# index and pulse count, this record's first pulse and count, whether the
# output stage's count was read, that count, the segment's scheduled start
# (us from the run's start); then per pulse its offset from the segment's
# start (us), output, amplitude, anode and cathode masks. A segment longer
# than a slot's room takes several records. (Private consts: a name the
# module keeps is one more entry in MicroPython's string table.)
_SEG_HEAD = const("<HIIBIBBHI")
_SEG_HEAD_SIZE = const(23)
_SEG_PULSE = const("<IBiHH")
_SEG_PULSE_SIZE = const(13)


class PulseLog:
    def __init__(self, journal):
        self.j = journal
        self.per_record = (journal.payload_max - HEAD_SIZE) // PULSE_SIZE
        self.run = -1
        self.next = -1
        self.n = 0
        self.buf = None
        # fn(kind, payload) that sends a notice to the host, or None; set
        # once the boot's reconciliation has journaled what it found.
        self.push = None
        self.sent = 0  # pulses of the open record the host has had

    def add(self, run, index, out, an, ca, fig, flags):
        """One pulse read back (fig: delivery.Judge.fig, or None for a
        pulse with nothing read back)."""
        if fig is None:
            fig = _ZERO_FIG
        if (self.buf is None or run != self.run or index != self.next or self.n >= self.per_record
                or self.j.open_seq == 0):
            self.send()  # the full record's last pulses, before its room is reused
            _seq, self.buf = self.j.open(jn.KIND_PULSES)
            self.run = run
            self.n = 0
            self.sent = 0
            struct.pack_into(HEAD, self.buf, 0, run & 0xFFFF, index, 0)
        struct.pack_into(PULSE, self.buf, HEAD_SIZE + self.n * PULSE_SIZE, out, flags, an, ca,
                         fig[0], fig[1], fig[2], fig[3], fig[4], fig[5], fig[6], fig[7])
        self.n += 1
        self.buf[6] = self.n
        self.next = index + 1
        self.j.grown(HEAD_SIZE + self.n * PULSE_SIZE)

    def send(self):
        """The pulses of the open record the host has not had yet, as one
        PUSH_PULSE (the journal's record layout, decode())."""
        if self.push is None or self.buf is None or self.sent >= self.n:
            return
        d = decode(self.buf, start=self.sent)
        d["run"] = self.run  # the record keeps its low 16 bits
        self.sent = self.n
        self.push(PUSH_PULSE, d)

    def segment(self, run, total, first, start_us, tl, tally):
        """What is about to fire: pulses first.. of run (timeline tl, the
        segment's compiled start start_us from the run's start), and the
        output stage's count before it (tally, None if the HAL keeps none),
        on flash before this returns."""
        j = self.j
        room = (j.payload_max - _SEG_HEAD_SIZE) // _SEG_PULSE_SIZE
        seq = 0
        k = 0
        while True:
            n = tl.n - k
            if n > room:
                n = room
            buf = bytearray(_SEG_HEAD_SIZE + n * _SEG_PULSE_SIZE)
            struct.pack_into(_SEG_HEAD, buf, 0, run & 0xFFFF, total, first, tl.n, first + k, n,
                             0 if tally is None else 1, tally or 0, start_us)
            for i in range(n):
                p = k + i
                struct.pack_into(_SEG_PULSE, buf, _SEG_HEAD_SIZE + i * _SEG_PULSE_SIZE, tl.t_us[p],
                                 tl.output[p], tl.amp[p], tl.anodes[p], tl.cathodes[p])
            s = j.append(jn.KIND_SEGMENT, buf)
            if not seq:
                seq = s
            k += n
            if k >= tl.n:
                break
        j.flush()
        if not j.run_seq:  # the run's first segment: its books open
            j.set_state(j.last_state, seq)

    def end(self):
        """The run ended: its last record is complete."""
        self.j.close()
        self.buf = None

    def result(self, summary):
        """A run's result summary into the journal, after its last pulses:
        on flash before the run's books close."""
        j = self.j
        j.close()
        d = {}
        d.update(summary)
        seq = j.append_json(jn.KIND_RESULT, d)
        j.flush()
        if j.run_seq:
            j.set_state(j.last_state, 0)
        return seq


def decode(data, segment=False, start=0):
    """A pulses record (or with segment, a write-ahead record) as the host
    reads it, from its pulse start on; a pulse the boot reconciliation added
    (flag unverified: fired, never read back) has no read-back figures
    (None)."""
    if segment:
        run, total, sfirst, sn, first, n, has, tally, start = struct.unpack_from(_SEG_HEAD, data)
        cols = ([], [], [], [], [])
        for i in range(n):
            row = struct.unpack_from(_SEG_PULSE, data, _SEG_HEAD_SIZE + i * _SEG_PULSE_SIZE)
            for c in range(5):
                cols[c].append(row[c])
        return {"run": run, "total": total, "segment": sfirst, "segment_pulses": sn, "first": first,
                "tally": tally if has else None, "start_us": start, "t_us": cols[0], "out": cols[1],
                "amp": cols[2], "anodes": cols[3], "cathodes": cols[4]}
    run, first, n = struct.unpack_from(HEAD, data)
    d = {"run": run, "first": first + start}
    cols = [[] for _ in KEYS]
    for i in range(start, n):
        row = struct.unpack_from(PULSE, data, HEAD_SIZE + i * PULSE_SIZE)
        unverified = row[1] & FLAG_UNVERIFIED
        for c in range(len(KEYS)):
            cols[c].append(None if unverified and c > 3 else row[c])
    for c in range(len(KEYS)):
        d[KEYS[c]] = cols[c]
    return d

