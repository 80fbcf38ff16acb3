# Boot reconciliation: the books of a run that the last boot never closed.
#
# A crash, a watchdog reset or a lost interrupt ends the firmware between
# two main-loop passes, while the output stage may still be firing the
# segment it was handed. What the last boot wrote tells this one what it
# handed over: the journal's header names the run's first write-ahead
# record (stimfw.stim.pulselog: PulseLog.segment), and the last segment's record holds
# its pulses and the output stage's pulse count before it. The output
# stage's count now (hal.fired_count(), hardware state that outlived the
# firmware) tells how many of them fired. Every fired pulse that no record
# holds is journalled, flagged unverified (no amplitude or charge: nobody
# measured them), then the run's result, whose outcome names the reset
# cause. Where the HAL keeps no count, or the count did not survive the
# reset (power loss), an event states the upper bound instead: every pulse
# of the segment not read back may have fired.
from stimfw.core import journal as jn
from stimfw.hal_api import NotProvided
from stimfw.stim import pulselog as pl
from stimfw.stim.delivery import FLAG_UNVERIFIED, flag_names

# Resets that keep the board powered, after which the output stage's count
# is still the one the write-ahead record compared against.
COUNT_SURVIVES = ("crash", "watchdog", "interrupt", "soft", "hard")


class _Books:
    """What the journal holds of the run, from its first write-ahead record on."""

    def __init__(self):
        self.run = None
        self.total = 0
        self.seg = 0  # the last segment: first pulse, pulses, count before it, outputs
        self.seg_n = 0
        self.tally = None
        self.outputs = None
        self.anodes = None
        self.cathodes = None
        self.covered = 0  # one past the highest pulse index with a record
        self.read = 0  # pulses with a record
        self.charge_nc = 0
        self.amp_min = None
        self.amp_max = None
        self.flags = {}
        self.closed = False  # its result is on flash already

    def segment(self, data):
        rec = pl.decode(data, True)
        if self.run is None or rec["segment"] != self.seg or rec["run"] != self.run:
            self.run = rec["run"]
            self.total = rec["total"]
            self.seg = rec["segment"]
            self.seg_n = rec["segment_pulses"]
            self.tally = rec["tally"]
            self.outputs = [0] * self.seg_n
            self.anodes = [0] * self.seg_n
            self.cathodes = [0] * self.seg_n
        k = rec["first"] - self.seg
        for i in range(len(rec["out"])):
            self.outputs[k] = rec["out"][i]
            self.anodes[k] = rec["anodes"][i]
            self.cathodes[k] = rec["cathodes"][i]
            k += 1

    def pulses(self, data):
        rec = pl.decode(data)
        if rec["run"] != self.run:
            return
        for i in range(len(rec["out"])):
            self.read += 1
            f = rec["flags"][i]
            for name in flag_names(f):
                self.flags[name] = self.flags.get(name, 0) + 1
            if f & FLAG_UNVERIFIED:
                continue
            a = rec["amp"][i]
            self.charge_nc += rec["q_nc"][i]
            if self.amp_min is None or a < self.amp_min:
                self.amp_min = a
            if self.amp_max is None or a > self.amp_max:
                self.amp_max = a
        end = rec["first"] + len(rec["out"])
        if end > self.covered:
            self.covered = end


def _read(journal):
    b = _Books()
    s = journal.run_seq
    while s <= journal.seq:
        got = journal.get(s)
        s += 1
        if got is None:
            continue
        kind, data, _parts = got
        if kind == jn.KIND_SEGMENT:
            b.segment(data)
        elif kind == jn.KIND_PULSES and b.run is not None:
            b.pulses(data)
        elif kind == jn.KIND_RESULT:
            # Runs follow one another: a result after the run's first
            # write-ahead record is its own (the books closed, the header
            # not yet told).
            b.closed = True
    return b


def reconcile(journal, pulselog, log, hal, cause, detail):
    """At boot, before anything can fire: close the books of the run the
    last boot left open (journal.run_seq). Returns the result summary
    journalled, or None."""
    b = _read(journal)
    if b.closed or b.run is None:
        journal.set_state(journal.last_state, 0)
        return None
    hal.outputs_off()  # nothing more fires: the count below is final
    now = None
    if cause in COUNT_SURVIVES:
        try:
            now = hal.fired_count()
        except NotProvided:
            pass
    seg_end = b.seg + b.seg_n
    k0 = b.covered if b.covered > b.seg else b.seg
    before = b.flags.get("unverified", 0)  # a reconciliation cut short by another reset
    added = 0
    d = {"run": b.run, "total": b.total, "outcome": cause}
    if detail:
        d["detail"] = detail
    if now is None or b.tally is None:
        why = ("the output stage's pulse count did not survive the reset (%s)" % cause
               if cause not in COUNT_SURVIVES else "the output stage keeps no pulse count")
        log.record("unverified_pulses", run=b.run, first=k0, at_most=seg_end - k0, reason=why)
        done = b.covered
        d["at_most"] = seg_end
    else:
        fired = (now - b.tally) & 0xFFFF
        if fired > b.seg_n:
            fired = b.seg_n
        done = b.seg + fired
        for k in range(k0, done):
            i = k - b.seg
            pulselog.add(b.run, k, b.outputs[i], b.anodes[i], b.cathodes[i], None, FLAG_UNVERIFIED)
            added += 1
        pulselog.end()
        if added:
            b.flags["unverified"] = before + added
        if done < b.covered:
            done = b.covered
    d["done"] = done
    d["read_back"] = b.read - before
    d["unverified"] = before + added
    d["charge_nc"] = b.charge_nc
    d["flags"] = b.flags
    d["amp_min"] = b.amp_min
    d["amp_max"] = b.amp_max
    if done > b.read + added:
        # Read back once, their record gone (a write torn by the reset).
        d["unrecorded"] = done - b.read - added
    pulselog.result(d)
    return d
