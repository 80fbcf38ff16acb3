# Electrode impedance checks and free-run EMG as link requests, and the
# free-run main-loop task. Loaded on first use (stimfw.amp.slot).
#
# Free-run's block buffer (at most MAX_BLOCK_SAMPLES int16) is held at the
# DSP arena's end, which a run's set-up leaves alone (stimfw/core/arena.py),
# or, when a run's averaging fills the arena, taken from the heap; either is
# given back on stop.
import gc

import board

from stimfw.core import errors as err
from stimfw.core import notices as note

# A stream further behind the present than this skips to it: the amplifier's
# ring buffer holds no more (on the simulated unit it holds 30 s; a board's
# DMA ring far less), and catching up block by block would only ask for
# samples that are gone.
MAX_LAG_US = 1000000
MAX_BLOCK_SAMPLES = 4096  # channels x samples per block (8 KB of int16)
MAX_ELECTRODES = 64


def _electrode_names(bd):
    names = list(bd.AMP_ELECTRODES)
    for o in bd.OUTPUTS:
        names.extend(o["electrodes"])
    return names


# --- impedance -----------------------------------------------------------------
def impedance_request(hal, bd, stimulating, req):
    """{electrodes?, pairs?, max_kohm?, mismatch_kohm?} -> impedance.evaluate()
    result. Refused while a run stimulates: the test signal would flow
    through the patient during the stimulus run and into its recordings."""
    from stimfw.amp import impedance

    if stimulating:
        raise err.Refused(err.ERR_STATE, "no impedance check while STIMULATING",
                          {"state": "STIMULATING"})
    known = _electrode_names(bd)
    names = req.get("electrodes") or list(bd.AMP_ELECTRODES)
    pairs = req.get("pairs") or []
    if not isinstance(names, list) or not isinstance(pairs, list):
        raise err.Refused(err.ERR_BAD_PAYLOAD, "electrodes and pairs must be lists")
    err.need("electrodes", len(names), 1, MAX_ELECTRODES)
    for p in pairs:
        if not isinstance(p, list) or len(p) != 2:
            raise err.Refused(err.ERR_BAD_PAYLOAD, "a pair is [active, reference]")
    wanted = []
    for n in names:
        if n not in wanted:
            wanted.append(n)
    for p in pairs:
        for n in p:
            if n not in wanted:
                wanted.append(n)
    for n in wanted:
        if n not in known:
            raise err.Refused(err.ERR_NOT_FOUND, "no electrode %r" % (n,), {"known": known})
    max_kohm = err.need("max_kohm", req.get("max_kohm", impedance.MAX_KOHM), 0.5, 20, "kOhm")
    mismatch = err.need("mismatch_kohm", req.get("mismatch_kohm", impedance.MISMATCH_KOHM),
                      0.1, 10, "kOhm")
    return impedance.check(hal, wanted, [tuple(p) for p in pairs], max_kohm, mismatch)


