# Link request for the unit's journal (stimfw.core.journal): every record
# (events, per-pulse records, run results) by sequence number, one bounded
# page per reply, and the host's acknowledgement of what it has stored
# (the session's alone while a host holds one: stim.safety).
from stimfw.link import messages as m


class RecordRequests:
    def __init__(self, link, log, supervisor):
        self.log = log  # stimfw.stim.eventlog.EventLog: pages of the journal
        self.sup = supervisor
        link.handle(m.MSG_RECORDS, self.records)

    def records(self, req, rid):
        """{"ack": seq, "since": seq, "token"} all optional: acknowledges
        first, then the records after since (default: the acknowledged seq)."""
        if req.get("ack") is not None:  # lets the unit reuse the records' room
            self.sup.owner_check(req.get("token"), "ack")
        j = self.log.journal
        j.ack(req.get("ack"))
        since = req.get("since")
        if not isinstance(since, int) or isinstance(since, bool):
            since = j.acked
        recs, upto = self.log.page(since)
        return {"records": recs, "next": upto, "more": upto < j.seq, "first_seq": j.first(),
                "last_seq": j.seq, "acked": j.acked, "lost": j.lost}
