# Link requests of the amplifier side: electrode impedance checks and
# free-run EMG. The work loads at the first request (stimfw.amp.slot).
from stimfw.link import messages as m
from stimfw.stim.safety import STIMULATING


class AmpRequests:
    def __init__(self, link, hal, bd, supervisor, freerun):
        self.hal = hal
        self.bd = bd
        self.sup = supervisor
        self.freerun = freerun
        link.handle(m.MSG_IMPEDANCE, self.impedance)
        link.handle(m.MSG_FREERUN_START, self.freerun_start)
        link.handle(m.MSG_FREERUN_STOP, self.freerun_stop)

    def impedance(self, req, rid):
        # Refused while a run stimulates: the test signal would flow through
        # the patient during the stimulus run and into its recordings.
        from stimfw.amp.requests import impedance_request

        return impedance_request(self.hal, self.bd, self.sup.state == STIMULATING, req)

    def freerun_start(self, req, rid):
        return self.freerun.start(req, self.bd)

    def freerun_stop(self, req, rid):
        return self.freerun.stop()
