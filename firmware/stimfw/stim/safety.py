# The safety supervisor: the unit's state machine and the only way into and
# out of stimulation.
#
#   IDLE --arm(hash of the validated protocol, interlock closed)--> ARMED
#   ARMED --start--> STIMULATING --run done / stop--> ARMED
#   ARMED|STIMULATING --disarm, interlock open, heartbeat lapse,
#                       repeated output flags--> IDLE   (output ended first)
#   any --e-stop--> FAULT --e-stop released, disarm--> IDLE
#
# service() is the main loop's first task: it polls the e-stop, the interlock
# and the host heartbeat (wall clock) every pass, so a stop acts within one
# pass, and every pass is bounded well under a pulse period. Stop, e-stop and
# the watchdog end output through hal.abort() and hal.outputs_off() before
# anything else happens.
#
# Sessions: the host that ARMs gets a token (random, 64 bits) and a short id
# ("s3"). Until the unit disarms (for any reason: command, interlock,
# heartbeat loss, output fault, e-stop, firmware fault) only a request
# carrying that token may ARM, START, HEARTBEAT or DISARM; any other is
# refused (ERR_NOT_OWNER) with the owner's id and age (ms since its last
# heartbeat). STOP and the e-stop stay open to anyone: stopping never needs
# permission. Acknowledging journal records (which lets the unit reuse their
# room) is the session's too while one is held, and open to any host when
# none is, so a host that follows a killed one can read and acknowledge.
# Every control request goes into the event log with the requester's short
# id (None without the token), never the token.
#
# Heartbeats count from when the unit handles them, and only while the
# session has not lapsed already: a heartbeat that sat in the input queue
# while the loop stalled past the limit revives nothing, and the next pass
# ends the run.
from binascii import hexlify

from stimfw.core import errors as err
from stimfw.stim import limits, protocol

IDLE = "IDLE"
ARMED = "ARMED"
STIMULATING = "STIMULATING"
FAULT = "FAULT"


