# Responses to a run's stimuli: for every protocol stream with a "record"
# table, one averaging set-up (stimfw.record.averager); every train the stream
# fires opens a sweep, acquired once its window has passed, so the data is
# already in the ADC's ring buffer (or, on the simulated unit, modelled).
#
# At the end of a run each stream's average is measured, compared with that
# protocol's baseline (a run started with "baseline": true sets it) and any
# alarm criterion that starts or stops holding becomes an event: logged,
# pushed, and kept in the run's results.
#
# The main loop calls service(): at most one sweep per pass, and only once
# the sweep's window has ended on the timeline clock. Sweep bookkeeping uses
# preallocated arrays and the averager allocates nothing per sweep, so
# neither on_pulse() nor a sweep's service() allocates (heap_lock test).
#
# One averaging set-up exists at a time: building the next (at VALIDATE or
# START) drops the last run's averages, while its results stay.
#
# Memory stays bounded over a case of any length: the results of the last
# run only, and baselines (an alarm monitor's state per recorded stream) for
# at most LIMITS["baselines_max"] protocols, least recently used dropped
# first. A protocol whose baseline was dropped sets a new one on its next
# complete run, and that run's results say so ("baseline_run" is its own id).
#
# TcMEP streams are also measured per trial (stimfw.record.mep): every
# train's sweep gives each muscle's onset, peak-to-peak and area, kept as
# one journal record per trial (KIND_MEP, retrievable by sequence number)
# and pushed as PUSH_MEP; the run's largest response per muscle is what
# the MEP alarms compare with the baseline. The record is packed into a
# buffer the run's set-up makes at its start (nothing kept between runs).
#
# Both live in storage reserved at boot (alarms.Baselines; the results as
# their JSON text in RESULTS_BYTES): what a run's end keeps, built among that
# pass's transient objects, would otherwise be long-lived small objects
# scattered through the free heap, and a long case ran out of contiguous
# heap with 25 KB free (docs/PERFORMANCE.md, Firmware heap).
import gc
import hashlib
import json

from stimfw.core import arena, jsonio
from stimfw.core import errors as err
from stimfw.core import notices as note
from stimfw.core.buffers import zeros
from stimfw.record import alarms
from stimfw.record.averager import SweepProcessor

QUEUE = 8  # sweeps waiting for their window to end
PULSES = 9  # pulses of one train blanked in its sweep (TcMEP trains: 1..9)
MODALITY = {"ssep": "SSEP", "tcmep": "MEP", "dwave": "DWAVE", "temg": "TEMG", "scs": "MEP"}
# Measurements (components) a protocol's recorded streams may have in all:
# each keeps a baseline in the table reserved at boot.
BASELINE_MEASURES = 12
# The last run's results, as JSON text (a two-sided SSEP of 3 channels a side
# takes about 1.8 KB); a longer one goes into a block of its own size.
RESULTS_BYTES = 2560


