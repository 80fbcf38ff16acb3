# Free-run EMG: continuous blocks from selected channels, filtered with the
# state carried from block to block, and scanned for discharges.
#
# A spike is a threshold crossing of the filtered signal (with a refractory
# time). Spikes closer than gap_ms form one group; when a group ends it is
# classified: one spike = "spike"; shorter than train_ms or fewer than
# train_spikes spikes = "burst"; otherwise "train" (a neurotonic A-train),
# whose duration adds to the channel's cumulative train time. Scanning costs
# nothing for a block whose peak stays below the threshold.
from array import array

import board

from stimfw.core import arena
from stimfw.core.buffers import zeros
from stimfw.dsp import backend as dsp_backend
from stimfw.dsp import filters

MAX_EVENTS = 64  # kept until read; older ones are counted as dropped


class FreeRun:
    def __init__(self, n_ch, rate_hz, block, sos_rows, thr_uv=50.0, refractory_ms=1.0,
                 gap_ms=20.0, train_spikes=8, train_ms=100.0, backend=None):
        be = backend or dsp_backend.impl
        self.n_ch = n_ch
        self.rate_hz = rate_hz
        self.block = block
        self.chain = be.FreeRunChain(n_ch, filters.validate(sos_rows))
        self.thr = int(thr_uv / board.AMP_UV_PER_LSB)
        self.refr = int(refractory_ms * rate_hz / 1000)
        self.gap = int(gap_ms * rate_hz / 1000)
        self.train_spikes = train_spikes
        self.train_len = int(train_ms * rate_hz / 1000)
        self.t = 0  # samples since the stream started
        z = bytearray(4 * n_ch)
        self.last = array("i", z)  # sample of the last spike, -1 none
        self.g_start = array("i", z)
        self.g_count = array("i", z)
        self.g_peak = array("i", z)
        for c in range(n_ch):
            self.last[c] = -1
        self.spikes = array("i", z)
        self.bursts = array("i", z)
        self.trains = array("i", z)
        self.train_samples = array("i", z)
        self.events = []
        self.dropped = 0
        # Last, so that nothing after it can fail and leave it held: the
        # block buffer from the DSP arena's end when a run's averaging leaves
        # room there (release() gives it back), else the heap.
        self.buf = arena.hold(2 * n_ch * block)
        self.held = self.buf is not None
        try:
            if not self.held:
                self.buf = zeros("h", n_ch * block)
            # What the chain makes of the buffer, made now with the rest of
            # the set-up, not at the first block among its transient objects.
            self.chain.prepare(self.buf, block)
        except MemoryError:
            self.release()
            raise

    def release(self):
        """The stream ended: the arena's end is free for runs again."""
        if self.held:
            self.held = False
            arena.let_go()

    def feed(self, buf, n):
        """Filter n samples per channel of buf (in place) and detect."""
        self.chain.process(buf, n)
        n_ch = self.n_ch
        thr = self.thr
        t0 = self.t
        for c in range(n_ch):
            if self.chain.peaks[c] >= thr:
                idx = c
                for i in range(n):
                    v = buf[idx]
                    idx += n_ch
                    if v >= thr or v <= -thr:
                        self._spike(c, t0 + i, v if v > 0 else -v)
        self.t = t0 + n
        for c in range(n_ch):
            if self.g_count[c] and self.t - self.last[c] > self.gap:
                self._close(c)

    def _spike(self, c, t, a):
        last = self.last[c]
        if last >= 0 and t - last <= self.refr:
            if a > self.g_peak[c]:
                self.g_peak[c] = a
            return
        if self.g_count[c] and t - last > self.gap:
            self._close(c)
        if not self.g_count[c]:
            self.g_start[c] = t
            self.g_peak[c] = 0
        self.g_count[c] += 1
        if a > self.g_peak[c]:
            self.g_peak[c] = a
        self.last[c] = t
        self.spikes[c] += 1

    def _close(self, c):
        cnt = self.g_count[c]
        dur = self.last[c] - self.g_start[c]
        if cnt == 1:
            kind = "spike"
        elif cnt < self.train_spikes or dur < self.train_len:
            kind = "burst"
            self.bursts[c] += 1
        else:
            kind = "train"
            self.trains[c] += 1
            self.train_samples[c] += dur
        ms = 1000.0 / self.rate_hz
        ev = {"kind": kind, "ch": c, "t_ms": self.g_start[c] * ms, "dur_ms": dur * ms,
              "spikes": cnt, "peak_uv": self.g_peak[c] * board.AMP_UV_PER_LSB}
        if len(self.events) >= MAX_EVENTS:
            self.events.pop(0)
            self.dropped += 1
        self.events.append(ev)
        self.g_count[c] = 0

    def take_events(self):
        ev = self.events
        self.events = []
        return ev

    def summary(self):
        ms = 1000.0 / self.rate_hz
        return {
            "t_ms": self.t * ms,
            "spikes": list(self.spikes),
            "bursts": list(self.bursts),
            "trains": list(self.trains),
            "train_ms": [v * ms for v in self.train_samples],
            "train_ms_total": sum(self.train_samples) * ms,
            "dropped": self.dropped,
        }
