# The free-run EMG task's place in the main loop. The task's code (and the
# impedance check's) lives in stimfw.amp.requests and loads at the first
# request: loaded at boot it would take heap that bulk transfers need, on a
# unit that may never stream free-run EMG.


class FreeRunSlot:
    """Main-loop task: idle until free-run is first started."""

    def __init__(self, hal, push):
        self.hal = hal
        self.push = push
        self.task = None

    def _task(self):
        if self.task is None:
            from stimfw.amp.requests import FreeRunTask

            self.task = FreeRunTask(self.hal, self.push)
        return self.task

    def start(self, cfg, bd):
        return self._task().start(cfg, bd)

    def stop(self):
        return self._task().stop()

    def service(self):
        t = self.task
        return t is not None and t.service()

    def deadline_us(self):
        t = self.task
        return None if t is None else t.deadline_us()
