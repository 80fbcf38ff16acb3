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
        self.validated = None  # (hash, spec, figures) of the last validated protocol
        self.armed = None  # the same triple, frozen at ARM
        self.heartbeat_ms = bd.LIMITS["heartbeat_ms"]
        self.last_hb = 0

    # --- requests -----------------------------------------------------------
    def validate(self, wire):
        spec = protocol.normalise(wire, self.bd)
        figures = limits.check(spec, self.bd)
        h = protocol.spec_hash(spec, self.bd.LIMITS["profile"])
        self.validated = (h, spec, figures)
        return h, spec, figures

    def arm(self, h):
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
        self.log.record("armed", hash=h)

    def start(self, baseline=False):
        if self.state != ARMED:
            raise err.Refused(err.ERR_STATE, "start needs ARMED, unit is %s" % self.state)
        run = self.seq.start(self.armed[1], self.armed[0], baseline)
        self.state = STIMULATING
        return run

    def stop(self, reason="stop_command"):
        """End output now; an armed unit stays armed."""
        if self.state == STIMULATING:
            self._end_output()
            self.seq.abort(reason)
            self.state = ARMED
            self.log.record("stopped", reason=reason)

    def disarm(self, reason="disarm_command"):
        if self.state == FAULT:
            if self.hal.estop_pressed():
                raise err.Refused(err.ERR_STATE, "release the emergency stop first")
            self.log.record("fault_cleared")
        elif self.state == STIMULATING:
            self._end_output()
            self.seq.abort(reason)
        if self.state != IDLE:
            self.state = IDLE
            self.armed = None
            if reason != "disarm_command":
                self.log.record("disarmed", reason=reason)
        self.hal.outputs_off()

    def heartbeat(self):
        self.last_hb = self.hal.wall_ms()

    def firmware_fault(self, text):
        """The main loop caught an exception: whatever ran is stopped (the
        app already ended output) and the unit goes to FAULT, which only a
        DISARM clears, so nobody restarts stimulation without looking."""
        if self.state == STIMULATING:
            self.seq.abort("firmware_fault")
        self.state = FAULT
        self.armed = None
        self.log.record("firmware_fault", error=text)

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
            self.log.record("estop")
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
        }
