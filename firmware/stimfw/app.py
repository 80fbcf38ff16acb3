# The firmware's parts, built and wired here and nowhere else, and the
# cooperative main loop that runs them.
#
# Each pass services, in this order of priority:
#   1. safety   - e-stop, interlock and heartbeat checks, and what the
#                 sequencer left for it (a run ended, output failed); can end
#                 output (stim.safety.Supervisor)
#   2. sequencer- reads back each pulse as it ends, hands the next segment
#                 to the HAL (stim.sequencer.Sequencer)
#   3. recording- one sweep's acquisition, filtering and averaging
#                 (record.recording.Recorder)
#   4. free-run - one block of free-run EMG (amp.slot.FreeRunSlot)
#   5. journal  - at most WRITE_BUDGET slots of queued records to flash
#                 (stimfw.core.journal), and the unit's state when it changed
#   6. link in  - at most one budget of host bytes, dispatching requests
#   7. link out - at most one bulk chunk to the host
# and idles in the console wait when nothing was done. Every pass feeds the
# hardware watchdog (board.WATCHDOG_MS) first. Pulse edges never
# depend on this loop: the HAL runs compiled timelines in hardware (or in
# virtual time on the simulated unit), so a slow pass delays reporting, not
# stimulation. Every step is bounded so that a pass stays well under the
# shortest pulse period, which bounds how late a stop can act.
#
# Layers, each importing only from those below it:
#   link (codec, endpoint, handlers) -> stim, amp -> record -> dsp -> core
import gc

import board

from stimfw.core import arena

# First, while the heap is still one free run: the DSP arena (sweep buffers
# and averaging sums need long contiguous blocks; see stimfw/core/arena.py).
arena.reserve(board.DSP_ARENA_BYTES)

import hal as board_hal  # noqa: E402

from stimfw.amp.slot import FreeRunSlot  # noqa: E402
from stimfw.core.journal import PATH as JOURNAL_PATH  # noqa: E402
from stimfw.core.journal import Journal  # noqa: E402
from stimfw.core.notices import PUSH_BOOT  # noqa: E402
from stimfw.link.endpoint import Link  # noqa: E402
from stimfw.link.handlers.amp import AmpRequests  # noqa: E402
from stimfw.link.handlers.records import RecordRequests  # noqa: E402
from stimfw.link.handlers.stim import StimRequests  # noqa: E402
from stimfw.link.handlers.system import SystemRequests, identity  # noqa: E402
from stimfw.link.objects import Objects  # noqa: E402
from stimfw.record.recording import Recorder  # noqa: E402
from stimfw.stim.eventlog import EventLog  # noqa: E402
from stimfw.stim.pulselog import PulseLog  # noqa: E402
from stimfw.stim.safety import Supervisor  # noqa: E402
from stimfw.stim.sequencer import Sequencer  # noqa: E402

# What requests and runs import where they use it loads here too, at boot,
# while the heap is still in few pieces: a module imported mid-case (its
# objects, and the next doubling of the qstr table, several KB in one block)
# can find no room left in a heap that free-run and runs have fragmented
# (seen: a tEMG run's results failing to load the measurements).
for _name in ("stimfw.amp.requests", "stimfw.amp.freerun", "stimfw.amp.impedance",
              "stimfw.dsp.design", "stimfw.record.acquisition", "stimfw.record.measure",
              "stimfw.record.mep", "stimfw.stim.detect",
              "stimfw.stim.stepping"):
    __import__(_name)
del _name

IDLE_WAIT_MS = 2


