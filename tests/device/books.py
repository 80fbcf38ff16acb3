# Device side of tests/test_journal_mp.py: records that span several journal
# slots, and the boot reconciliation of a run whose firmware ended without
# closing its books, with a test HAL that counts the pulses it fired and
# one that keeps no count. One scenario per function, named by the first
# argument; it prints one JSON value.
import json

import board
import devargs
from loadmodel import Host, LoadHal
from stimfw import app as appmod
from stimfw.core import journal as jn
from stimfw.core.journal import Journal
from stimfw.link import messages as m
from stimfw.stim.eventlog import EventLog

SSEP = {"type": "ssep", "count": 60, "rate_hz": 5.1,
        "sites": [{"site": "l_median", "amp_ua": 30000, "width_us": 300},
                  {"site": "r_median", "amp_ua": 30000, "width_us": 300}]}


def pages(log, since=0):
    out = []
    while True:
        recs, upto = log.page(since)
        out.append(recs)
        if upto >= log.journal.seq:
            return out
        since = upto


def long_records():
    j = Journal("parts.bin", 64, 128)
    log = EventLog(lambda: 7, None, j)
    log.record("short", k=1)
    # A result far longer than a slot, with characters that take two and
    # three bytes in UTF-8 wherever the text has to be cut.
    trace = [[k * 500, k * 7 + 0.5, "\u00b5V\u2192"] for k in range(60)]
    seq = j.append_json(jn.KIND_RESULT, {"run": 3, "search": {"trace": trace}, "outcome": "complete"})
    log.record("after", k=2)
    queued = pages(log)  # while the parts still wait in the write queue
    j.flush()
    # Too long for MAX_PARTS slots (4.9 KB of text against 1.9 KB): the
    # largest value goes, named.
    huge = j.append_json(jn.KIND_RESULT, {"run": 4, "big": list(range(1000)), "small": [1, 2]})
    j.flush()
    j2 = Journal("parts.bin", 64, 128)  # reopened: everything from the file
    log2 = EventLog(lambda: 7, None, j2)
    flash = pages(log2)
    events = log2.request({"since": 0})
    # A page that starts inside a record: the parts before it cannot be joined.
    inside = log2.page(seq + 1)[0]
    # A crash while the parts were written: the fourth part's slot never was.
    j2.f.seek((1 + (seq + 3) % 64) * 128)
    j2.f.write(bytes(12))
    j2.f.flush()
    torn = log2.page(seq - 1)[0]
    return {"seq": seq, "huge": huge, "trace": trace, "slots": j2.seq, "payload_max": j2.payload_max,
            "queued": queued, "flash": flash, "events": events, "inside": inside, "torn": torn}


def started(hal):
    """Pulses of the timeline in a LoadHal's hands whose start its clock (or
    its abort) has passed: what its output stage fired of it."""
    if hal.rows is None:
        return 0
    t = hal.abort_us if hal.abort_us is not None else hal.t_us
    n = 0
    for r in hal.rows:
        if hal.ticks_diff(t, hal.ticks_add(hal.start_us, r[0])) >= 0:
            n += 1
    return n


class CountingLoad(LoadHal):
    """The resistor-load HAL whose output stage also counts the pulses it
    started (modulo 2**16), as hardware that outlives the firmware would."""

    def __init__(self, bd, count=0, cause=("crash", "test")):
        LoadHal.__init__(self, bd)
        self.count = count
        self.cause = cause

    def fire(self, timeline, start_us):
        self.count += started(self)
        LoadHal.fire(self, timeline, start_us)

    def fired_count(self):
        return (self.count + started(self)) & 0xFFFF

    def reset_cause(self):
        return self.cause


class NoCount(LoadHal):
    def reset_cause(self):
        return "crash", "test"


def crashed_run(counting):
    """Run an SSEP part way, let the output stage go on firing its segment
    with the firmware dead, and boot again on the same journal."""
    hal = CountingLoad(board) if counting else NoCount(board)
    app = appmod.App(hal, board)
    host = Host(app)
    host.ok(m.MSG_ARM, {"hash": host.ok(m.MSG_VALIDATE, SSEP)["hash"]})
    host.ok(m.MSG_START, {})
    host.steps(30)  # some segments read back, one in progress
    segs = len(hal.fires)
    # The firmware dies here (nothing more is written); the hardware fires
    # the rest of the segment in hand.
    hal.t_us = hal.end_us
    fired = sum(len(rows) for _s, rows in hal.fires[:-1]) + started(hal)
    if counting:
        hal2 = CountingLoad(board, hal.fired_count(), ("watchdog", None))
    else:
        hal2 = NoCount(board)
    app2 = appmod.App(hal2, board)
    host2 = Host(app2)
    recs = []
    since = 0
    while True:
        page = host2.ok(m.MSG_RECORDS, {"since": since})
        recs.extend(page["records"])
        if not page["more"]:
            break
        since = page["next"]
    return {"segments": segs, "fired": fired, "seg_pulses": [len(rows) for _s, rows in hal.fires],
            "records": recs, "state": host2.ok(m.MSG_STATUS, {})["state"],
            "run_seq": app2.journal.run_seq}


def unsynced():
    """A journal that never flushes (the simulated unit's, board.JOURNAL_SYNC):
    what it wrote is in the file for the next boot's journal all the same,
    while the writer still holds it open, as a killed firmware leaves it."""
    j = Journal("nosync.bin", 16, 128, sync=False)
    log = EventLog(lambda: 7, None, j)
    for k in range(5):
        log.record("step", k=k)
    j.flush()  # puts the queue in the file; with sync False, no fsync
    j2 = Journal("nosync.bin", 16, 128)
    return {"board_sync": board.JOURNAL_SYNC, "written": j.seq,
            "read": [[r["seq"], r["kind"], r.get("k")] for r in pages(EventLog(lambda: 7, None, j2))[0]]}


SCENARIOS = {"long_records": long_records, "crashed_run": crashed_run, "unsynced": unsynced}
print(json.dumps(SCENARIOS[devargs.arg(0)](*devargs.data([]))))
