# Wires the amplifier-side monitoring into the app: electrode impedance
# checks and free-run EMG (link requests MSG_IMPEDANCE, MSG_FREERUN_START,
# MSG_FREERUN_STOP, and the free-run main-loop task). Needs from the app:
# hal, link, tasks, supervisor: call register(app) after
# stimulation.register(app).
#
# The work lives in stimfw.amp.requests, imported at the first request:
# loaded at boot its code would take heap that bulk transfers need, on a
# unit that may never check an impedance.
import board

from stimfw.link import messages as m


class _FreeRunSlot:
    """The main-loop task's place: idle until free-run is first started."""

    def __init__(self):
        self.task = None

    def service(self):
        t = self.task
        return t is not None and t.service()

    def deadline_us(self):
        t = self.task
        return None if t is None else t.deadline_us()


def register(app, bd=board):
    hal = app.hal
    link = app.link
    sup = getattr(app, "supervisor", None)
    slot = _FreeRunSlot()
    app.tasks.append(slot)
    app.freerun = slot

    def task():
        if slot.task is None:
            from stimfw.amp.requests import FreeRunTask

            slot.task = FreeRunTask(hal, link.push)
        return slot.task

    def check(req, rid):
        from stimfw.amp.requests import impedance_request

        return impedance_request(hal, bd, sup, req)

    def start(req, rid):
        return task().start(req, bd)

    def stop(req, rid):
        return task().stop()

    link.handle(m.MSG_IMPEDANCE, check)
    link.handle(m.MSG_FREERUN_START, start)
    link.handle(m.MSG_FREERUN_STOP, stop)
