"""The simulated unit's hardware: output stage and loads, safety inputs,
recording amplifiers, and the patient or phantom behind them, on one virtual
clock. The HAL reaches it through modelserver.py; tests may also call it
directly (SimUnit.model). Every public method takes the model's lock.

Pulses of a fired timeline are delivered lazily, in time order, as the clock
passes them, so a load changed or an abort issued mid-timeline affects
exactly the pulses after it. The hardware does not enforce the e-stop or the
interlock itself (that is the firmware's job); it records every pulse that
went out while either was active, for tests to check.
"""

from __future__ import annotations

import bisect
import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simunit import amplifier, calibrator, groundtruth, loads, outputstage, scenarios
from simunit.boardfiles import OUTPUT_INDEX, board
from simunit.clock import VirtualClock, unwrap
from simunit.montage import CHANNELS, EPIDURAL_ELECTRODES, RECORDING_ELECTRODES, SITES
from simunit.physiology import Physiology, Wave
from simunit.signals import HORIZON_US, Artifact, Renderer

RING_US = 30_000_000  # the amplifier's ring buffer holds the last 30 s
TRIALS_KEPT = 10_000  # trials kept for truth averages: two of the largest protocol
TRAIN_GAP_US = 12_000  # transcranial pulses closer than this form one train
DEFAULT_TICKS_PERIOD = 1 << 62  # the 64-bit Unix port's time.ticks_* period

DEFAULT_LOADS = {
    "TC": loads.resistor(1000.0),  # scalp between corkscrew electrodes
    "P1": loads.randles(800.0, 10_000.0, 0.2e-6),  # surface electrodes over a nerve
    "P2": loads.randles(800.0, 10_000.0, 0.2e-6),
    "P3": loads.randles(900.0, 12_000.0, 0.2e-6),
    "P4": loads.randles(900.0, 12_000.0, 0.2e-6),
    "PR": loads.randles(2000.0, 20_000.0, 0.05e-6),  # ball-tip probe against the return
    "SCS": loads.resistor(800.0),  # lead contact to tissue
}


def _contacts(p: Pulse) -> tuple[list[str], list[str]]:
    """A pulse's anodes and cathodes by name, as its timeline row masks them."""
    names = board.OUTPUTS[p.output]["electrodes"]
    return ([n for i, n in enumerate(names) if p.anodes >> i & 1],
            [n for i, n in enumerate(names) if p.cathodes >> i & 1])


def _event_time(ev: Event) -> float:
    return ev.t_us


class ModelError(ValueError):
    """A request the hardware cannot carry out; the message says why."""


@dataclass
class Pulse:
    index: int  # row in its timeline
    t_us: int  # scheduled, virtual us
    output: int
    amp: int
    w1: int
    gap: int
    w2: int
    amp2: int
    anodes: int
    cathodes: int
    group: int = -1  # transcranial train id
    delivered: outputstage.Delivered | None = None
    t_actual_us: int = 0


@dataclass
class Event:
    t_us: float
    waves: list[Wave] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)


