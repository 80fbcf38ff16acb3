# Spec -> timeline. A spec's pulses are a deterministic merge of its streams
# (each a train repeated at a fixed period), in time order, ties broken by
# stream order; all integer arithmetic, so the same spec gives the same edges
# on every runtime. A whole run rarely fits one timeline in a small heap, so
# the sequencer takes it in segments of whole trains (Segmenter), and PLAN
# takes its first rows (plan_rows).
import struct

from stimfw.stim.timeline import Timeline

ROW = "<9i"  # a plan row: the timeline columns in stimfw.stim.timeline.COLUMNS order
ROW_SIZE = 36
COLUMNS_NOTE = "t_us from run start, output, amp, w1_us, gap_us, w2_us, amp2, anodes, cathodes"


class PulseStream:
    """The spec's pulses in time order: peek() and advance()."""

    def __init__(self, spec):
        self.streams = spec["streams"]
        k = len(self.streams)
        self.train = [0] * k  # train index per stream
        self.pulse = [0] * k  # pulse index within the train
        self.index = 0  # pulses taken so far

    def time_of(self, i):
        s = self.streams[i]
        return s["offset"] + self.train[i] * s["period"] + self.pulse[i] * s["isi"]

    def peek(self):
        """(t_us from run start, stream index, pulse in train) or None."""
        best = -1
        bt = 0
        for i in range(len(self.streams)):
            if self.train[i] >= self.streams[i]["count"]:
                continue
            t = self.time_of(i)
            if best < 0 or t < bt:
                best = i
                bt = t
        if best < 0:
            return None
        return bt, best, self.pulse[best]

    def between_trains(self):
        for p in self.pulse:
            if p:
                return False
        return True

    def advance(self, i):
        self.index += 1
        self.pulse[i] += 1
        if self.pulse[i] >= self.streams[i]["n"]:
            self.pulse[i] = 0
            self.train[i] += 1


def pulse_dur(s):
    return s["w1"] + s["gap"] + s["w2"]


def add_pulse(tl, t, s):
    return tl.add(t, s["out"], s["amp"], s["w1"], s["gap"], s["w2"], s["amp2"], s["an"], s["ca"])


def count_pulses(spec):
    n = 0
    for s in spec["streams"]:
        n += s["n"] * s["count"]
    return n


def duration_us(spec):
    end = 0
    for s in spec["streams"]:
        e = s["offset"] + (s["count"] - 1) * s["period"] + (s["n"] - 1) * s["isi"] + pulse_dur(s)
        if e > end:
            end = e
    return end


def compile_spec(spec, capacity=None):
    """The whole run as one timeline (for runs that fit, and for tests)."""
    tl = Timeline(capacity or count_pulses(spec))
    ps = PulseStream(spec)
    while True:
        nxt = ps.peek()
        if nxt is None:
            return tl
        t, i, _ = nxt
        add_pulse(tl, t, ps.streams[i])
        ps.advance(i)


class Segmenter:
    """Cuts a run into timelines of whole trains, so a train's edges always
    come from one fire() and never depend on when Python fires the next."""

    CLOSED_LOOP = False  # every amplitude is known before the run (stepping.Steps: not)

    def __init__(self, spec, span_max_us=2000000):
        self.ps = PulseStream(spec)
        self.span_max_us = span_max_us
        self.max_n = max(s["n"] for s in spec["streams"])
        self.first = 0  # run index of the segment's first pulse

    def fill(self, tl):
        """Fill tl with the next segment; returns its start (us from the run's
        start; tl.t_us are relative to it) or None when the run is done."""
        tl.clear()
        ps = self.ps
        self.first = ps.index
        start = None
        while True:
            nxt = ps.peek()
            if nxt is None:
                break
            t, i, p = nxt
            s = ps.streams[i]
            if start is None:
                start = t
            elif (p == 0 and ps.between_trains()
                  and (tl.n + self.max_n > tl.capacity or t - start > self.span_max_us)):
                break
            add_pulse(tl, t - start, s)
            tl.tag(tl.n - 1, i, p)
            ps.advance(i)
        return start


def plan_rows(spec, max_rows):
    """The first max_rows pulses as packed ROW records (absolute times)."""
    ps = PulseStream(spec)
    n = min(max_rows, count_pulses(spec))
    buf = bytearray(n * ROW_SIZE)
    for k in range(n):
        t, i, _ = ps.peek()
        s = ps.streams[i]
        struct.pack_into(ROW, buf, k * ROW_SIZE, t, s["out"], s["amp"], s["w1"], s["gap"],
                         s["w2"], s["amp2"], s["an"], s["ca"])
        ps.advance(i)
    return buf
