# The firmware's cooperative main loop.
#
# Each pass services, in this order of priority:
#   1. safety   - e-stop, interlock and heartbeat checks; can end output
#                 (stimfw.safety.Supervisor, always the first task)
#   2. tasks    - the sequencer, then acquisition and DSP steps, each doing
#                 one bounded unit of work
#   3. link in  - at most one budget of host bytes, dispatching requests
#   4. link out - at most one bulk chunk to the host
# and idles in the console wait when nothing was done. Pulse edges never
# depend on this loop: the HAL runs compiled timelines in hardware (or in
# virtual time on the simulated unit), so a slow pass delays reporting, not
# stimulation. Every step is bounded so that a pass stays well under the
# shortest pulse period, which bounds how late a stop can act.
import gc

import board

from stimfw.core import arena

# First, while the heap is still one free run: the DSP arena (sweep buffers
# and averaging sums need long contiguous blocks; see stimfw/core/arena.py).
arena.reserve(board.DSP_ARENA_BYTES)

import hal as board_hal  # noqa: E402

from stimfw.link import messages as m  # noqa: E402
from stimfw.link.endpoint import Link  # noqa: E402
from stimfw.link.handlers import amp as monitoring  # noqa: E402
from stimfw.link.handlers import stim as stimulation  # noqa: E402
from stimfw.link.handlers import system as commands  # noqa: E402

IDLE_WAIT_MS = 2


class App:
    def __init__(self, hal, slot=None):
        self.hal = hal
        self.slot = slot
        self.link = Link(hal.console)
        self.tasks = []  # objects with service() -> bool, highest priority first
        self.boot_ms = hal.ticks_ms()
        self.reboot_requested = False
        # Each feature module adds its link requests and main-loop tasks;
        # stimulation puts the safety supervisor first among the tasks.
        commands.register(self)
        stimulation.register(self)
        monitoring.register(self)

    def uptime_ms(self):
        return self.hal.ticks_diff(self.hal.ticks_ms(), self.boot_ms)

    def step(self):
        """One pass of the main loop; True if anything was done."""
        busy = False
        for t in self.tasks:
            if t.service():
                busy = True
        if self.link.poll():
            busy = True
        if self.link.service():
            busy = True
        return busy

    def deadline_us(self):
        """The earliest timeline deadline a task waits for, or None: the
        simulated unit may jump its clock there while nothing else happens."""
        hal = self.hal
        best = None
        for t in self.tasks:
            fn = getattr(t, "deadline_us", None)
            d = fn() if fn is not None else None
            if d is not None and (best is None or hal.ticks_diff(d, best) < 0):
                best = d
        return best

    def fault(self, e):
        """An exception escaped a step (a firmware bug, or the heap ran out).
        Output ends and the unit disarms first; then the event is logged and
        the loop goes on, so the host can still read what happened."""
        hal = self.hal
        hal.abort()
        hal.outputs_off()
        sup = getattr(self, "supervisor", None)
        if sup is not None:
            sup.firmware_fault("%s: %s" % (type(e).__name__, e))
        gc.collect()

    def run(self):
        link = self.link
        hal = self.hal
        hal.console.start()
        try:
            link.push(m.PUSH_BOOT, commands.identity())
            while not link.interrupted:
                try:
                    if not self.step():
                        if self.reboot_requested:
                            break
                        hal.idle(IDLE_WAIT_MS, self.deadline_us())
                except Exception as e:  # the unit must stay reachable
                    self.fault(e)
        finally:
            # Whatever ended the loop (an interrupt from the host, a bug),
            # outputs go to their safe state before the REPL gets the console.
            hal.outputs_off()
            hal.console.stop()
        if self.reboot_requested:
            hal.reset()
        print("\r\nStimBox: interrupted by the host; outputs off, REPL follows")


def main(slot=None):
    gc.collect()
    App(board_hal.Hal(), slot).run()
