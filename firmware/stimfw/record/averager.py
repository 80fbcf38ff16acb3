# Trigger-locked sweep averaging: the device API the sequencer drives.
#
#   p = SweepProcessor(protocol["acquisition"])
#   taken = p.take(hal, trigger_us, pulse_times_us)  # acquire, blank, filter,
#                                                    # reject, add; per channel
#   if p.progress_due(): link.push(PUSH_PROGRESS, p.progress())
#   p.results() -> dict; p.wave_bytes(split, ch) -> float32 bytes for MSG_PULL
#
# A sweep is acquired and processed one channel at a time into a one-channel
# buffer: the working set is one channel's samples, not the whole sweep, and
# every channel is accepted or rejected on its own (one noisy EMG lead does
# not discard the cortical average). take() allocates nothing (after the
# first sweep) on the fixed-point backend; on the ulab backend, sosfilt
# allocates its float32 output per channel (4n + about 192 bytes, docs/DSP.md).
from array import array

from stimfw.core import arena
from stimfw.core.buffers import zeros
from stimfw.core.errors import ERR_BAD_PAYLOAD, LimitRefused, Refused, need, need_one_of
from stimfw.dsp import backend as dsp_backend
from stimfw.dsp import filters
from stimfw.record import artifact, rejection

MAX_SAMPLES = 4096  # per channel and sweep