class App:
    def __init__(self, hal, bd, slot=None, journal_path=JOURNAL_PATH):
        self.hal = hal
        self.bd = bd
        self.slot = slot
        self.boot_ms = hal.ticks_ms()
        self.link = link = Link(hal.console)
        push = link.push
        # The journal first: it says how the last boot ended.
        self.journal = journal = Journal(journal_path, bd.JOURNAL_SLOTS, bd.JOURNAL_SLOT_BYTES,
                                         bd.JOURNAL_SYNC)
        self.log = log = EventLog(hal.wall_ms, push, journal)
        cause, detail = hal.reset_cause()
        before = journal.last_state
        self.reset = {"cause": cause, "detail": detail, "before": before}
        log.record("boot", cause=cause, detail=detail, before=before)
        pulselog = PulseLog(journal)
        if journal.run_seq:
            # The last boot left a run's books open: journal what the output
            # stage fired that it never read back. Loaded only then, so it
            # costs an ordinary boot no heap.
            from stimfw.stim.reconcile import reconcile

            reconcile(journal, pulselog, log, hal, cause, detail)
        pulselog.push = push  # what the reconciliation journaled is not news to a host
        # Reading the journal (every slot's header, and at a reconciliation
        # the run's records) left garbage all through the heap: collect it
        # before the long-lived parts are built, so they fill its holes
        # instead of splitting what a reply needs later (at 200k on a 32-bit
        # runtime the unit could not build an INFO reply without this).
        gc.collect()
        recorder = Recorder(hal, bd, push, log)
        self.sequencer = sequencer = Sequencer(hal, bd, push, recorder, pulselog)
        self.supervisor = supervisor = Supervisor(hal, bd, log, sequencer)
        freerun = FreeRunSlot(hal, push)
        # The main loop's tasks, highest priority first (see the top).
        self.tasks = (supervisor, sequencer, recorder, freerun)
        self.objects = objects = Objects()  # what MSG_PULL can fetch
        self.longest_pass_ms = 0  # the longest main-loop pass since boot (info)
        self.system = SystemRequests(link, hal, bd, self.uptime_ms, objects, self.longest_pass)
        StimRequests(link, bd, supervisor, sequencer, recorder, log, objects)
        AmpRequests(link, hal, bd, supervisor, freerun)
        RecordRequests(link, log, supervisor)
        self._state = None
        self._run = None
        self._note_state()

    def _note_state(self):
        """Keep the unit's state in the journal's header when it changed,
        for the next boot to report what the unit was doing."""
        st = self.supervisor.state
        r = self.sequencer.run
        rid = r.id if r is not None else None
        if st is self._state and rid == self._run:
            return False
        self._state = st
        self._run = rid
        self.journal.set_state(st if rid is None else "%s run %d" % (st, rid))
        return True

    def longest_pass(self):
        return self.longest_pass_ms

    def uptime_ms(self):
        return self.hal.ticks_diff(self.hal.ticks_ms(), self.boot_ms)

    def step(self):
        """One pass of the main loop; True if anything was done."""
        busy = False
        for t in self.tasks:
            if t.service():
                busy = True
        if self.journal.service():
            busy = True
        self._note_state()
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
            d = t.deadline_us()
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
        self.supervisor.firmware_fault("%s: %s" % (type(e).__name__, e))
        gc.collect()

    def _closing(self, kind, error):
        """The firmware is ending: log why, with the state it ended in, and
        put every queued record on flash."""
        try:
            st = self.journal.last_state
            if self.sequencer.run is not None:
                # Close the run's books: the pulses that went out are read
                # back into the journal, with its result.
                self.hal.abort()
                self.sequencer.abort(kind)
            if error is None:
                self.log.record(kind, state=st)
            else:
                self.log.record(kind, state=st, error=error)
            self.journal.close()
            self.journal.flush()
        except Exception as e:  # the journal must not keep the REPL away
            print("StimBox: journal: %r" % (e,))

    def run(self):
        link = self.link
        hal = self.hal
        # Collect after every quarter of the free heap is allocated, not only
        # when the heap runs out: left to fill the whole heap, garbage
        # interleaves with what lives on, which then lies scattered, and a
        # later block of a few KB (a run's set-up, or the next table of
        # MicroPython's interned names when a lazily loaded module needs
        # one) finds no room in a heap that is mostly free.
        gc.collect()
        gc.threshold(gc.mem_free() // 4)
        hal.console.start()
        try:
            boot = identity(self.bd)
            boot["reset"] = self.reset
            boot["seq"] = self.journal.seq
            link.push(PUSH_BOOT, boot)
            # The hardware watchdog: a pass that does not come back within
            # WATCHDOG_MS stops the outputs and resets the board.
            hal.start_watchdog(self.bd.WATCHDOG_MS)
            while not link.interrupted:
                t = hal.wall_ms()
                hal.feed_watchdog()
                try:
                    if not self.step():
                        if self.system.reboot_requested:
                            break
                        hal.idle(IDLE_WAIT_MS, self.deadline_us())
                except Exception as e:  # the unit must stay reachable
                    self.fault(e)
                # A pass near the heartbeat limit ends runs: info reports
                # the longest, so a slow pass shows before it does harm.
                t = hal.ticks_diff(hal.wall_ms(), t)
                if t > self.longest_pass_ms:
                    self.longest_pass_ms = t
        except BaseException as e:
            # What escaped the loop ends the firmware: say what, and what
            # the unit was doing, where the next boot finds it.
            hal.outputs_off()
            self._closing("crash", "%s: %s" % (type(e).__name__, e))
            raise
        finally:
            # Whatever ended the loop (an interrupt from the host, a bug),
            # outputs go to their safe state before the REPL gets the console.
            hal.outputs_off()
            hal.stop_watchdog()
            if link.interrupted:
                self._closing("interrupted", None)
            elif self.system.reboot_requested:
                self._closing("reboot", None)
            hal.console.stop()
        if self.system.reboot_requested:
            hal.reset()
        print("\r\nStimBox: interrupted by the host; outputs off, REPL follows")


# MicroPython collects only when an allocation fails, so between
# collections the garbage of many passes fills the free heap from the
# bottom, and whatever is made to stay (the App's parts at boot, a run's
# set-up, a validated protocol) lands wherever that fill has reached: once
# collected, the lasting objects lie scattered through the free heap and
# split it. Collecting whenever half of the heap free at boot has been
# allocated keeps them in the lower half and the upper half in one piece.
# Measured on micropython-mcu32 at a 192k board heap (docs/PERFORMANCE.md,
# Firmware heap): the largest free block at boot 2.7 KB without, 17 KB
# with; over the 15-minute long case never below 1.9 KB without, 4.9 KB
# with. It does not cost time there: a fragmented heap, where allocations
# fail with plenty free, collected more often than this.
GC_FRACTION = 2  # collect after 1/GC_FRACTION of the free heap was allocated


def main(slot=None):
    gc.collect()
    gc.threshold(gc.mem_free() // GC_FRACTION)
    App(board_hal.Hal(), board, slot).run()