class Supervisor:
    def __init__(self, hal, bd, log, sequencer):
        self.hal = hal
        self.bd = bd
        self.log = log
        self.seq = sequencer
        self.state = IDLE
        # (hash, spec) of the last validated protocol: its figures go out in
        # the reply and are not kept (a long case's heap keeps nothing a
        # request made that it does not need).
        self.validated = None
        self.armed = None  # the same pair, frozen at ARM
        self.heartbeat_ms = bd.LIMITS["heartbeat_ms"]
        self.last_hb = 0
        self.session = None  # (token, short id) of the host that armed, until disarm
        self.sessions = 0  # sessions opened since boot: the short ids
        self.hb_refused = 0  # heartbeats refused during the current session

    # --- sessions -----------------------------------------------------------
    def _new_token(self):
        try:
            import os

            raw = os.urandom(8)
        except (ImportError, AttributeError, OSError):
            import random

            t = self.hal.ticks_us()
            raw = bytes((random.getrandbits(8) ^ (t >> (8 * (i & 3)))) & 0xFF for i in range(8))
        return hexlify(raw).decode()

    def sid(self, token):
        """The short id of the session this token opened, or None."""
        s = self.session
        if s is not None and isinstance(token, str) and token == s[0]:
            return s[1]
        return None

    def owner_age_ms(self):
        return self.hal.ticks_diff(self.hal.wall_ms(), self.last_hb)

    def owner_check(self, token, what):
        """Refuse what unless the token is the session's (or none is held)."""
        s = self.session
        if s is None or self.sid(token) is not None:
            return
        age = self.owner_age_ms()
        if what == "heartbeat":
            self.hb_refused += 1
            if self.hb_refused == 1:
                self.log.record("heartbeat_refused", session=None, owner=s[1], owner_age_ms=age)
        else:
            self.log.record(what + "_refused", reason="not_owner", session=None, owner=s[1],
                            owner_age_ms=age)
        raise err.Refused(err.ERR_NOT_OWNER,
                           "session: the unit is held by session %s (last heartbeat %d ms ago); "
                           "%s needs its token" % (s[1], age, what.upper()),
                           {"owner": s[1], "owner_age_ms": age, "request": what})

    def _release(self):
        s = self.session
        self.session = None
        return s[1] if s is not None else None

    # --- requests -----------------------------------------------------------
    def validate(self, wire):
        spec = protocol.normalise(wire, self.bd)
        figures = limits.check(spec, self.bd)
        h = protocol.spec_hash(spec, self.bd.LIMITS["profile"])
        self.validated = (h, spec)
        return h, spec, figures

    def arm(self, h, token=None):
        self.owner_check(token, "arm")
        if self.state != IDLE:
            raise err.Refused(err.ERR_STATE, "arm needs IDLE, unit is %s" % self.state)
        if self.hal.estop_pressed():
            raise err.Refused(err.ERR_INTERLOCK, "emergency stop is pressed")
        if not self.hal.interlock_closed():
            self.log.record("arm_refused", reason="interlock_open")
            raise err.Refused(err.ERR_INTERLOCK, "the interlock is open: close it to arm")
        if self.validated is None or not isinstance(h, str) or h != self.validated[0]:
            raise err.Refused(err.ERR_NOT_FOUND,
                               "hash %r is not the last validated protocol" % (h,),
                               {"validated": self.validated[0] if self.validated else None})
        self.armed = self.validated
        self.last_hb = self.hal.wall_ms()
        self.state = ARMED
        self.sessions += 1
        token = self._new_token()
        self.session = (token, "s%d" % self.sessions)
        self.hb_refused = 0
        self.log.record("armed", hash=h, session=self.session[1])
        return token

    def start(self, baseline=False, token=None):
        self.owner_check(token, "start")
        if self.state != ARMED:
            self.log.record("start_refused", reason="state", state=self.state, session=self.sid(token))
            raise err.Refused(err.ERR_STATE, "start needs ARMED, unit is %s" % self.state)
        run = self.seq.start(self.armed[1], self.armed[0], baseline)
        self.state = STIMULATING
        self.log.record("started", run=run, session=self.sid(token))
        return run

    def stop(self, reason="stop_command", token=None):
        """End output now; an armed unit stays armed. Anyone may stop."""
        run = None
        if self.state == STIMULATING:
            self._end_output()
            run = self.seq.run.id if self.seq.run is not None else None
            self.seq.abort(reason)
            self.state = ARMED
        self.log.record("stopped", reason=reason, run=run, session=self.sid(token))

    def disarm(self, reason="disarm_command", token=None):
        if reason == "disarm_command":
            self.owner_check(token, "disarm")
        sid = self.session[1] if self.session is not None else None
        if self.state == FAULT:
            if self.hal.estop_pressed():
                self.log.record("disarm_refused", reason="estop_pressed", session=self.sid(token))
                raise err.Refused(err.ERR_STATE, "e-stop: release the emergency stop first")
            self.log.record("fault_cleared")
        elif self.state == STIMULATING:
            self._end_output()
            self.seq.abort(reason)
        if self.state != IDLE or reason == "disarm_command":
            self.log.record("disarmed", reason=reason, session=sid)
        self.state = IDLE
        self.armed = None
        self._release()
        self.hal.outputs_off()

    def heartbeat(self, token=None):
        """The session's host is alive. Counts from now, unless the session
        had already lapsed (a heartbeat that waited in the input queue while
        the loop stalled must not extend a run): the next pass ends it."""
        self.owner_check(token, "heartbeat")
        if self.session is None:
            return
        now = self.hal.wall_ms()
        if self.hal.ticks_diff(now, self.last_hb) <= self.heartbeat_ms:
            self.last_hb = now

    def firmware_fault(self, text):
        """The main loop caught an exception: whatever ran is stopped (the
        app already ended output) and the unit goes to FAULT, which only a
        DISARM clears, so nobody restarts stimulation without looking."""
        if self.state == STIMULATING:
            self.seq.abort("firmware_fault")
        self.state = FAULT
        self.armed = None
        self.log.record("firmware_fault", error=text, session=self._release())

    def output_fault(self, detail):
        """Repeated delivery flags: end the run and disarm."""
        self.log.record("output_fault", **detail)
        self.disarm("output_fault")

    # --- main-loop task -----------------------------------------------------
    def _end_output(self):
        self.hal.abort()
        self.hal.outputs_off()

    def deadline_us(self):
        return None  # polls every pass; waits for nothing on the timeline

    def service(self):
        hal = self.hal
        if hal.estop_pressed():
            if self.state == FAULT:
                return False
            self._end_output()
            if self.state == STIMULATING:
                self.seq.abort("estop")
            self.state = FAULT
            self.armed = None
            self.log.record("estop", session=self._release())
            return True
        if self.state != ARMED and self.state != STIMULATING:
            return False
        if self.state == STIMULATING:
            # What the sequencer left for this pass: output that failed, or
            # a run that ended on its own.
            fault = self.seq.take_fault()
            if fault is not None:
                self.output_fault(fault)
                return True
            if self.seq.take_ended():
                self.state = ARMED
                return True
        if not hal.interlock_closed():
            self.disarm("interlock_open")
            return True
        if hal.ticks_diff(hal.wall_ms(), self.last_hb) > self.heartbeat_ms:
            self.disarm("heartbeat_lost")
            return True
        return False

    def status(self):
        return {
            "state": self.state,
            "armed": self.armed[0] if self.armed else None,
            "validated": self.validated[0] if self.validated else None,
            "interlock": self.hal.interlock_closed(),
            "estop": self.hal.estop_pressed(),
            "heartbeat_ms": self.heartbeat_ms,
            "session": self.session[1] if self.session is not None else None,
            "session_age_ms": self.owner_age_ms() if self.session is not None else None,
        }
