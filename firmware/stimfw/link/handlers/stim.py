# Wires the stimulation side into the app: the safety supervisor (first task
# of the main loop), the sequencer (a later task), the safety event log, and
# their link requests. Needs from the app: hal, link, tasks, objects (the
# PULL table of commands.register). Call register(app) after
# commands.register(app).
import board

from stimfw.link import messages as m
from stimfw.link.endpoint import RequestError
from stimfw.record.recording import Recorder
from stimfw.stim.compiler import COLUMNS_NOTE, ROW, plan_rows
from stimfw.stim.eventlog import EventLog
from stimfw.stim.safety import IDLE, Supervisor
from stimfw.stim.sequencer import Sequencer

PLAN_ROWS = 256  # rows of a plan held for PULL "plan" (36 B each)


def _summary(h, spec, figures):
    return {"hash": h, "type": spec["type"], "name": spec["name"], "figures": figures,
            "limits": board.LIMITS["profile"]}


def register(app, bd=board):
    hal = app.hal
    link = app.link
    log = EventLog(hal.wall_ms, link.push)
    seq = Sequencer(hal, bd, link.push)
    sup = Supervisor(hal, bd, log, seq)
    rec = Recorder(hal, bd, link.push, log)
    seq.supervisor = sup
    seq.recorder = rec
    app.tasks.insert(0, sup)  # safety first, every pass
    app.tasks.append(seq)
    app.tasks.append(rec)
    app.supervisor = sup
    app.sequencer = seq
    app.recorder = rec
    app.object_sources["avg"] = rec.wave
    app.eventlog = log

    def checked(req):
        h, spec, figures = sup.validate(req)
        if sup.state == IDLE:
            rec.check(spec)  # a run in progress holds the averaging memory
        return h, spec, figures

    def validate(req, rid):
        return _summary(*checked(req))

    def plan(req, rid):
        h, spec, figures = checked(req)
        rows = plan_rows(spec, PLAN_ROWS)
        app.objects["plan"] = rows
        d = _summary(h, spec, figures)
        d["rows"] = len(rows) // 36
        d["row_format"] = ROW
        d["columns"] = COLUMNS_NOTE
        d["unit"] = [bd.OUTPUTS[s["out"]]["kind"] == "CV" and "mV" or "uA"
                     for s in spec["streams"]]
        return d

    def arm(req, rid):
        sup.arm(req.get("hash"))
        return sup.status()

    def start(req, rid):
        return {"run": sup.start(req.get("baseline") is True), "state": sup.state}

    def stop(req, rid):
        sup.stop()
        return sup.status()

    def disarm(req, rid):
        sup.disarm()
        return sup.status()

    def status(req, rid):
        d = sup.status()
        r = seq.run or seq.last
        d["run"] = r.summary() if r is not None else None
        return d

    def result(req, rid):
        r = seq.result(req.get("run"))
        if r is None:
            raise RequestError(m.ERR_NOT_FOUND, "no run %r" % (req.get("run"),))
        if rec.results.get("run") == r["run"]:
            r["recording"] = rec.results
        return r

    def heartbeat(req, rid):
        sup.heartbeat()
        return {"state": sup.state}

    def events(req, rid):
        return log.request(req)

    link.handle(m.MSG_VALIDATE, validate)
    link.handle(m.MSG_PLAN, plan)
    link.handle(m.MSG_ARM, arm)
    link.handle(m.MSG_START, start)
    link.handle(m.MSG_STOP, stop)
    link.handle(m.MSG_DISARM, disarm)
    link.handle(m.MSG_STATUS, status)
    link.handle(m.MSG_RESULT, result)
    link.handle(m.MSG_HEARTBEAT, heartbeat)
    link.handle(m.MSG_EVENTS, events)
    return sup