# --- free-run EMG --------------------------------------------------------------
class FreeRunTask:
    """Main-loop task: once the next block lies in the past on the timeline
    clock, acquire it, filter and scan it, and push what was detected (at
    most one push per block). One block per pass, so the link and the safety
    supervisor are serviced between blocks."""

    def __init__(self, hal, push):
        self.hal = hal
        self.push = push
        self.stream = None
        self.fr = None
        self.channels = ()
        self.end_block = 0  # stop after this many blocks (0: until stopped)
        self.last = None  # summary of the last stream, for a stop after it ended
        self.start_us = 0
        self.gap_blocks = 0  # blocks skipped because the stream fell behind

    def start(self, cfg, bd=board):
        if self.stream is not None:
            raise err.Refused(err.ERR_BUSY, "free-run EMG is already streaming")
        chans = cfg.get("channels")
        if not isinstance(chans, list) or not chans:
            raise err.Refused(err.ERR_BAD_PAYLOAD, "channels must be a non-empty list")
        for c in chans:
            err.need("channel", c, 0, bd.AMP_CHANNELS - 1, "")
        if len(set(chans)) != len(chans):
            raise err.Refused(err.ERR_BAD_PAYLOAD, "channels repeat")
        rate = cfg.get("rate_hz", 10000)
        err.need_one_of("rate_hz", rate, bd.AMP_RATES_HZ, "Hz")
        block_ms = err.need("block_ms", cfg.get("block_ms", 10), 1, 100, "ms")
        block = int(block_ms * rate // 1000)
        err.need("block_samples", block * len(chans), 1, MAX_BLOCK_SAMPLES)
        duration_ms = err.need("duration_ms", cfg.get("duration_ms", 0), 0, 3600000, "ms")
        thr = err.need("thr_uv", cfg.get("thr_uv", 50), 5, 4000, "uV")
        refr = err.need("refractory_ms", cfg.get("refractory_ms", 1.0), 0.1, 20, "ms")
        gap = err.need("gap_ms", cfg.get("gap_ms", 20.0), 1, 1000, "ms")
        tsp = err.need("train_spikes", cfg.get("train_spikes", 8), 2, 1000)
        tms = err.need("train_ms", cfg.get("train_ms", 100.0), 1, 10000, "ms")
        fcfg = {"rate_hz": rate, "band": cfg.get("band", [20, 2000]), "notch": cfg.get("notch", 0),
                "sos": cfg.get("sos")}
        from stimfw.amp.freerun import FreeRun
        from stimfw.dsp import filters
        from stimfw.record.acquisition import Stream

        try:
            rows = filters.from_config(fcfg)
        except (ValueError, TypeError, IndexError) as e:  # a malformed band or sos
            raise err.Refused(err.ERR_BAD_PAYLOAD, str(e), {"key": "sos"}) from None
        gc.collect()
        try:
            fr = FreeRun(len(chans), rate, block, rows, thr, refr, gap, int(tsp), tms)
        except MemoryError:
            raise err.Refused(err.ERR_BUSY, "no memory for %d x %d samples" % (len(chans), block)) from None
        hal = self.hal
        self.fr = fr
        self.channels = tuple(chans)
        self.start_us = hal.ticks_us()
        self.stream = Stream(hal, self.channels, rate, block, fr.buf, self.start_us)
        self.end_block = (int(duration_ms * rate // 1000) + block - 1) // block if duration_ms else 0
        self.last = None
        self.gap_blocks = 0
        return {"channels": chans, "rate_hz": rate, "block": block, "block_ms": block * 1000 / rate,
                "start_us": self.start_us, "duration_ms": duration_ms, "sos": rows,
                "thr_uv": thr}

    def service(self):
        s = self.stream
        hal = self.hal
        now = hal.ticks_us()
        if s is None or not s.due(now):
            return False
        behind = hal.ticks_diff(now, s.t_us)
        if behind > MAX_LAG_US:
            # The loop was held up (or the clock jumped) for longer than the
            # ring holds: skip to the present, start the filters afresh and
            # say how much is missing, once, instead of faulting every pass.
            skip = behind // s.block_us - 1
            s.t_us = hal.ticks_add(s.t_us, skip * s.block_us)
            s.count += skip
            self.gap_blocks += skip
            self.fr.chain.reset()
            self.push(note.PUSH_EMG, {"gap_ms": skip * s.block_us / 1000.0,
                                      "gap_blocks_total": self.gap_blocks})
            return True
        fr = self.fr
        fr.feed(s.take(), s.block)
        if self.end_block and s.count >= self.end_block:
            self.push(note.PUSH_EMG, self.stop())
        elif fr.events:
            self.push(note.PUSH_EMG, self._report(fr.take_events()))
        return True

    def deadline_us(self):
        s = self.stream
        if s is None:
            return None
        return self.hal.ticks_add(s.t_us, s.block_us)

    def _report(self, events):
        fr = self.fr
        chans = self.channels
        for ev in events:
            ev["ch"] = chans[ev["ch"]]  # amplifier channel, not the stream's index
        return {"t_ms": fr.t * 1000.0 / fr.rate_hz, "events": events, "channels": list(chans),
                "spikes": list(fr.spikes), "bursts": list(fr.bursts), "trains": list(fr.trains),
                "train_ms_total": sum(fr.train_samples) * 1000.0 / fr.rate_hz}

    def stop(self):
        """End the stream: groups still open are classified now; the reply
        is the summary, with the detections not pushed yet."""
        fr = self.fr
        if fr is None:
            if self.last is None:
                raise err.Refused(err.ERR_STATE, "free-run EMG is not streaming")
            return self.last
        for c in range(fr.n_ch):
            if fr.g_count[c]:
                fr._close(c)
        d = self._report(fr.take_events())
        d.update(fr.summary())
        d["channels"] = list(self.channels)
        d["start_us"] = self.start_us
        d["blocks"] = self.stream.count
        d["gap_blocks"] = self.gap_blocks
        d["done"] = True
        fr.release()
        self.stream = None
        self.fr = None
        self.last = d
        gc.collect()
        return d