class HardwareModel:
    def __init__(
        self, scenario: str = scenarios.DEFAULT, seed: int = 0, realtime: bool = False, ticks_start_us: int = 0,
        stage: dict[str, dict[str, float]] | None = None, amp: dict[int, dict[str, float]] | None = None,
    ) -> None:
        """stage and amp: output stage and amplifier errors on top of the
        scenario's (outputstage.StageParams and amplifier.AmpError fields by
        output name and channel); a ValueError names what is wrong."""
        self.lock = threading.RLock()
        self.clock = VirtualClock(realtime)
        self.ticks_period = DEFAULT_TICKS_PERIOD
        # The device's ticks_us read ticks_start_us (mod its period) when the
        # model's timeline reads 0; the timeline itself, scenarios and ground
        # truth do not depend on it.
        self.ticks_start_us = int(ticks_start_us)
        if self.ticks_start_us < 0:
            raise ValueError(f"ticks_start_us must be >= 0, not {ticks_start_us}")
        self.interlock = True
        self.estop = False
        self.stage = [outputstage.default_params(i) for i in range(len(board.OUTPUTS))]
        # Recording channels' gain and delay errors (absent: nominal), and
        # the calibrator: its state and, in signal mode, the start times of
        # the pulses that triggered it (timeline us, ascending).
        self.amp_errors: dict[int, amplifier.AmpError] = {}
        self.calibrator: dict[str, Any] = dict(calibrator.OFF)
        self.cal_triggers: list[float] = []
        self.load_override: dict[str, loads.Load] = {}
        self.electrode_override: dict[str, float] = {}
        self.boots = 0
        # The hardware watchdog (a dead-man on the outputs): started by the
        # firmware, fed once per main-loop pass. WATCHDOG_MS of wall time
        # without a feed and the output stage stops (no pulse starts after
        # the deadline) until the next boot; the supervisor resets the unit.
        self.wdt_timeout_ms = 0
        self.wdt_fed = 0.0  # time.monotonic() of the last feed
        self.wdt_expired = False
        self.wdt_reset_due = False  # for the supervisor, once per expiry
        self.wdt_expiries = 0
        self.wdt_cut_us: int | None = None  # virtual time the last expiry stopped output
        self.stall_began_us: int | None = None  # test-only stall requests (sim "stall_ms")
        # The output stage's own pulse counter (a board's edge counter on
        # the output gate): every pulse started since power-on. Neither a
        # firmware reboot nor a reseed clears it.
        self.fired = 0
        self._set_seed(seed)
        self._set_scenario(scenario)
        for name, changes in (stage or {}).items():
            self._set_stage(name, changes)
        for ch, changes in (amp or {}).items():
            self._set_amp(ch, changes)

    # --- set-up -----------------------------------------------------------------
    def _set_seed(self, seed: int) -> None:
        self.seed = int(seed)
        self.renderer = Renderer(self.seed)
        rng = np.random.default_rng([self.seed, 5])
        self.electrode_base = {e: float(rng.uniform(1500, 4500))
                               for e in RECORDING_ELECTRODES if e not in EPIDURAL_ELECTRODES}
        # Platinum contacts on the dura: lower than skin electrodes. A
        # stream of their own, so the others' draws stay as they were.
        rng = np.random.default_rng([self.seed, 5, 1])
        self.electrode_base.update({e: float(rng.uniform(800, 2000)) for e in EPIDURAL_ELECTRODES})
        self._reset_activity()

    def _reset_activity(self) -> None:
        self.pending: list[Pulse] = []
        self.timeline: list[Pulse] = []
        self.timeline_end_us = 0
        self.aborted = False
        self.events: deque[Event] = deque()
        self.pulse_log: deque[dict[str, Any]] = deque(maxlen=500)
        self.response_log: deque[dict[str, Any]] = deque(maxlen=200)
        # Every stimulus that evoked something: (time us, output, its waves,
        # its truth), for truth averages over a whole run (the event queue
        # keeps only what the amplifiers' ring still holds).
        self.trials: deque[tuple[float, str, list[Wave], dict[str, Any]]] = deque(maxlen=TRIALS_KEPT)
        self.pulse_count = 0
        self.event_count = 0
        self.group_count = 0
        self.pulses_while_estop = 0
        self.pulses_while_interlock_open = 0
        self.acquired_samples = 0
        # The last acquisition windows asked for: (t0 us on the timeline,
        # rate Hz, samples per channel, channels).
        self.acquire_log: deque[tuple[int, int, int, tuple[int, ...]]] = deque(maxlen=4000)
        self.trains_done: set[int] = set()
        self._open_trains: set[int] = set()  # the last timeline's trains not yet turned into MEPs

    def _set_scenario(self, name_or_path: str) -> None:
        self.scenario = scenarios.load(name_or_path)
        self.scenario_start_us = self.clock.now_us()
        self.physiology = Physiology(self.scenario.screws, self.scenario.scs, self.scenario.dwave)
        self.probe_screw = self.scenario.probe_screw
        # The scenario describes the unit too: its output stages and
        # amplifier channels are as it says, nominal where it says nothing.
        self.stage = [outputstage.default_params(i) for i in range(len(board.OUTPUTS))]
        self.amp_errors = {}
        for name, changes in self.scenario.stage.items():
            self._set_stage(name, changes)
        for ch, changes in self.scenario.amp.items():
            self._set_amp(ch, changes)

    def _set_stage(self, output: str, changes: dict[str, Any]) -> None:
        if output not in OUTPUT_INDEX:
            raise ModelError(f"no output {output!r}; outputs: {', '.join(OUTPUT_INDEX)}")
        i = OUTPUT_INDEX[output]
        try:
            self.stage[i] = outputstage.with_changes(self.stage[i], changes)
        except (TypeError, ValueError) as e:
            raise ModelError(f"output {output}: {e}") from None

    def _set_amp(self, channel: Any, changes: dict[str, Any]) -> None:
        """Channel `channel`'s errors: the given fields, the rest nominal."""
        try:
            ch = amplifier.channel_index(channel)
            e = amplifier.with_changes(amplifier.NONE, changes)
        except ValueError as err:
            raise ModelError(str(err)) from None
        if e == amplifier.NONE:
            self.amp_errors.pop(ch, None)
        else:
            self.amp_errors[ch] = e

    def scenario_time_s(self, t_us: float | None = None) -> float:
        if t_us is None:
            t_us = self.clock.now_us()
        return (t_us - self.scenario_start_us) / 1e6

    def load_at(self, output: str, t_us: float) -> loads.Load:
        if output in self.load_override:
            return self.load_override[output]
        changed = self.scenario.load_changes(self.scenario_time_s(t_us))
        return changed.get(output, DEFAULT_LOADS[output])

    def electrode_ohms(self, electrode: str, t_us: float | None = None) -> float:
        if electrode in self.electrode_override:
            return self.electrode_override[electrode]
        base = self.electrode_base[electrode]
        return self.scenario.electrode_ohms(electrode, base, self.scenario_time_s(t_us))

    def contact_ohms(self, channels: list[int], t_us: float) -> list[float]:
        """Per channel, its active plus its reference electrode's impedance at
        t_us: electrode_ohms() for every channel of an acquisition, without
        asking the scenario about electrodes none of its effects change."""
        ts = self.scenario_time_s(t_us)
        changing = self.scenario.impedance_electrodes()
        override = self.electrode_override
        base = self.electrode_base
        out = []
        for c in channels:
            ch = CHANNELS[c]
            z = 0.0
            for e in (ch.active, ch.ref):
                v = override.get(e)
                if v is None:
                    v = self.scenario.electrode_ohms(e, base[e], ts) if e in changing else base[e]
                z += v
            out.append(z)
        return out

    def _mods(self, t_us: float):
        ts = self.scenario_time_s(t_us)
        return lambda name: self.scenario.modifiers(name, ts)

    # --- clock ------------------------------------------------------------------
    def now_us(self) -> int:
        with self.lock:
            return self.clock.now_us()

    def observe(self, device_ticks_us: int) -> None:
        """A request's clock (the device's ticks): the model follows it."""
        with self.lock:
            # Before the device's clock moves this one on: a watchdog that
            # expired while the device was silent cuts output at its deadline.
            self._check_watchdog()
            self.clock.observe(self.unwrap(device_ticks_us))

    # --- watchdog -----------------------------------------------------------------
    def watchdog(self, timeout_ms: int) -> None:
        """Start the watchdog with timeout_ms (0 stops it)."""
        with self.lock:
            self._check_watchdog()
            self.wdt_timeout_ms = max(0, int(timeout_ms))
            self.wdt_fed = time.monotonic()

    def feed_watchdog(self) -> None:
        with self.lock:
            self._check_watchdog()
            self.wdt_fed = time.monotonic()

    def take_watchdog_reset(self) -> bool:
        """True once after the watchdog expired: the supervisor resets the unit."""
        with self.lock:
            self._check_watchdog()
            due = self.wdt_reset_due
            self.wdt_reset_due = False
            return due

    def _check_watchdog(self) -> None:
        if not self.wdt_timeout_ms or self.wdt_expired:
            return
        late_s = time.monotonic() - (self.wdt_fed + self.wdt_timeout_ms / 1000)
        if late_s <= 0:
            return
        # The deadline on the timeline clock: in real time it lies late_s
        # back; in fast mode the clock has not moved since the device's last
        # request (a stalled device waits for nothing).
        now = self.clock.now_us()
        cut = now - int(late_s * 1e6) if self.clock.realtime else now
        while self.pending and self.pending[0].t_us <= cut:
            self._deliver(self.pending.pop(0))
        if self.pending:
            self.aborted = True
            self.pending = []
        self._finish_trains(force=True)
        self.wdt_expired = True
        self.wdt_reset_due = True
        self.wdt_expiries += 1
        self.wdt_cut_us = cut

    def advance(self, seconds: float) -> None:
        """Move virtual time on (a test skipping ahead in a scenario)."""
        with self.lock:
            self.clock.advance_by(int(seconds * 1e6))
            self._materialise()

    def unwrap(self, ticks_us: int) -> int:
        """The timeline time (us, unwrapped) of a device ticks_us value near now."""
        return unwrap(ticks_us - self.ticks_start_us, self.clock.now_us(), self.ticks_period)

    def device_ticks(self, t_us: int) -> tuple[int, int, int]:
        """Timeline time t_us as the device's clock: (ticks_us, ticks_ms, us
        past that ms), wrapped at its ticks period."""
        t = t_us + self.ticks_start_us
        return t % self.ticks_period, (t // 1000) % self.ticks_period, t % 1000

    def boot(self, ticks_period: int) -> None:
        """The firmware (re)started: a reset puts every output in its safe state."""
        with self.lock:
            self.ticks_period = ticks_period or DEFAULT_TICKS_PERIOD
            self.boots += 1
            self._abort()
            self.wdt_timeout_ms = 0
            self.wdt_expired = False
            self.wdt_reset_due = False

    # --- stimulation ------------------------------------------------------------
    def fire(self, start_us: int, columns: dict[str, list[int]] | np.ndarray) -> int:
        """Schedule a timeline (columns as in stimfw.stim.timeline) from start_us
        (virtual, unwrapped). Returns the number of pulses."""
        with self.lock:
            self._materialise()
            if self.pending:
                raise ModelError("a timeline is still running; abort it or wait for fire_done")
            cols = {k: list(v) for k, v in columns.items()} if isinstance(columns, dict) else columns
            n = len(cols["t_us"])
            rows = []
            for i in range(n):
                o = int(cols["output"][i])
                if not 0 <= o < len(board.OUTPUTS):
                    raise ModelError(f"pulse {i}: no output {o} (outputs 0..{len(board.OUTPUTS) - 1})")
                for name in ("w1_us", "gap_us", "w2_us"):
                    if int(cols[name][i]) < 0:
                        raise ModelError(f"pulse {i}: {name} is negative")
                rows.append(Pulse(i, start_us + int(cols["t_us"][i]), o, int(cols["amp"][i]),
                                  int(cols["w1_us"][i]), int(cols["gap_us"][i]), int(cols["w2_us"][i]),
                                  int(cols["amp2"][i]), int(cols["anodes"][i]), int(cols["cathodes"][i])))
            rows.sort(key=lambda p: (p.t_us, p.index))
            last_tc: Pulse | None = None
            for p in rows:
                if board.OUTPUTS[p.output]["name"] == "TC":
                    if last_tc is None or p.t_us - last_tc.t_us > TRAIN_GAP_US:
                        self.group_count += 1
                    p.group = self.group_count
                    last_tc = p
            self.timeline = sorted(rows, key=lambda p: p.index)
            self._open_trains = {p.group for p in rows if p.group >= 0}
            self.pending = rows
            self.aborted = False
            self.timeline_end_us = max(
                [p.t_us + p.w1 + p.gap + p.w2 for p in rows], default=start_us
            )
            if self.wdt_expired:
                # The watchdog has the output stage off until the next boot.
                self.pending = []
                self.aborted = True
            self._materialise()
            return n

    def fired_count(self) -> int:
        """The output stage's pulse counter, as the board reads it: modulo 2**16."""
        with self.lock:
            self._materialise()
            return self.fired & 0xFFFF

    def fire_done(self) -> bool:
        with self.lock:
            self._materialise()
            return not self.pending and (self.aborted or self.clock.now_us() >= self.timeline_end_us)

    def abort(self) -> None:
        with self.lock:
            self._abort()

    def _abort(self) -> None:
        self._materialise()
        if self.pending:
            self.aborted = True
            self.pending = []
            self._finish_trains(force=True)

    def _materialise(self) -> None:
        """Deliver every scheduled pulse whose start the clock has passed."""
        self._check_watchdog()
        now = self.clock.now_us()
        while self.pending and self.pending[0].t_us <= now:
            self._deliver(self.pending.pop(0))
            # A train's MEP before any later pulse's response: their random
            # draws must not depend on how far one request moved the clock.
            self._finish_trains(force=False)
        self._finish_trains(force=False)
        horizon = now - RING_US - HORIZON_US
        while self.events and self.events[0].t_us < horizon:
            self.events.popleft()
        if self.cal_triggers and self.calibrator["mode"] == "signal":
            gone = horizon - calibrator.burst_us(self.calibrator) - amplifier.MAX_DELAY_US
            if self.cal_triggers[0] < gone:
                del self.cal_triggers[:bisect.bisect_left(self.cal_triggers, gone)]

    def _deliver(self, p: Pulse) -> None:
        name = board.OUTPUTS[p.output]["name"]
        params = self.stage[p.output]
        self.pulse_count += 1
        self.fired += 1
        jrng = np.random.default_rng([self.seed, 11, self.pulse_count])
        jitter = jrng.normal(0.0, params.jitter_us) if params.jitter_us > 0 else 0.0
        # Whole us: the model's timeline is in us (and a cached waveform
        # serves every pulse with the same delay).
        delay = int(round(params.timing_offset_us + jitter))
        p.t_actual_us = p.t_us + delay
        load = self.load_at(name, p.t_actual_us)
        d = outputstage.deliver(p.output, p.amp, p.w1, p.gap, p.w2, p.amp2, load, params, delay)
        p.delivered = d
        if self.estop:
            self.pulses_while_estop += 1
        if not self.interlock:
            self.pulses_while_interlock_open += 1
        rec = {"t_us": p.t_actual_us, "scheduled_us": p.t_us, "output": name, "index": p.index,
               "commanded": p.amp, "w1_us": p.w1, "gap_us": p.gap, "w2_us": p.w2, "commanded2": p.amp2,
               "load": load.kind}
        rec.update(d.summary())
        self.pulse_log.append(rec)
        rec["anodes"], rec["cathodes"] = _contacts(p)
        if self.calibrator["mode"] == "signal" and self.calibrator["trigger"] == name:
            bisect.insort(self.cal_triggers, float(p.t_actual_us))
        t_end = p.t_actual_us + int(round(d.width1_us + d.gap_us + d.width2_us))
        balance = abs(d.charge1_uc + d.charge2_uc) / max(abs(d.charge1_uc), 1e-9)
        art = Artifact(SITES[name]["region"], p.t_actual_us, t_end, d.peak_ua / 1000.0 * (1 if p.amp >= 0 else -1), balance)
        if name == "TC":
            self._add_event(Event(p.t_actual_us, [], [art]), None)
            return
        anodes, cathodes = (p.anodes, p.cathodes) if p.amp >= 0 else (p.cathodes, p.anodes)
        rng = self._event_rng()
        mods = self._mods(p.t_actual_us)
        q = abs(d.charge1_uc)
        if name in ("P1", "P2", "P3", "P4"):
            waves, truth = self.physiology.peripheral(name, q, p.w1, p.t_actual_us, rng, mods)
        elif name == "PR":
            waves, truth = self.physiology.probe(self.probe_screw, q, p.w1, p.t_actual_us, rng, mods)
            truth = {"screw": self.probe_screw, "responses": truth}
        else:
            cath = [i for i in range(16) if cathodes >> i & 1]
            waves, truth = self.physiology.scs(cath, q, p.w1, p.t_actual_us, rng, mods)
            truth = {"cathodes": ["E%d" % i for i in cath], "responses": truth}
        del anodes
        self.trials.append((p.t_actual_us, name, waves, truth))
        self._add_event(Event(p.t_actual_us, waves, [art]), {"t_us": p.t_actual_us, "output": name, "truth": truth})

    def _event_rng(self) -> np.random.Generator:
        self.event_count += 1
        return np.random.default_rng([self.seed, 21, self.event_count])

    def _finish_trains(self, force: bool) -> None:
        """Turn delivered transcranial trains into MEPs once the train is complete."""
        if not self._open_trains:  # every request comes here: most timelines have none
            return
        pending_groups = {p.group for p in self.pending if p.group >= 0}
        done: dict[int, list] = {}
        for p in self.timeline:
            if p.group >= 0 and p.delivered is not None and (force or p.group not in pending_groups):
                done.setdefault(p.group, []).append(p)
        for g, ps in sorted(done.items()):
            if g in self.trains_done:
                continue
            self.trains_done.add(g)
            self._open_trains.discard(g)
            ps.sort(key=lambda p: p.t_actual_us)
            n = len(ps)
            isi = (ps[-1].t_actual_us - ps[0].t_actual_us) / (n - 1) if n > 1 else 0.0
            q = float(np.mean([abs(p.delivered.charge1_uc) for p in ps]))  # type: ignore[union-attr]
            first = ps[0]
            anodes_mask = first.anodes if first.amp >= 0 else first.cathodes
            names = board.OUTPUTS[first.output]["electrodes"]
            anodes = [names[i] for i in range(len(names)) if anodes_mask >> i & 1]
            t_last = ps[-1].t_actual_us
            rng = self._event_rng()
            waves, truth = self.physiology.mep(q, first.w1, n, isi, anodes, t_last, rng, self._mods(t_last))
            # Every pulse of the train starts a D-wave; drawn after the MEP,
            # so the MEP's draws are what they were. The truth is the first
            # pulse's (a sweep's trigger).
            for i, p in enumerate(ps):
                dw, dt = self.physiology.dwave(abs(p.delivered.charge1_uc), p.w1, p.t_actual_us,  # type: ignore[union-attr]
                                               rng, self._mods(p.t_actual_us))
                waves += dw
                if i == 0:
                    truth.update(dt)
            self.trials.append((t_last, "TC", waves, truth))
            self._add_event(Event(t_last, waves, []), {
                "t_us": t_last, "output": "TC", "pulses": n, "isi_us": round(isi, 1),
                "anodes": anodes, "charge_uC_per_pulse": round(q, 4), "truth": truth,
            })

    def _add_event(self, ev: Event, truth: dict[str, Any] | None) -> None:
        self.events.append(ev)
        if len(self.events) > 1 and self.events[-2].t_us > ev.t_us:
            self.events = deque(sorted(self.events, key=lambda e: e.t_us))
        if truth is not None:
            self.response_log.append(truth)

    def monitor(self, pulse_index: int, max_samples: int) -> np.ndarray:
        """The monitor trace of one pulse of the last timeline: int16 current,
        voltage interleaved; empty until the pulse has been delivered."""
        with self.lock:
            self._materialise()
            if not 0 <= pulse_index < len(self.timeline):
                raise ModelError(f"no pulse {pulse_index} in the last timeline ({len(self.timeline)} pulses)")
            p = self.timeline[pulse_index]
            if p.delivered is None:
                return np.zeros(0, dtype="<i2")
            return outputstage.monitor_int16(p.delivered, p.output, max_samples)

    def set_load(self, output: str, load: loads.Load | None) -> None:
        with self.lock:
            if output not in OUTPUT_INDEX:
                raise ModelError(f"no output {output!r}; outputs: {', '.join(OUTPUT_INDEX)}")
            self._materialise()
            if load is None:
                self.load_override.pop(output, None)
            else:
                self.load_override[output] = load

    # --- safety inputs ------------------------------------------------------------
    def safety_bits(self) -> int:
        with self.lock:
            self._materialise()
            return (1 if self.interlock else 0) | (2 if self.estop else 0)

    # --- acquisition ------------------------------------------------------------
    def acquire(self, t0_us: int, rate_hz: int, n: int, channels: list[int]) -> np.ndarray:
        """(n, len(channels)) int16 from t0_us (virtual, unwrapped). In fast
        mode a window reaching past now moves the clock to its end."""
        with self.lock:
            if rate_hz not in board.AMP_RATES_HZ:
                raise ModelError(f"rate {rate_hz} Hz not supported; rates: {board.AMP_RATES_HZ}")
            if not channels or min(channels) < 0 or max(channels) >= len(CHANNELS):
                raise ModelError(f"channels must be 0..{len(CHANNELS) - 1}, got {list(channels)}")
            if n <= 0:
                raise ModelError("buffer holds no samples")
            t_end = t0_us + int(n * 1e6 / rate_hz)
            self.clock.advance_to(t_end)
            self._materialise()
            now = self.clock.now_us()
            if t0_us < now - RING_US:
                raise ModelError(f"samples from {t0_us} us are gone: the ring buffer holds {RING_US // 1000000} s")
            waves: list[Wave] = []
            arts: list[Artifact] = []
            first = bisect.bisect_left(self.events, float(t0_us - HORIZON_US), key=_event_time)
            for ev in itertools.islice(self.events, first, None):
                if ev.t_us > t_end:
                    break
                waves += ev.waves
                arts += ev.artifacts
            ohms = self.contact_ohms(channels, t0_us)
            s = self.scenario
            self.acquired_samples += n * len(channels)
            self.acquire_log.append((t0_us, rate_hz, n, tuple(channels)))
            return self.renderer.render(t0_us, rate_hz, n, list(channels), waves, arts, ohms,
                                        s.mains_hz, s.movement_per_min, s.cautery_per_min,
                                        self.recovery_ms, self.amp_errors, self._injection(t0_us, t_end))

    def _injection(self, t0_us: int, t_end_us: int) -> calibrator.Injection | None:
        """The calibrator's part of an acquisition from t0_us to t_end_us."""
        spec = self.calibrator
        if spec["mode"] == "off":
            return None
        triggers: list[float] = []
        if spec["mode"] == "signal":
            # a trigger's burst reaches this far, delayed by a channel's delay at most
            lo = t0_us - calibrator.burst_us(spec) - amplifier.MAX_DELAY_US
            a = bisect.bisect_left(self.cal_triggers, lo)
            b = bisect.bisect_right(self.cal_triggers, float(t_end_us))
            triggers = self.cal_triggers[a:b]
        return calibrator.Injection(spec, triggers)

    recovery_ms = 0.7  # amplifier recovery time constant after an overload

    def impedance(self, electrode: str) -> int:
        with self.lock:
            self._materialise()
            now = self.clock.now_us()
            for o in board.OUTPUTS:
                if electrode in o["electrodes"]:
                    z = self.load_at(o["name"], now).impedance()
                    return int(min(z, loads.METER_MAX_OHMS))
            if electrode in RECORDING_ELECTRODES:
                return int(min(self.electrode_ohms(electrode, now), loads.METER_MAX_OHMS))
            raise ModelError(f"no electrode {electrode!r}")

    # --- sim-only control -------------------------------------------------------------
    SIM_KEYS = ("seed", "scenario", "interlock", "estop", "load", "stage", "probe", "electrode",
                "recovery_ms", "advance_s", "groundtruth", "truth_average", "stall_ms", "amp", "calibrator")

    def sim(self, req: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            unknown = set(req) - set(self.SIM_KEYS)
            if unknown:
                raise ModelError(f"unknown sim request keys {sorted(unknown)}; known: {list(self.SIM_KEYS)}")
            out: dict[str, Any] = {"ok": True}
            if "seed" in req:
                self._set_seed(int(req["seed"]))
            if "scenario" in req:
                try:
                    self._set_scenario(str(req["scenario"]))
                except ValueError as e:
                    raise ModelError(str(e)) from None
                out["scenario"] = self.scenario.name
            if "interlock" in req:
                self.interlock = bool(req["interlock"])
            if "estop" in req:
                self.estop = bool(req["estop"])
            if "load" in req:
                spec = dict(req["load"])
                output = str(spec.pop("output", ""))
                try:
                    self.set_load(output, None if spec.get("kind") in (None, "default") else loads.from_spec(spec))
                except ValueError as e:
                    raise ModelError(str(e)) from None
            if "stage" in req:
                spec = dict(req["stage"])
                output = str(spec.pop("output", ""))
                self._materialise()
                self._set_stage(output, spec)
            if "amp" in req:
                spec = req["amp"]
                if not isinstance(spec, dict) or "channel" not in spec:
                    raise ModelError(f"amp: give a table with channel (0..{len(CHANNELS) - 1}) "
                                     f"and any of {list(amplifier.FIELDS)}")
                spec = dict(spec)
                ch = spec.pop("channel")
                self._materialise()
                self._set_amp(ch, spec)
                c = amplifier.channel_index(ch)
                out["amp"] = dict(self.amp_errors.get(c, amplifier.NONE).describe(), channel=c)
            if "calibrator" in req:
                try:
                    state = calibrator.parse(req["calibrator"], self.scenario.mains_hz)
                except ValueError as e:
                    raise ModelError(str(e)) from None
                # Pulses delivered so far triggered the calibrator as it was.
                self._materialise()
                if state != self.calibrator:
                    self.cal_triggers = []
                self.calibrator = state
                out["calibrator"] = dict(state)
            if "probe" in req:
                screw = req["probe"]
                if screw is not None and screw not in self.scenario.screws:
                    raise ModelError(f"no screw {screw!r}; screws: {sorted(self.scenario.screws)}")
                self.probe_screw = screw
            if "electrode" in req:
                spec = dict(req["electrode"])
                name = str(spec.get("name"))
                if name not in RECORDING_ELECTRODES:
                    raise ModelError(f"no recording electrode {name!r}; electrodes: {list(RECORDING_ELECTRODES)}")
                if spec.get("ohms") is None:
                    self.electrode_override.pop(name, None)
                else:
                    self.electrode_override[name] = float(spec["ohms"])
            if "recovery_ms" in req:
                self.recovery_ms = float(req["recovery_ms"])
            if "advance_s" in req:
                self.advance(float(req["advance_s"]))
            if "stall_ms" in req:
                # Test-only: the sim HAL sleeps this long after the reply, so
                # the firmware's main loop stalls in this step.
                self._materialise()
                self.stall_began_us = self.clock.now_us()
                out["stall_ms"] = int(req["stall_ms"])
            if req.get("groundtruth"):
                out["groundtruth"] = self.ground_truth()
            if "truth_average" in req:
                out["truth_average"] = self.truth_average(dict(req["truth_average"]))
            out["now_us"] = self.clock.now_us()
            return out

    def ground_truth(self) -> dict[str, Any]:
        with self.lock:
            self._materialise()
            return groundtruth.snapshot(self)

    def truth_average(self, req: dict[str, Any]) -> dict[str, Any]:
        """The noise-free expected average of a run's trials on one channel
        (groundtruth.truth_average; groundtruth.through applies a band)."""
        with self.lock:
            self._materialise()
            try:
                return groundtruth.truth_average(self, req)
            except (KeyError, TypeError, ValueError) as e:
                raise ModelError(f"truth_average: {e!r}") from None
