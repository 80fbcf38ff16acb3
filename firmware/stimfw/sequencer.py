# Runs an armed spec through the HAL: one segment (whole trains, at most
# SEGMENT_PULSES pulses) per fire(), each scheduled on the timeline clock
# relative to the previous one, so every edge comes from the HAL and the
# spacing between segments is exactly the compiled one (or longer, never
# shorter, if the unit fell behind). Between segments it reads each delivered
# pulse back through the output monitor, pushes the pulse records and
# progress, and reports repeated delivery flags to the supervisor.
#
# service() never blocks: while a segment runs it lets the HAL idle until the
# segment's end (until_us), which is where the simulated unit in fast mode
# jumps its virtual clock.
from array import array

from stimfw import delivery
from stimfw import messages as m
from stimfw.compiler import Segmenter
from stimfw.timeline import Timeline

SEGMENT_PULSES = 32
LEAD_US = 20000  # first pulse this long after START: room to fire the segment
WAIT_MS = 1  # longest idle per pass while a segment runs


class Run:
    __slots__ = ("id", "total", "done", "charge_nc", "flagged", "flag_counts", "outcome",
                 "amp_min", "amp_max")

    def __init__(self, run_id, total):
        self.id = run_id
        self.total = total
        self.done = 0
        self.charge_nc = 0
        self.flagged = 0  # consecutive flagged pulses
        self.flag_counts = {}
        self.outcome = "running"
        self.amp_min = None
        self.amp_max = None

    def summary(self):
        return {"run": self.id, "total": self.total, "done": self.done,
                "charge_nc": self.charge_nc, "flags": self.flag_counts,
                "amp_min": self.amp_min, "amp_max": self.amp_max, "outcome": self.outcome}


class Sequencer:
    def __init__(self, hal, bd, push):
        self.hal = hal
        self.bd = bd
        self.push = push
        self.supervisor = None  # set by the wiring (stimfw.stimulation)
        self.tl = Timeline(SEGMENT_PULSES)
        self.mon = array("h", bytes(4 * bd.MONITOR_MAX_SAMPLES))
        self.scan_out = delivery.new_scan()
        self.judges = [delivery.Judge(o, bd.LIMITS) for o in bd.OUTPUTS]
        self.flags_abort = bd.LIMITS["flags_abort"]
        self.run = None  # the run in progress
        self.last = None  # the last finished run
        self.next_id = 1
        self.seg = None
        self.seg_start = 0  # segment start, us from the run's start
        self.fire_at = 0  # timeline clock of the segment's start
        self.end_at = 0

    def start(self, spec):
        from stimfw.compiler import count_pulses

        self.run = Run(self.next_id, count_pulses(spec))
        self.next_id += 1
        self.seg = Segmenter(spec)
        start = self.seg.fill(self.tl)
        self.seg_start = start
        self._fire(self.hal.ticks_add(self.hal.ticks_us(), LEAD_US + start))
        return self.run.id

    def _fire(self, at):
        hal = self.hal
        late = hal.ticks_diff(hal.ticks_us(), at)
        if late > -LEAD_US // 2:
            # Fell behind: push this segment (and so the rest of the run) later
            # rather than squeeze the compiled spacing.
            at = hal.ticks_add(at, late + LEAD_US)
        self.fire_at = at
        self.end_at = hal.ticks_add(at, self.tl.duration_us)
        hal.fire(self.tl, at)

    def abort(self, reason):
        """The supervisor already ended output; close the run's books."""
        if self.run is not None:
            self.run.outcome = reason
            self._finish()

    def _finish(self):
        r = self.run
        self.run = None
        self.seg = None
        self.last = r
        self.push(m.PUSH_PROGRESS, r.summary())

    def deadline_us(self):
        return self.end_at if self.run is not None else None

    def service(self):
        r = self.run
        if r is None:
            return False
        hal = self.hal
        if not hal.fire_done():
            hal.idle(WAIT_MS, self.end_at)
            return False
        fault = self._readback(r)
        if fault is not None:
            self.supervisor.output_fault(fault)  # ends the run through abort()
            return True
        prev_start = self.seg_start
        start = self.seg.fill(self.tl)
        if start is None:
            r.outcome = "complete"
            self._finish()
            self.supervisor.run_done()
            return True
        self.seg_start = start
        self._fire(hal.ticks_add(self.fire_at, start - prev_start))
        self.push(m.PUSH_PROGRESS, {"run": r.id, "done": r.done, "total": r.total})
        return True

    def _readback(self, r):
        tl = self.tl
        hal = self.hal
        rate = self.bd.MONITOR_RATE_HZ
        amps = []
        charges = []
        flags = []
        fault = None
        for k in range(tl.n):
            n = hal.monitor(k, self.mon)
            if isinstance(n, tuple):
                n = n[0]
            amp = tl.amp[k]
            judge = self.judges[tl.output[k]]
            delivery.scan(self.mon, n, 1 if amp > 0 else -1, self.scan_out)
            f = judge.flags(n, self.scan_out, amp)
            a = judge.delivered(self.scan_out)
            q = judge.charge_nc(self.scan_out, rate)
            amps.append(a)
            charges.append(q)
            flags.append(f)
            r.charge_nc += q
            if r.amp_min is None or a < r.amp_min:
                r.amp_min = a
            if r.amp_max is None or a > r.amp_max:
                r.amp_max = a
            if f:
                r.flagged += 1
                for name in delivery.flag_names(f):
                    r.flag_counts[name] = r.flag_counts.get(name, 0) + 1
                if r.flagged >= self.flags_abort and fault is None:
                    fault = {"run": r.id, "pulse": self.seg.first + k,
                             "flags": delivery.flag_names(f), "consecutive": r.flagged}
            else:
                r.flagged = 0
        first = self.seg.first
        r.done = first + tl.n
        self.push(m.PUSH_PULSE, {"run": r.id, "first": first, "amp": amps, "q_nc": charges,
                                 "flags": flags})
        return fault

    def result(self, run_id):
        for r in (self.run, self.last):
            if r is not None and r.id == run_id:
                return r.summary()
        return None
