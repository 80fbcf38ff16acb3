# Link requests of the stimulation side: validate, plan, arm, start, stop,
# disarm, status, results, heartbeats and the safety event log. Every
# decision is the supervisor's; this layer only turns requests into calls
# and refusals into ERROR replies. ARM answers with the session token; ARM,
# START, HEARTBEAT and DISARM take it back as "token" (stim.safety: sessions);
# STOP takes it only to log who stopped.
import json
import struct

from stimfw.core.errors import ERR_NOT_FOUND, Refused
from stimfw.link import messages as m
from stimfw.stim.compiler import COLUMNS_NOTE, ROW, plan_rows
from stimfw.stim.safety import IDLE

PLAN_ROWS = 256  # rows of a plan held for PULL "plan" (36 B each)


class StimRequests:
    def __init__(self, link, bd, supervisor, sequencer, recorder, log, objects):
        self.link = link
        self.bd = bd
        self.sup = supervisor
        self.seq = sequencer
        self.rec = recorder
        self.log = log
        self.objects = objects
        objects.source("avg", recorder.wave)
        for mtype, fn in (
            (m.MSG_VALIDATE, self.validate),
            (m.MSG_PLAN, self.plan),
            (m.MSG_ARM, self.arm),
            (m.MSG_START, self.start),
            (m.MSG_STOP, self.stop),
            (m.MSG_DISARM, self.disarm),
            (m.MSG_STATUS, self.status),
            (m.MSG_RESULT, self.result),
            (m.MSG_HEARTBEAT, self.heartbeat),
            (m.MSG_EVENTS, self.events),
        ):
            link.handle(mtype, fn)
        link.handle(m.MSG_TRACE, self.trace, raw=True)

    def _checked(self, req):
        idle = self.sup.state == IDLE
        if idle:
            # The last run's recording set-up (its averages, MSG_PULL avg/)
            # goes before the new protocol is read, not after its set-ups
            # were built: kept through the checks, it left a 16-channel
            # free-run case at a 192k board heap without the block they
            # needed (docs/PERFORMANCE.md, Long case).
            self.rec.release()
        h, spec, figures = self.sup.validate(req)
        if idle:
            self.rec.check(spec)  # a run in progress holds the averaging memory
        return h, spec, figures

    def _summary(self, h, spec, figures):
        return {"hash": h, "type": spec["type"], "name": spec["name"], "figures": figures,
                "limits": self.bd.LIMITS["profile"]}

    def trace(self, payload, rid):
        """The last pulse read back: its monitor samples go out of the
        sequencer's buffer as they are (Link.ok_int16)."""
        s = self.seq
        if not s.trace_run:
            head = json.dumps({"run": None})
            n = 0
        else:
            o = self.bd.OUTPUTS[s.trace_out]
            n = s.trace_n
            head = json.dumps({"run": s.trace_run, "pulse": s.trace_pulse, "out": s.trace_out,
                               "rate_hz": self.bd.MONITOR_RATE_HZ, "ua_lsb": o["mon_ua_lsb"],
                               "mv_lsb": o["mon_mv_lsb"], "pre": self.bd.MONITOR_PRE_SAMPLES, "n": n})
        head = struct.pack("<H", len(head)) + head.encode()
        self.link.ok_int16(rid, m.MSG_TRACE, head, s.mon, 2 * n)

    def validate(self, req, rid):
        return self._summary(*self._checked(req))

    def plan(self, req, rid):
        # The last plan's rows (up to 9 KB in one block) are let go first:
        # if the new ones find no room, the collection the allocation then
        # runs can free them.
        self.objects.put("plan", b"")
        h, spec, figures = self._checked(req)
        rows = plan_rows(spec, PLAN_ROWS)
        self.objects.put("plan", rows)
        d = self._summary(h, spec, figures)
        d["rows"] = len(rows) // 36
        d["row_format"] = ROW
        d["columns"] = COLUMNS_NOTE
        outs = self.bd.OUTPUTS
        d["unit"] = [outs[s["out"]]["kind"] == "CV" and "mV" or "uA" for s in spec["streams"]]
        return d

    def arm(self, req, rid):
        token = self.sup.arm(req.get("hash"), req.get("token"))
        d = self.sup.status()
        d["token"] = token
        return d

    def start(self, req, rid):
        run = self.sup.start(req.get("baseline") is True, req.get("token"))
        return {"run": run, "state": self.sup.state}

    def stop(self, req, rid):
        self.sup.stop(token=req.get("token"))
        return self.sup.status()

    def disarm(self, req, rid):
        self.sup.disarm(token=req.get("token"))
        return self.sup.status()

    def status(self, req, rid):
        d = self.sup.status()
        r = self.seq.run or self.seq.last
        d["run"] = r.summary() if r is not None else None
        return d

    def result(self, req, rid):
        r = self.seq.result(req.get("run"))
        if r is None:
            raise Refused(ERR_NOT_FOUND, "no run %r" % (req.get("run"),))
        rec = self.rec.results(r["run"])
        if rec is not None:
            r["recording"] = rec
        return r

    def heartbeat(self, req, rid):
        self.sup.heartbeat(req.get("token"))
        return {"state": self.sup.state}

    def events(self, req, rid):
        if req.get("ack") is not None:  # lets the unit reuse the records' room
            self.sup.owner_check(req.get("token"), "ack")
        return self.log.request(req)