class Recorder:
    def __init__(self, hal, bd, push, log):
        self.hal = hal
        self.bd = bd
        self.push = push
        self.log = log
        self.procs = []  # per stream: SweepProcessor or None
        self.meps = []  # per stream: record.mep.MepTrials or None (TcMEP only)
        self.labels = []  # per stream: its label (SSEP site, SCS pair, modality)
        self.baselines = alarms.Baselines(bd.LIMITS.get("baselines_max", 16), BASELINE_MEASURES)
        self.results_buf = bytearray(RESULTS_BYTES)
        self._results = self.results_buf  # or a block of its own for a longer result
        self.results_len = 0
        self.results_run = 0  # the run whose results are kept
        self.run = 0
        self.hash = None
        self.modality = None
        self.th = alarms.DEFAULTS
        self.track = None  # a tracking run's result (search_alarms)
        self.baseline = False
        # Ring of pending sweeps: stream, trigger time, and its pulses'
        # offsets from the trigger (blanked as stimulus artifact).
        self.q_stream = zeros("i", QUEUE)
        # Trigger times are ticks: a list, not array("i"), because ticks are
        # small ints of the port's width (up to 2**62 on a 64-bit build), and
        # storing a small int in a list allocates nothing.
        self.q_t0 = [0] * QUEUE
        self.q_np = zeros("i", QUEUE)
        self.q_pulses = [zeros("i", PULSES) for _ in range(QUEUE)]
        self.head = 0
        self.count = 0
        self.dropped = 0
        self.open_slot = zeros("i", 0)  # per stream: queue slot of its open sweep, or -1

    # --- set-up -------------------------------------------------------------
    def check(self, spec):
        """Refuse a protocol whose record tables the averaging cannot take
        (at VALIDATE, before anything is armed). Builds each set-up once and
        drops it again."""
        n = 0
        for i, s in enumerate(spec["streams"]):
            if s.get("record") is not None:
                p = self._build(i, s["record"], s["label"])
                comps = s["record"].get("components")
                n += len(comps) if isinstance(comps, list) else 0
                if spec["type"] == "tcmep":
                    self._trials(p, s["record"], s["label"])
                    if not comps:
                        n += p.n_ch  # the MEP of each muscle keeps a baseline
                p = None  # dropped before the next set-up is built, as before
        self.release()
        err.need("components", n, 0, BASELINE_MEASURES)

    def _build(self, i, cfg, label):
        try:
            return SweepProcessor(cfg, self.bd)
        except MemoryError:
            # A set-up larger than the averaging memory (16 channels at
            # 20 kHz, say): refused at VALIDATE, naming what it needs.
            self.release()
            raise self._too_big(cfg, label) from None
        except err.Refused as e:
            detail = e.detail or {}
            detail["stream"] = label
            detail["key"] = "record"
            raise err.Refused(e.code, "record (%s): %s" % (label, e.message), detail) from None
        except (ValueError, TypeError, IndexError) as e:  # a malformed table
            raise err.Refused(err.ERR_BAD_PAYLOAD, "record (%s): %s" % (label, e),
                              {"stream": label, "key": "record"}) from None

    def _trials(self, p, cfg, label):
        """The per-trial MEP measurement of a TcMEP stream's set-up p."""
        from stimfw.record.mep import MepTrials

        try:
            return MepTrials(cfg, p.channels, p.rate_hz, p.pre, p.n, p.uv_per_lsb, p.blank_before)
        except err.Refused as e:
            detail = e.detail or {}
            detail["stream"] = label
            detail["key"] = "record"
            raise err.Refused(e.code, "record (%s): %s" % (label, e.message), detail) from None
        except (ValueError, TypeError, IndexError) as e:
            raise err.Refused(err.ERR_BAD_PAYLOAD, "record (%s): mep: %s" % (label, e),
                              {"stream": label, "key": "record"}) from None

    def _too_big(self, cfg, label):
        """The refusal of a set-up the averaging memory cannot hold: its A/B
        sums (3 bytes a sample, per channel and split) and sweep buffer
        against the DSP arena and the free heap."""
        rate = cfg.get("rate_hz") or 0
        n = rate * (cfg.get("pre_ms", 0) + cfg.get("post_ms", 0)) // 1000
        chans = cfg.get("channels") or ()
        need = int(2 * 3 * n * len(chans) + 2 * n)
        have = arena.size() + gc.mem_free()
        return err.LimitRefused("averaging_memory", need, 0, have, "bytes",
                                {"stream": label, "channels": len(chans), "samples": int(n)})

    def release(self):
        """Let the last run's set-up go (its averages with it)."""
        self.procs = []
        self.meps = []
        arena.reset()
        gc.collect()

    def start(self, run_id, h, spec, baseline):
        self.release()
        self.run = run_id
        self.hash = h
        self.modality = MODALITY.get(spec["type"])
        self.th = alarms.thresholds(spec.get("alarms"))
        self.baseline = baseline
        self.track = None  # a tracking run's result (search_alarms)
        self.head = 0
        self.count = 0
        self.dropped = 0
        self.open_slot = zeros("i", len(spec["streams"]))
        self._close_all()
        self.procs = [None] * len(spec["streams"])
        self.meps = [None] * len(spec["streams"])
        self.labels = [s["label"] for s in spec["streams"]]
        for i, s in enumerate(spec["streams"]):
            if s.get("record") is not None:
                p = self.procs[i] = self._build(i, s["record"], s["label"])
                if spec["type"] == "tcmep":
                    p.trial = self.meps[i] = self._trials(p, s["record"], s["label"])
        return any(p is not None for p in self.procs)

    # --- per pulse, from the sequencer ----------------------------------------
    def on_pulse(self, stream, train_pos, t_us):
        """A pulse of `stream` went out at t_us (timeline clock)."""
        if stream >= len(self.procs) or self.procs[stream] is None:
            return
        hal = self.hal
        slot = self.open_slot[stream]
        if train_pos != 0 and slot >= 0:
            n = self.q_np[slot]
            if n < PULSES:
                self.q_pulses[slot][n] = hal.ticks_diff(t_us, self.q_t0[slot])
                self.q_np[slot] = n + 1
            return
        if self.count >= QUEUE:
            self.dropped += 1  # the loop fell this far behind: skip the sweep
            return
        slot = (self.head + self.count) % QUEUE
        self.count += 1
        self.q_stream[slot] = stream
        self.q_t0[slot] = t_us
        self.q_np[slot] = 1
        self.q_pulses[slot][0] = 0
        self.open_slot[stream] = slot

    def busy(self):
        return self.count > 0

    def _end_of(self, slot):
        p = self.procs[self.q_stream[slot]]
        return self.hal.ticks_add(self.q_t0[slot], p.post_us)

    def deadline_us(self):
        return self._end_of(self.head) if self.count else None

    def service(self):
        if not self.count:
            return False
        hal = self.hal
        slot = self.head
        if hal.ticks_diff(hal.ticks_us(), self._end_of(slot)) < 0:
            return False
        stream = self.q_stream[slot]
        p = self.procs[stream]
        mt = self.meps[stream]
        if mt is not None:
            mt.begin(self.q_pulses[slot], self.q_np[slot])
        p.take(hal, self.q_t0[slot], self.q_pulses[slot], self.q_np[slot])
        if mt is not None:
            self._report(stream, mt)
        if self.open_slot[stream] == slot:
            self.open_slot[stream] = -1
        self.head = (slot + 1) % QUEUE
        self.count -= 1
        if p.progress_due():
            d = p.progress()
            d["run"] = self.run
            d["stream"] = self.labels[stream]
            self.push(note.PUSH_PROGRESS, d)
        return True

    def _report(self, stream, mt):
        """The trial just measured: into the journal and pushed."""
        from stimfw.record import mep

        n = mt.pack(self.run)
        data = bytes(memoryview(mt.out)[:n])
        seq = None
        if self.log is not None:
            from stimfw.core import journal as jn

            seq = self.log.journal.append(jn.KIND_MEP, data)
        d = mep.decode(data)
        d["seq"] = seq
        d["stream"] = self.labels[stream]
        for ci, m in enumerate(d["muscles"]):
            m["name"] = mt.muscles[ci]
        self.push(note.PUSH_MEP, d)

    def abort(self):
        """The run ended early: sweeps not yet acquired are dropped."""
        self.count = 0
        self._close_all()

    def _close_all(self):
        for i in range(len(self.open_slot)):
            self.open_slot[i] = -1

    # --- end of run -----------------------------------------------------------
    def finish(self, complete):
        """Measure every stream's average and keep the results; a complete
        run also joins the protocol's baseline while that is pending, or is
        checked against it."""
        out = []
        for i, p in enumerate(self.procs):
            if p is None:
                continue
            r = p.results()
            r["stream"] = self.labels[i]
            if i < len(self.meps) and self.meps[i] is not None:
                r["mep"] = self.meps[i].summary()
                r["mep_trials"] = self.meps[i].trials
                if self.track is not None:
                    # tracking: each muscle's threshold is the measurement
                    # (its amplitude near threshold says nothing of a loss)
                    r["mep"] = self._thresholds(self.meps[i])
            r["events"] = []
            out.append(r)
        # A tracking run's measurement is each muscle's threshold.
        mod = "MEPT" if self.track is not None else self.modality
        if complete and mod in alarms.MODALITIES:
            self._baseline(out, mod)
        b = self.baselines
        res = {"run": self.run, "hash": self.hash, "baseline": self.baseline,
               "complete": complete, "dropped_sweeps": self.dropped, "streams": out,
               "baselines": b.count, "baselines_dropped": b.dropped}
        self._keep(res)
        return res

    def _baseline(self, out, mod):
        """The run's streams against the protocol's baseline, or into it
        (mod: the modality the measurements are judged as)."""
        tab = self.baselines
        digest = hashlib.sha256(str(self.hash).encode()).digest()
        slot, base_run, _ = tab.slot(digest, self.run, self.baseline)
        need = self.th["baseline_averages"]
        tab.need[slot] = need
        tab.mod[slot] = alarms.CODES.index(mod) + 1
        parts = []  # (result, first index, measurements that fit)
        at = 0
        for r in out:
            meas = tab.room(at, r.get("components") or r.get("mep") or [])
            parts.append((r, alarms.AlarmMonitor(mod, self.th, tab, tab.first(slot, at)),
                          meas))
            at += len(meas)
        tab.nmeas[slot] = at
        now_s = self.hal.wall_ms() // 1000
        tab.seen[slot] = now_s
        have = tab.have[slot]
        if have < need:
            why = None
            for _, mon, meas in parts:
                why = why or (mon.differs(meas) if have else None)
            if why is not None:
                have = 0  # not reproducible: this average starts the gathering again
                why = "not reproducible (%s): gathering again from this average" % why
            for _, mon, meas in parts:
                mon.gather(meas, have)
            have += 1
            tab.have[slot] = have
            if have == 1:
                tab.runs[slot] = self.run
            base_run = tab.runs[slot]
            if have < need:
                why = why or "%d of %d reproducible averages" % (have, need)
            for r, _, _ in parts:
                r["baseline_run"] = base_run
                r["baseline_state"] = "set" if have >= need else "pending"
                r["baseline_averages"] = [have, need]
                r["baseline_why"] = why if have < need else None
            return
        t_ms = self.hal.wall_ms()
        for r, mon, meas in parts:
            p = self.procs[self.labels.index(r["stream"])]
            rej = p.rej
            chans = p.channels
            warn = [rej.warning(chans.index(m["ch"])) if m["ch"] in chans else False for m in meas]
            r["baseline_run"] = base_run
            r["baseline_state"] = "set"
            r["baseline_averages"] = [have, need]
            r["baseline_why"] = None
            r["events"] = mon.check(meas, t_ms, warn)
        for r, mon, _ in parts:
            for ev in r["events"]:
                if "criterion" in ev:
                    if not ev.get("cleared"):
                        mon.label(slot, ev, now_s)
                    del ev["criterion"]
                ev["run"] = self.run
                ev["stream"] = r["stream"]
                self.push(note.PUSH_ALARM, ev)
                self.log.record("alarm", **ev)

    def _keep(self, res):
        """res as JSON text into the buffer reserved at boot, or, longer,
        into a block of its own."""
        self._results = self.results_buf
        self.results_len = 0
        n = jsonio.dump_into(res, self._results)
        if n > len(self._results):
            self._results = bytearray(n)
            jsonio.dump_into(res, self._results)
        self.results_len = n
        self.results_run = self.run

    def results(self, run_id):
        """The results of run_id if it is the last recorded run, else None."""
        if not self.results_len or run_id != self.results_run:
            return None
        return json.loads(memoryview(self._results)[: self.results_len])

    def _thresholds(self, mt):
        """A tracking run's thresholds per muscle (mV, or uA on a CC output;
        None: no response up to the protocol's amplitude)."""
        th = self.track["threshold"]
        return [{"name": mt.muscles[ci], "ch": mt.channels[ci], "threshold": th[ci],
                 "stop": self.track["stop"]} for ci in range(len(mt.channels))]

    def responses(self, stream):
        """Peak-to-peak response (uV) per recorded channel of the stream's
        last sweep: what a threshold search steps on. TcMEP: the trial's
        MEP per muscle, 0 where none was found (record.mep)."""
        mt = self.meps[stream] if stream < len(self.meps) else None
        if mt is not None:
            return mt.responses_uv()
        p = self.procs[stream]
        return [p.response_pp_uv(ci) for ci in range(p.n_ch)]

    def noise(self, stream):
        """Pre-stimulus peak-to-peak (uV) per recorded channel of the same
        sweep: each muscle's own noise."""
        p = self.procs[stream]
        return [p.noise_pp_uv(ci) for ci in range(p.n_ch)]

    def search_alarms(self, result, names):
        """Triggered EMG: a muscle whose threshold is below the protocol's
        limit (default 8 mA) is an alarm naming the muscle, its recording
        channel and its roots, with the values that raised it. TcMEP
        tracking: the thresholds are kept for finish(), which compares them
        with the protocol's baseline thresholds."""
        if result.get("mode") == "track":
            self.track = result
            return []
        if self.modality != "TEMG":
            return []
        mon = alarms.AlarmMonitor("TEMG", {"temg_limit_ma": result["alarm_ua"] / 1000})
        chans = self.procs[0].channels
        meas = []
        for k, t in enumerate(result["thresholds"]):
            meas.append({"name": names[k] if k < len(names) else "ch%d" % chans[k], "ch": chans[k],
                         "threshold_ma": None if t is None else t / 1000})
        events = mon.check(meas, self.hal.wall_ms())
        for ev in events:
            k = chans.index(ev["ch"])
            ev["root"] = result["roots"][k] if k < len(result["roots"]) else None
            ev["run"] = self.run
            self.push(note.PUSH_ALARM, ev)
            self.log.record("alarm", **ev)
        return events

    def wave(self, name):
        """MSG_PULL "avg/<stream>/<split>/<channel>": one averaged channel
        of the last run as float32 uV; split a, b or ab; channel is the
        amplifier channel number. None if there is no such average."""
        parts = name.split("/")
        if len(parts) != 3 or parts[1] not in ("a", "b", "ab"):
            return None
        split = ("a", "b", "ab").index(parts[1])
        for i, lab in enumerate(self.labels):
            p = self.procs[i] if i < len(self.procs) else None
            if lab == parts[0] and p is not None:
                try:
                    ci = p.channels.index(int(parts[2]))
                except ValueError:
                    return None
                return p.wave_bytes(split, ci)
        return None