class SweepProcessor:
    """Configured from a protocol's acquisition dict:
    {rate_hz, pre_ms, post_ms, channels, band, notch, sos, blank_us, reject_uv,
     split, progress_every, components, response_ms}. blank_us is [before,
    after] the pulse (or one number: after only); response_ms is the window
    of response_pp_uv() (default: all of the post-trigger part). Raises
    core.errors.Refused (LimitRefused for a value out of range)."""

    def __init__(self, cfg, amp=None, backend=None):
        # amp: what declares the amplifiers (AMP_RATES_HZ, AMP_CHANNELS,
        # AMP_UV_PER_LSB); the board module unless a caller that has not
        # loaded it (a memory-tight build) passes those three itself.
        if amp is None:
            import board as amp
        be = backend or dsp_backend.impl
        rate = cfg.get("rate_hz")
        need_one_of("rate_hz", rate, amp.AMP_RATES_HZ, "Hz")
        self.rate_hz = rate
        self.rate_khz = rate // 1000
        pre_ms = need("pre_ms", cfg.get("pre_ms", 0), 0, 100, "ms")
        post_ms = need("post_ms", cfg.get("post_ms"), 1, 500, "ms")
        self.pre = int(pre_ms * rate / 1000)
        self.pre_us = self.pre * 1000000 // rate  # whole samples before the trigger
        n = self.pre + int(post_ms * rate / 1000)
        need("samples", n, 16, MAX_SAMPLES)
        self.n = n
        # The sweep's window ends this long after the trigger.
        self.post_us = (n - self.pre) * 1000000 // rate
        chans = cfg.get("channels")
        if not isinstance(chans, (list, tuple)) or not chans:
            raise LimitRefused("channels", 0, 1, amp.AMP_CHANNELS)
        for c in chans:
            need("channel", c, 0, amp.AMP_CHANNELS - 1)
        if len(set(chans)) != len(chans):
            raise Refused(ERR_BAD_PAYLOAD, "channels repeat", {"key": "channels", "value": list(chans)})
        self.channels = tuple(chans)
        self.n_ch = len(chans)
        # the channels argument of acquire(), one per channel, made once
        self._one = tuple((c,) for c in chans)
        blank = cfg.get("blank_us", 0)
        if isinstance(blank, (list, tuple)):
            self.blank_before = int(need("blank_before_us", blank[0], 0, 10000, "us"))
            self.blank_after = int(need("blank_after_us", blank[1], 0, 50000, "us"))
        else:
            self.blank_before = 0
            self.blank_after = int(need("blank_us", blank, 0, 50000, "us"))
        win = cfg.get("response_ms", (0, post_ms))
        if not isinstance(win, (list, tuple)) or len(win) != 2:
            raise Refused(ERR_BAD_PAYLOAD, "response_ms must be [start, end]", {"key": "response_ms"})
        need("response_start_ms", win[0], -pre_ms, post_ms, "ms")
        need("response_end_ms", win[1], win[0], post_ms, "ms")
        self.resp_i0 = max(self.pre + int(win[0] * rate / 1000 + 0.5), 0)
        self.resp_i1 = min(self.pre + int(win[1] * rate / 1000 + 0.5) + 1, n)
        # Pre-stimulus noise window: clear of the filter's first samples
        # (its start from zero state) and of the blanking before the pulse.
        self.noise_i0 = self.pre // 5
        self.noise_i1 = max(self.pre - (self.blank_before * rate + 999999) // 1000000, self.noise_i0)
        self.uv_per_lsb = amp.AMP_UV_PER_LSB
        reject_uv = need("reject_uv", cfg.get("reject_uv", 4000), 1, 32767 * self.uv_per_lsb, "uV")
        self.split = bool(cfg.get("split", True))
        self.progress_every = int(need("progress_every", cfg.get("progress_every", 50), 1, 100000))
        self.components = cfg.get("components") or []
        self.sos = filters.from_config(cfg)
        # One channel's sweep buffer (int16) from the DSP arena when it has
        # room, else the heap.
        self.buf = arena.take(2 * n)
        if self.buf is None:
            self.buf = zeros("h", n)
        self.chain = be.SweepChain(self.n_ch, n, self.sos)
        self.chain.prepare(self.buf)
        self.backend = be.NAME
        self.rej = rejection.Rejection(int(reject_uv / self.uv_per_lsb), self.n_ch)
        self.verdicts = bytearray(self.n_ch)  # of the last sweep, per channel
        self.pp = array("i", bytearray(4 * self.n_ch))  # LSB, of the last sweep
        self.noise_pp = array("i", bytearray(4 * self.n_ch))  # LSB, before its stimulus
        self.used = 0  # sweeps that added at least one channel to the average
        self._due = False
        # per-trial measurement of each filtered channel (record.mep.MepTrials)
        self.trial = None

    def reset(self):
        self.chain.reset()
        self.rej.reset()
        self.used = 0
        self._due = False

    # --- per sweep ----------------------------------------------------------
    def take(self, hal, t0_us, pulse_times_us=(0,), n_pulses=-1):
        """Acquire and process the sweep of a trigger at t0_us (timeline
        clock), channel by channel: hal.acquire() of the channel from
        t0_us - pre into self.buf, blanking around each pulse (pulse_times_us,
        relative to the trigger), saturation check, filter, amplitude check,
        and accumulation into the channel's sums unless the channel's sweep is
        rejected. All channels of a sweep go to the same split; the split
        alternates over the sweeps that add to the average. Per-channel
        verdicts are left in self.verdicts, response amplitudes in self.pp.
        n_pulses >= 0 uses only that many of pulse_times_us (a preallocated
        array can then carry any number without a slice being made).
        Returns the number of channels added to the average."""
        buf = self.buf
        n = self.n
        chain = self.chain
        rej = self.rej
        t = hal.ticks_add(t0_us, -self.pre_us)
        split = (self.used & 1) if self.split else 0
        blanking = self.blank_before or self.blank_after
        rej.sweep()
        n_p = len(pulse_times_us) if n_pulses < 0 else n_pulses
        taken = 0
        for ci in range(self.n_ch):
            hal.acquire(t, self.rate_hz, self._one[ci], buf)
            if blanking:
                artifact.blank_train(buf, n, pulse_times_us, n_p, self.blank_before,
                                     self.blank_after, self.pre, self.rate_khz)
            sat = chain.process(buf)
            if self.trial is not None:
                self.trial.measure(ci, buf, sat)
            self.pp[ci] = chain.span(buf, self.resp_i0, self.resp_i1)
            self.noise_pp[ci] = chain.span(buf, self.noise_i0, self.noise_i1)
            v = rej.judge(ci, sat, chain.peak)
            self.verdicts[ci] = v
            if v == rejection.ACCEPT and chain.accumulate(buf, split, ci):
                taken += 1
        self._due = False
        if taken:
            self.used += 1
            self._due = self.used % self.progress_every == 0
        return taken

    def progress_due(self):
        return self._due

    def response_pp_uv(self, ch_index):
        """Peak-to-peak of one channel of the last sweep taken, filtered, in
        the response_ms window, in uV: the response amplitude a threshold
        search compares with its level."""
        return self.pp[ch_index] * self.uv_per_lsb

    def noise_pp_uv(self, ch_index):
        """Peak-to-peak of the same sweep and channel before its stimulus
        (clear of the blanking), in uV: the noise a response is judged
        against."""
        return self.noise_pp[ch_index] * self.uv_per_lsb

    # --- results ------------------------------------------------------------
    # Results are read straight from the sums through MeanView: no waveform
    # copies, so an 8 x 1000 A/B average fits a ~96 KB heap with room to spare.
    def wave(self, split, ch_index):
        """Average of one channel in uV, as a read-only sequence; split 0 A, 1 B, 2 both."""
        return MeanView(self, split, ch_index)

    def counts(self):
        """Sweeps taken, and per channel (lists in channel order) the sweeps
        averaged in all, in split A and in split B."""
        ch = self.chain
        rng = range(self.n_ch)
        return {"channels": list(self.channels), "sweeps": self.rej.total, "used": self.used,
                "accepted": [ch.sweeps(2, c) for c in rng],
                "a": [ch.sweeps(0, c) for c in rng], "b": [ch.sweeps(1, c) for c in rng]}

    def progress(self):
        d = self.counts()
        d.update(self.rej.summary())
        d["accepted_total"] = sum(d["accepted"])
        return d

    def results(self, snr_win_ms=None):
        """Counts, SNR per channel, and the components measured on the
        zero-phase average (dsp/zerophase.py; the sweep buffer is its work
        space, so call it once the sweeps are in)."""
        d = self.progress()
        d["backend"] = self.backend
        d["rate_hz"] = self.rate_hz
        d["pre"] = self.pre
        d["n"] = self.n
        comps = []
        if self.components:
            from stimfw.dsp.zerophase import Backward
            from stimfw.record import measure

            back = Backward(self.sos, self.chain, self.buf, self.n, self.uv_per_lsb)
        for spec in self.components:
            ci = self.channels.index(spec.get("ch", self.channels[0]))
            both = self.chain.sweeps(0, ci) and self.chain.sweeps(1, ci)
            r = measure.averaged(back, ci, both, self.rate_hz, self.pre, spec)
            r["ch"] = self.channels[ci]
            r["sweeps"] = self.chain.sweeps(2, ci)
            comps.append(r)
        d["components"] = comps
        if self.split:
            from stimfw.record import measure

            # per channel; None where a split of that channel is still empty
            win = snr_win_ms or (0, (self.n - self.pre) * 1000 / self.rate_hz)
            d["snr"] = [measure.snr(self.wave(0, c), self.wave(1, c), self.rate_hz, self.pre, win)
                        if self.chain.sweeps(0, c) and self.chain.sweeps(1, c) else None
                        for c in range(self.n_ch)]
        return d

    def wave_bytes(self, split, ch_index):
        """One channel's average as little-endian float32 uV: a MSG_PULL object."""
        out = array("f", bytearray(4 * self.n))
        w = self.wave(split, ch_index)
        for i in range(self.n):
            out[i] = w[i]
        return bytes(out)


class MeanView:
    """Sequence view of one channel's mean in uV, computed on access."""

    def __init__(self, proc, split, ch_index):
        self.chain = proc.chain
        self.split = split
        self.c = ch_index
        self.n = proc.n
        self.k = proc.uv_per_lsb
        self.one = array("f", [0.0])

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError("sample index out of range")
        self.chain.mean_at(self.split, self.c, i, self.one)
        return self.one[0] * self.k
