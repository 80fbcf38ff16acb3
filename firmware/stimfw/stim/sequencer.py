# Runs an armed spec through the HAL: one segment (whole trains, at most
# SEGMENT_PULSES pulses) per fire(), each scheduled on the timeline clock
# relative to the previous one, so every edge comes from the HAL and the
# spacing between segments is exactly the compiled one (or longer, never
# shorter, if the unit fell behind). As each pulse ends it reads it back
# through the output monitor and judges it, so repeated delivery flags end
# the run at the next pulse, not the next segment; its record goes into the
# journal's open record (stimfw.stim.pulselog), from which the pulse records
# go to the host as records fill and at each segment's end; progress goes
# once per segment.
#
# service() never blocks: while a segment runs it lets the HAL idle until the
# next pulse's end (until_us), which is where the simulated unit in fast
# mode jumps its virtual clock.
#
# The sequencer never calls the supervisor: a run that has ended, or output
# that failed, is left for the supervisor's next pass (take_ended(),
# take_fault()). On a delivery fault the sequencer ends output itself first:
# stopping needs nobody's permission.
#
# Before each fire() the segment goes into the journal as a write-ahead
# record with the output stage's pulse count (hal.fired_count()), so a boot
# after a crash or a watchdog reset can journal what fired and was never
# read back (stimfw.stim.reconcile); an aborted run reads back exactly the
# pulses that count says went out.

from stimfw.core import errors as err
from stimfw.core import notices as note
from stimfw.core.buffers import zeros
from stimfw.hal_api import NotProvided
from stimfw.stim import delivery
from stimfw.stim.compiler import Segmenter
from stimfw.stim.timeline import Timeline

SEGMENT_PULSES = 32
LEAD_US = 20000  # first pulse this long after START: room to fire the segment
WAIT_MS = 1  # longest idle per pass while a segment runs


class Run:
    __slots__ = ("id", "total", "done", "charge_nc", "flagged", "flag_counts", "outcome",
                 "amp_min", "amp_max", "search")

    def __init__(self, run_id, total, n_outputs):
        self.id = run_id
        self.total = total
        self.done = 0
        self.charge_nc = 0
        # Consecutive flagged pulses per output: with sites interleaved, a
        # dead electrode on one output must not be hidden by good pulses on
        # another.
        self.flagged = [0] * n_outputs
        self.flag_counts = {}
        self.outcome = "running"
        self.amp_min = None
        self.amp_max = None
        self.search = None

    def summary(self):
        d = {"run": self.id, "total": self.total, "done": self.done,
             "charge_nc": self.charge_nc, "flags": self.flag_counts,
             "amp_min": self.amp_min, "amp_max": self.amp_max, "outcome": self.outcome}
        if self.search is not None:
            d["search"] = self.search
        return d


