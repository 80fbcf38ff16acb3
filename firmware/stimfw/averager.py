# Trigger-locked sweep averaging: the device API the sequencer drives.
#
#   p = SweepProcessor(protocol["acquisition"])
#   hal.acquire(t0, p.rate_hz, p.channels, p.buf)    # or acquisition.Sweeps
#   verdict = p.feed(p.buf, pulse_times_us)          # blank, filter, reject, add
#   if p.progress_due(): link.push(PUSH_PROGRESS, p.progress())
#   p.results() -> dict; p.wave_bytes(split, ch) -> float32 bytes for MSG_PULL
#
# feed() allocates nothing (after the first sweep) on the fixed-point backend;
# the ulab backend allocates its float temporaries per sweep.
from array import array

from stimfw import arena, artifact, dsp_backend, filters, rejection
from stimfw.buffers import zeros

MAX_SAMPLES = 4096  # per channel and sweep


class ConfigError(ValueError):
    def __init__(self, message, detail):
        super().__init__(message)
        self.message = message
        self.detail = detail


def _need(name, value, lo, hi, unit=""):
    if not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise ConfigError(
            "%s %s is outside [%s, %s]%s" % (name, value, lo, hi, " " + unit if unit else ""),
            {"limit": name, "value": value, "min": lo, "max": hi, "unit": unit},
        )
    return value


class SweepProcessor:
    """Configured from a protocol's acquisition dict:
    {rate_hz, pre_ms, post_ms, channels, band, notch, sos, blank_us, reject_uv,
     split, progress_every, components}. blank_us is [before, after] the pulse
    (or one number: after only). Raises ConfigError or filters.FilterError."""

    def __init__(self, cfg, amp=None, backend=None):
        # amp: what declares the amplifiers (AMP_RATES_HZ, AMP_CHANNELS,
        # AMP_UV_PER_LSB); the board module unless a caller that has not
        # loaded it (a memory-tight build) passes those three itself.
        if amp is None:
            import board as amp
        be = backend or dsp_backend.impl
        rate = cfg.get("rate_hz")
        if rate not in amp.AMP_RATES_HZ:
            raise ConfigError("rate_hz %s is not one of %s" % (rate, amp.AMP_RATES_HZ),
                              {"limit": "rate_hz", "value": rate, "min": min(amp.AMP_RATES_HZ),
                               "max": max(amp.AMP_RATES_HZ), "unit": "Hz"})
        self.rate_hz = rate
        self.rate_khz = rate // 1000
        pre_ms = _need("pre_ms", cfg.get("pre_ms", 0), 0, 100, "ms")
        post_ms = _need("post_ms", cfg.get("post_ms"), 1, 500, "ms")
        self.pre = int(pre_ms * rate / 1000)
        n = self.pre + int(post_ms * rate / 1000)
        _need("samples", n, 16, MAX_SAMPLES)
        self.n = n
        chans = cfg.get("channels")
        if not isinstance(chans, (list, tuple)) or not chans:
            raise ConfigError("channels must be a non-empty list",
                              {"limit": "channels", "value": 0, "min": 1, "max": amp.AMP_CHANNELS, "unit": ""})
        for c in chans:
            _need("channel", c, 0, amp.AMP_CHANNELS - 1)
        if len(set(chans)) != len(chans):
            raise ConfigError("channels repeat", {"limit": "channels", "value": len(chans),
                                                  "min": 1, "max": amp.AMP_CHANNELS, "unit": ""})
        self.channels = tuple(chans)
        self.n_ch = len(chans)
        blank = cfg.get("blank_us", 0)
        if isinstance(blank, (list, tuple)):
            self.blank_before = int(_need("blank_before_us", blank[0], 0, 10000, "us"))
            self.blank_after = int(_need("blank_after_us", blank[1], 0, 50000, "us"))
        else:
            self.blank_before = 0
            self.blank_after = int(_need("blank_us", blank, 0, 50000, "us"))
        self.uv_per_lsb = amp.AMP_UV_PER_LSB
        reject_uv = _need("reject_uv", cfg.get("reject_uv", 4000), 1, 32767 * self.uv_per_lsb, "uV")
        self.split = bool(cfg.get("split", True))
        self.progress_every = int(_need("progress_every", cfg.get("progress_every", 50), 1, 100000))
        self.components = cfg.get("components") or []
        self.sos = filters.from_config(cfg)
        # The sweep buffer (int16, interleaved by sample) from the DSP arena
        # when it has room, else the heap.
        self.buf = arena.take(2 * self.n_ch * n)
        if self.buf is None:
            self.buf = zeros("h", self.n_ch * n)
        self.chain = be.SweepChain(self.n_ch, n, self.sos)
        self.backend = be.NAME
        self.rej = rejection.Rejection(int(reject_uv / self.uv_per_lsb))
        self.accepted = 0
        self._due = False

    def reset(self):
        self.chain.reset()
        self.rej.reset()
        self.accepted = 0
        self._due = False

    # --- per sweep ----------------------------------------------------------
    def feed(self, buf, pulse_times_us=(0,)):
        """Process one acquired sweep (filtered in place). pulse_times_us are
        the stimulus pulses relative to the trigger. Returns a rejection verdict."""
        n_ch = self.n_ch
        if self.blank_before or self.blank_after:
            for t in pulse_times_us:
                artifact.blank_pulse(buf, n_ch, self.n, t, self.blank_before, self.blank_after,
                                     self.pre, self.rate_khz)
        sat = self.chain.process(buf)
        peak = 0
        peaks = self.chain.peaks
        for c in range(n_ch):
            if peaks[c] > peak:
                peak = peaks[c]
        verdict = self.rej.judge(sat, peak)
        self._due = False
        if verdict == rejection.ACCEPT:
            split = (self.accepted & 1) if self.split else 0
            if self.chain.accumulate(buf, split):
                self.accepted += 1
                self._due = self.accepted % self.progress_every == 0
        return verdict

    def progress_due(self):
        return self._due

    def response_pp_uv(self, buf, ch_index, win_ms):
        """Peak-to-peak of one channel of the sweep just fed, in uV: the
        response amplitude a threshold search compares with its level."""
        n_ch = self.n_ch
        i0 = self.pre + int(win_ms[0] * self.rate_hz / 1000 + 0.5)
        i1 = self.pre + int(win_ms[1] * self.rate_hz / 1000 + 0.5) + 1
        i0 = max(i0, 0)
        i1 = min(i1, self.n)
        hi = -32768
        lo = 32767
        for i in range(i0, i1):
            v = buf[i * n_ch + ch_index]
            if v > hi:
                hi = v
            if v < lo:
                lo = v
        return (hi - lo) * self.uv_per_lsb if i1 > i0 else 0.0

    # --- results ------------------------------------------------------------
    # Results are read straight from the sums through MeanView: no waveform
    # copies, so an 8 x 1000 A/B average fits a ~96 KB heap with room to spare.
    def wave(self, split, ch_index):
        """Average of one channel in uV, as a read-only sequence; split 0 A, 1 B, 2 both."""
        return MeanView(self, split, ch_index)

    def counts(self):
        return {"accepted": self.accepted, "a": self.chain.count[0], "b": self.chain.count[1]}

    def progress(self):
        d = self.counts()
        d.update(self.rej.summary())
        return d

    def results(self, snr_win_ms=None):
        from stimfw import measure

        d = self.progress()
        d["backend"] = self.backend
        d["rate_hz"] = self.rate_hz
        d["pre"] = self.pre
        d["n"] = self.n
        d["channels"] = list(self.channels)
        comps = []
        for spec in self.components:
            ci = self.channels.index(spec.get("ch", self.channels[0]))
            r = measure.component(self.wave(2, ci), self.rate_hz, self.pre, spec)
            r["ch"] = self.channels[ci]
            comps.append(r)
        d["components"] = comps
        if self.split and self.chain.count[1]:
            win = snr_win_ms or (0, (self.n - self.pre) * 1000 / self.rate_hz)
            d["snr"] = [measure.snr(self.wave(0, c), self.wave(1, c), self.rate_hz, self.pre, win)
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