class Sequencer:
    def __init__(self, hal, bd, push, recorder=None, pulselog=None):
        self.hal = hal
        self.bd = bd
        self.push = push
        self.recorder = recorder  # stimfw.record.recording.Recorder, or None
        # stimfw.stim.pulselog.PulseLog: every pulse read back, and each
        # run's result, into the journal, and the pulses to the host from
        # there (None: neither).
        self.pulselog = pulselog
        self.ended = False  # a run completed since take_ended()
        self.fault = None  # repeated delivery flags, until take_fault()
        self.tl = Timeline(SEGMENT_PULSES)
        self.mon = zeros("h", 2 * bd.MONITOR_MAX_SAMPLES)
        self.scan_out = delivery.new_scan()
        # One judge per kind of output stage, not per output: the four
        # peripheral outputs judge alike, and each judge's attributes cost
        # heap that a board's case needs (docs/PERFORMANCE.md, Long case).
        by_stage = {}
        self.judges = []
        for o in bd.OUTPUTS:
            key = (o["kind"], o["mon_ua_lsb"], o["mon_mv_lsb"])
            if key not in by_stage:
                by_stage[key] = delivery.Judge(o, bd.LIMITS, bd.MONITOR_RATE_HZ, bd.MONITOR_PRE_SAMPLES)
            self.judges.append(by_stage[key])
        self.flags_abort = bd.LIMITS["flags_abort"]
        self.run = None  # the run in progress
        self.last = None  # the last finished run
        self.next_id = 1
        self.draining = False
        self.awaiting = False
        self.seg = None
        self.seg_start = 0  # segment start, us from the run's start
        self.fire_at = 0  # timeline clock of the segment's start
        self.end_at = 0
        self.next_due = 0  # timeline clock of the next pulse end to read back
        self.read = 0  # pulses of the segment read back so far
        self.tally = None  # the output stage's count before the segment, or None
        # The last pulse read back, for MSG_TRACE: its monitor samples stay
        # in self.mon until the next pulse's read-back.
        self.trace_run = 0  # 0: none yet
        self.trace_pulse = 0
        self.trace_out = 0
        self.trace_n = 0

    def start(self, spec, h=None, baseline=False):
        from stimfw.stim.compiler import count_pulses

        if spec.get("search"):
            # Closed loop: each step's amplitude comes from the response to
            # the one before, measured by the recording.
            from stimfw.stim.stepping import Steps

            if self.recorder is None or not self.recorder.start(self.next_id, h, spec, baseline):
                raise err.Refused(err.ERR_BAD_PAYLOAD,
                                   "a threshold search needs a record table for the muscles' EMG",
                                   {"key": "record"})
            self.seg = Steps(spec, self.bd)
            total = self.seg.max_steps()
        else:
            total = count_pulses(spec)
            if self.recorder is not None:
                self.recorder.start(self.next_id, h, spec, baseline)
            self.seg = Segmenter(spec)
        self.run = Run(self.next_id, total, len(self.bd.OUTPUTS))
        self.next_id += 1
        self.ended = False
        self.fault = None
        self.draining = False
        self.awaiting = False
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
        self.next_due = hal.ticks_add(at, self.tl.pulse_end_us(0)) if self.tl.n else self.end_at
        self.read = 0
        try:
            self.tally = hal.fired_count()
        except NotProvided:  # the HAL keeps no count
            self.tally = None
        if self.pulselog is not None:
            r = self.run
            self.pulselog.segment(r.id, r.total, self.seg.first, self.seg_start, self.tl, self.tally)
        hal.fire(self.tl, at)

    def abort(self, reason):
        """The supervisor already ended output; close the run's books."""
        r = self.run
        if r is not None:
            # Pulses that began before the stop belong in the record: those
            # the output stage counted (the abort kept the later ones from
            # going out), or, where it keeps no count, each one whose start
            # the timeline clock has passed.
            tl = self.tl
            hal = self.hal
            now = hal.ticks_us()
            fired = tl.n
            if self.tally is not None:
                fired = (hal.fired_count() - self.tally) & 0xFFFF
            while (self.read < tl.n and self.read < fired and (self.tally is not None or
                   hal.ticks_diff(now, hal.ticks_add(self.fire_at, tl.t_us[self.read])) >= 0)):
                self._readback(r, self.read)
                self.read += 1
            r.outcome = reason
            self._push_pulses()
            if self.recorder is not None:
                self.recorder.abort()
            self._finish()

    def _finish(self):
        r = self.run
        seg = self.seg
        self.run = None
        self.seg = None
        self.last = r
        failed = None
        try:
            if seg is not None and seg.CLOSED_LOOP:
                r.search = seg.result()
                if self.recorder is not None:
                    self.recorder.search_alarms(r.search, seg.muscles)
            d = r.summary()
            if self.recorder is not None and self.recorder.procs:
                rec = self.recorder.finish(r.outcome == "complete")
                d["recorded"] = len(rec["streams"])
                d["alarms"] = sum(len(s["events"]) for s in rec["streams"])
        except Exception as e:
            # Measuring is the part of closing a run that can fail (a
            # firmware bug, the heap running out). The run's pulses are
            # already out: its result still goes on record and to the
            # host, which would otherwise wait for an end that never comes;
            # then the main loop's fault handler takes the unit to FAULT.
            failed = e
            r.outcome = "firmware_fault"
            d = r.summary()
            d["error"] = "%s: %s" % (type(e).__name__, e)
        if self.pulselog is not None:
            self.pulselog.end()
            d["seq"] = self.pulselog.result(d)
        self.push(note.PUSH_PROGRESS, d)
        if failed is not None:
            raise failed

    def deadline_us(self):
        # Nothing to wait for on the timeline clock once the run is only
        # waiting for the recording (its last sweeps, or a search step's).
        if self.run is None or self.draining or self.awaiting:
            return None
        return self.next_due

    def take_ended(self):
        """True once after a run completed on its own."""
        e = self.ended
        self.ended = False
        return e

    def take_fault(self):
        """The delivery fault that ended output, once, or None."""
        f = self.fault
        self.fault = None
        return f

    def service(self):
        r = self.run
        if r is None or self.fault is not None:
            return False
        if self.draining:
            # Stimulation is over; the last sweeps are still being recorded.
            if self.recorder.busy():
                return False
            r.outcome = "complete"
            self._finish()
            self.ended = True
            return True
        hal = self.hal
        tl = self.tl
        done = hal.fire_done()
        now = hal.ticks_us()
        k = self.read
        if k < tl.n and (done or hal.ticks_diff(now, hal.ticks_add(self.fire_at, tl.pulse_end_us(k))) >= 0):
            fault = self._readback(r, k)
            self.read = k + 1
            if fault is not None:
                hal.abort()
                hal.outputs_off()
                self._push_pulses()
                self.fault = fault  # the supervisor disarms, which closes the run
            return True
        if not done:
            # The next thing to wait for: the end of the next pulse to read
            # back (never beyond it: the simulated unit's clock jumps here).
            until = self.end_at if k >= tl.n else hal.ticks_add(self.fire_at, tl.pulse_end_us(k))
            self.next_due = until
            hal.idle(WAIT_MS, until)
            return False
        self._push_pulses()
        if self.seg.CLOSED_LOOP and self.seg.needs_response():
            # A search step: its sweep must be measured before the next
            # amplitude is known.
            if self.recorder.busy():
                self.awaiting = True
                return False
            self.awaiting = False
            st = self.seg.stream
            self.seg.respond(self.recorder.responses(st), self.recorder.noise(st))
        prev_start = self.seg_start
        start = self.seg.fill(tl)
        if start is None:
            self.draining = True
            return True
        self.seg_start = start
        self._fire(hal.ticks_add(self.fire_at, start - prev_start))
        self.push(note.PUSH_PROGRESS, {"run": r.id, "done": r.done, "total": r.total})
        return True

    def _readback(self, r, k):
        """Read back and judge pulse k of the segment; a fault dict when the
        flags have repeated flags_abort times."""
        tl = self.tl
        n = self.hal.monitor(k, self.mon)
        amp = tl.amp[k]
        out = tl.output[k]
        judge = self.judges[out]
        delivery.scan(self.mon, n, 1 if amp > 0 else -1, self.scan_out, 0 if judge.cc else 1)
        f = judge.flags(n, self.scan_out, amp, tl.w1_us[k], tl.w2_us[k])
        fig = judge.fig
        a = fig[delivery.AMP]
        q = fig[delivery.Q]
        self.trace_run = r.id
        self.trace_pulse = self.seg.first + k
        self.trace_out = out
        self.trace_n = n
        if self.recorder is not None:
            hal = self.hal
            self.recorder.on_pulse(tl.stream[k], tl.train_pos[k], hal.ticks_add(self.fire_at, tl.t_us[k]))
        r.done = self.seg.first + k + 1
        if self.pulselog is not None:
            self.pulselog.add(r.id, self.seg.first + k, out, tl.anodes[k], tl.cathodes[k], fig, f)
        r.charge_nc += q
        if r.amp_min is None or a < r.amp_min:
            r.amp_min = a
        if r.amp_max is None or a > r.amp_max:
            r.amp_max = a
        if not f:
            r.flagged[out] = 0
            return None
        r.flagged[out] += 1
        for name in delivery.flag_names(f):
            r.flag_counts[name] = r.flag_counts.get(name, 0) + 1
        if r.flagged[out] >= self.flags_abort:
            return {"run": r.id, "pulse": self.seg.first + k, "output": self.bd.OUTPUTS[out]["name"],
                    "flags": delivery.flag_names(f), "consecutive": r.flagged[out]}
        return None

    def _push_pulses(self):
        if self.pulselog is not None:
            self.pulselog.send()

    def result(self, run_id):
        for r in (self.run, self.last):
            if r is not None and r.id == run_id:
                return r.summary()
        return None
