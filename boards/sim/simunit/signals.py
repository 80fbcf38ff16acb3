"""What the recording amplifiers see: background EEG/EMG, amplifier noise,
mains pickup through the electrode impedances, movement and cautery bursts,
the stimulus artifact with amplifier saturation and recovery, and the evoked
waves from physiology.py, rendered into int16 at board.AMP_UV_PER_LSB.
Channels switched to the calibrator (calibrator.py) see amplifier noise and
its signal instead of the patient; each channel's gain and delay errors
(amplifier.py) apply to whatever it records.

Everything is a pure function of (seed, absolute time, delivered pulses), so
the same samples come back however a run is chunked into acquisitions.

Background: independent 1 s blocks with the kind's spectrum, each scaled to
the kind's r.m.s., overlap-added with power-complementary sine windows (hop
0.5 s). Drawing each block afresh (a complex Gaussian spectrum and an
inverse FFT per channel and block) was most of the cost of free-run EMG, so
the blocks come from a pool drawn once per rate (POOL_BLOCKS per kind, the
same draw and scaling): each channel's block k is a pool block picked by
(seed, rate, k, channel), circularly shifted and sign-flipped by the same
draw. A circular shift of a block of circular noise is another draw of it,
and the random sign makes two uses of one pool block uncorrelated on
average, so sweeps still average down as 1/sqrt(n). Amplifier noise is
white: each channel's 0.5 s hop is read from one long table at an offset
drawn the same way. Bursts are drawn per 10 s slot from the slot's own seed.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from simunit.amplifier import NONE as NO_ERROR
from simunit.amplifier import AmpError
from simunit.boardfiles import board
from simunit.calibrator import Injection
from simunit.montage import ARTIFACT_MAX_UV_PER_MA, BASE_CHANNELS, CHANNELS, artifact_uv_per_ma
from simunit.physiology import Wave

NCH = board.AMP_CHANNELS
FULL_SCALE_UV = 32767 * board.AMP_UV_PER_LSB

# Background, r.m.s. uV, by channel kind; cortical activity under anaesthesia
# is 1/f-like, muscles at rest are quiet.
BACKGROUND_UV = {"cortex": 8.0, "cervical": 3.0, "peripheral": 1.2, "muscle": 2.5}
AMP_NOISE_UV = 0.4  # amplifier input noise, white
NOISE_UV_PER_KOHM = 0.05  # extra wideband noise from a poor contact
MAINS_A = 1e-9  # displacement current: mains uV = ohms * 1e-9 A * 1e6
MAINS_HARMONICS = ((1, 1.0), (3, 0.3), (5, 0.12))  # (multiple, relative amplitude)
LEADOFF_OHMS = 100e3  # contact impedance at which half the signal is lost
SLOT_S = 10.0
HORIZON_US = 150_000  # longest effect of one stimulus on the recording
TAIL_TAUS = 16  # an artifact's recovery ends here: full scale * e**-16 = 0.0005 uV

# The background pool: POOL_BLOCKS 1 s blocks per channel kind and rate (32
# s of each kind: 2.6 MB at 5 kHz, 10 MB at 20 kHz), and WHITE_LEN samples
# of white noise for every rate. Both are the same for every seed, so one
# process draws them once.
POOL_BLOCKS = 32
WHITE_LEN = 1 << 20
_POOL_SEED = 0x51B0
KINDS = tuple(BACKGROUND_UV)
_KIND = np.array([KINDS.index(c.kind) for c in CHANNELS])
_pool_lock = threading.Lock()
_pools: dict[int, np.ndarray] = {}
_white: list[np.ndarray] = []
_win: dict[int, tuple[np.ndarray, np.ndarray]] = {}
_ALL = list(range(NCH))
_HARMONIC = np.array([[h] for h, _ in MAINS_HARMONICS], dtype=np.float64)  # (3, 1)


@dataclass(frozen=True)
class Artifact:
    region: str  # where the stimulus current flows
    t_start_us: float
    t_end_us: float
    peak_ma: float  # signed, phase 1
    balance: float  # residual charge fraction after the pulse (0 = balanced)


def _shape(kind: str, f: np.ndarray) -> np.ndarray:
    f = np.maximum(f, 0.5)
    if kind == "cortex":
        s = 1 / np.sqrt(f) / (1 + (f / 80) ** 2) + 0.8 * np.exp(-0.5 * ((f - 10) / 1.5) ** 2) / np.sqrt(10)
    elif kind == "cervical":
        s = 1 / np.sqrt(f) / (1 + (f / 150) ** 2) + 0.05 / (1 + (f / 800) ** 2)
    elif kind == "peripheral":
        s = (f / 20) / (1 + (f / 20) ** 2) / (1 + (f / 1000) ** 2)
    else:  # muscle
        s = (f / 30) / (1 + (f / 30) ** 2) / (1 + (f / 400) ** 2)
    return s


def pool(rate: int) -> np.ndarray:
    """(len(KINDS), POOL_BLOCKS, rate) float32: 1 s background blocks, each
    a complex Gaussian spectrum shaped by its kind, inverse transformed and
    scaled to the kind's r.m.s."""
    p = _pools.get(rate)
    if p is not None:
        return p
    with _pool_lock:
        p = _pools.get(rate)
        if p is None:
            n = rate
            f = np.fft.rfftfreq(n, 1.0 / rate)
            p = np.empty((len(KINDS), POOL_BLOCKS, n), np.float32)
            for i, kind in enumerate(KINDS):
                rng = np.random.default_rng([_POOL_SEED, rate, i])
                spec = rng.standard_normal((POOL_BLOCKS, len(f))) + 1j * rng.standard_normal((POOL_BLOCKS, len(f)))
                # Every frequency's power, averaged over the pool, is what
                # a fresh draw gives on average (2): the pool's few blocks
                # add no bias to band powers (below 4 Hz a block has 3 lines).
                spec *= np.sqrt(2 / np.mean(np.abs(spec) ** 2, axis=0))
                s = _shape(kind, f)
                s[0] = 0
                x = np.fft.irfft(spec * s, n)
                x *= BACKGROUND_UV[kind] / np.sqrt(np.mean(x**2, axis=1, keepdims=True))
                p[i] = x
            _pools[rate] = p
    return p


def white() -> np.ndarray:
    """WHITE_LEN float32 samples of unit white Gaussian noise."""
    if not _white:
        with _pool_lock:
            if not _white:
                _white.append(np.random.default_rng([_POOL_SEED, 0]).standard_normal(WHITE_LEN, np.float32))
    return _white[0]


def _windows(rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(H,) float32 each: the falling half of the sine window (a block's
    second hop) and the rising half (its first); their squares sum to 1."""
    w = _win.get(rate)
    if w is None:
        h = rate // 2
        j = np.arange(h)
        w = (np.sin(np.pi * (j + h) / (2 * h)).astype(np.float32),
             np.sin(np.pi * j / (2 * h)).astype(np.float32))
        _win[rate] = w
    return w


@dataclass(frozen=True)
class _Draw:
    """One background block's choices for every channel."""
    block: np.ndarray  # pool block per channel
    shift: np.ndarray  # circular shift, samples
    sign: np.ndarray  # +1 or -1, float32
    white: np.ndarray  # offset of the block's first hop in the white table


class _Hop:
    """One hop of background: shaped (uV) and unit white, per channel."""

    def __init__(self, h: int) -> None:
        self.data = np.empty((2, NCH, h), np.float32)
        self.filled = [False] * NCH


def _read(row: np.ndarray, start: int, sign: np.float32, out: np.ndarray) -> None:
    """out = sign * row[start:start + len(out)], row read circularly."""
    n, m = len(row), len(out)
    a = start % n
    if a + m <= n:
        np.multiply(row[a : a + m], sign, out=out)
    else:
        np.multiply(row[a:], sign, out=out[: n - a])
        np.multiply(row[: m - (n - a)], sign, out=out[n - a :])


def _first_at(t0: float, period: float, n: int, x: float) -> int:
    """The first i < n with t0 + i * period >= x (n if none): np.searchsorted
    on the window's sample times, computed as render() computes them."""
    i = min(max(math.ceil((x - t0) / period), 0), n)
    while i > 0 and t0 + (i - 1) * period >= x:
        i -= 1
    while i < n and t0 + i * period < x:
        i += 1
    return i


class Renderer:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._draws: OrderedDict[tuple[int, int], _Draw] = OrderedDict()
        self._hops: OrderedDict[tuple[int, int], _Hop] = OrderedDict()
        self._slots: dict[tuple[int, int], list[tuple[str, dict[str, float]]]] = {}
        rng = np.random.default_rng([seed, 3])
        self._mains_phase = rng.uniform(0, 2 * np.pi, (BASE_CHANNELS, 3))
        self._mains_drift = float(rng.normal(0.0, 0.01))
        more = np.random.default_rng([seed, 3, 1]).uniform(0, 2 * np.pi, (NCH - BASE_CHANNELS, 3))
        self._mains_phase = np.concatenate([self._mains_phase, more])
        # sin(h x + phase) = sin(h x) cos(phase) + cos(h x) sin(phase): each
        # channel's weights of sin(h x), then of cos(h x), h = 1, 3, 5.
        rel = np.array([a for _, a in MAINS_HARMONICS])
        self._mains_w = np.concatenate([(rel * np.cos(self._mains_phase)).T,
                                        (rel * np.sin(self._mains_phase)).T])  # (6, NCH)

    # --- background ------------------------------------------------------------
    def _draw(self, rate: int, k: int) -> _Draw:
        key = (rate, k)
        d = self._draws.get(key)
        if d is None:
            # The channels added after the first BASE_CHANNELS draw from a
            # stream of their own: the first ones' noise stays what it was.
            parts = []
            for n, extra in ((BASE_CHANNELS, ()), (NCH - BASE_CHANNELS, (1,))):
                rng = np.random.default_rng([self.seed, 1, rate, k + (1 << 40), *extra])
                parts.append((rng.integers(0, POOL_BLOCKS, n), rng.integers(0, rate, n),
                              (rng.integers(0, 2, n) * 2 - 1).astype(np.float32),
                              rng.integers(0, WHITE_LEN - rate // 2 + 1, n)))
            d = _Draw(*(np.concatenate([a[j] for a in parts]) for j in range(4)))
            self._draws[key] = d
            if len(self._draws) > 8:
                self._draws.popitem(last=False)
        return d

    def _hop(self, rate: int, k: int, chans: list[int]) -> np.ndarray:
        """(2, NCH, H) float32 for samples k*H .. (k+1)*H - 1 (H = rate // 2):
        shaped background (uV) and unit white noise, filled for chans (a
        channel is drawn the first time it is asked for)."""
        key = (rate, k)
        hop = self._hops.get(key)
        if hop is None:
            hop = _Hop(rate // 2)
            self._hops[key] = hop
            if len(self._hops) > 8:
                self._hops.popitem(last=False)
        else:
            self._hops.move_to_end(key)
        missing = [c for c in chans if not hop.filled[c]]
        if missing:
            self._fill(rate, k, hop, missing)
        return hop.data

    def _fill(self, rate: int, k: int, hop: _Hop, chans: list[int]) -> None:
        # The hop is the second half of block k - 1, fading out, plus the
        # first half of block k, fading in.
        h = rate // 2
        p = pool(rate)
        wt = white()
        fall, rise = _windows(rate)
        prev, cur = self._draw(rate, k - 1), self._draw(rate, k)
        tmp = np.empty(h, np.float32)
        for c in chans:
            dst = hop.data[0, c]
            _read(p[_KIND[c], prev.block[c]], int(prev.shift[c]) + h, prev.sign[c], dst)
            dst *= fall
            _read(p[_KIND[c], cur.block[c]], int(cur.shift[c]), cur.sign[c], tmp)
            tmp *= rise
            dst += tmp
            o = int(cur.white[c])
            hop.data[1, c] = wt[o : o + h]
            hop.filled[c] = True

    def _background(self, rate: int, g: np.ndarray, chans: list[int], gain: np.ndarray,
                    noise_sd: np.ndarray) -> np.ndarray:
        """(len(chans), len(g)) float32, uV: shaped background * gain + white
        * noise_sd (both (len(chans), 1)) at grid samples g (ascending)."""
        h = rate // 2
        n = len(g)
        y = np.empty((len(chans), n), np.float32)
        cols = None if chans == _ALL else np.asarray(chans)
        # Consecutive samples (the rule) are a slice of each hop; a window
        # whose start lies exactly half a sample off the grid repeats grid
        # samples (rint rounds half to even) and takes them one by one.
        step = n < 2 or (int(g[-1]) - int(g[0]) == n - 1 and int(g[1]) - int(g[0]) == 1)
        k0, k1 = int(g[0]) // h, int(g[-1]) // h
        for k in range(k0, k1 + 1):
            a, b = (0, n) if k0 == k1 else (int(i) for i in np.searchsorted(g, [k * h, (k + 1) * h]))
            if a == b:
                continue
            hop = self._hop(rate, k, chans)
            if cols is not None:
                hop = hop[:, cols]
            if step:
                r0 = int(g[a]) - k * h
                part = hop[:, :, r0 : r0 + b - a]
            else:
                part = hop[:, :, g[a:b] - k * h]
            np.multiply(part[0], gain, out=y[:, a:b])
            y[:, a:b] += part[1] * noise_sd
        return y

    # --- bursts ----------------------------------------------------------------
    def _slot_events(self, slot: int, movement: float, cautery: float) -> list[tuple[str, dict[str, float]]]:
        key = (slot, hash((movement, cautery)))
        ev = self._slots.get(key)
        if ev is not None:
            return ev
        rng = np.random.default_rng([self.seed, 7, slot + (1 << 40)])
        ev = []
        for _ in range(rng.poisson(movement * SLOT_S / 60.0)):
            ev.append(("movement", {
                "t0": (slot + rng.uniform()) * SLOT_S, "dur": rng.uniform(0.5, 2.0),
                "hz": rng.uniform(1.0, 4.0), "uv": rng.uniform(100, 1500),
                "region": float(rng.integers(0, 6)), "phase": rng.uniform(0, 6.28),
            }))
        for _ in range(rng.poisson(cautery * SLOT_S / 60.0)):
            ev.append(("cautery", {
                "t0": (slot + rng.uniform()) * SLOT_S, "dur": rng.uniform(1.0, 4.0),
                "uv": rng.uniform(2000, 20000), "phase": rng.uniform(0, 6.28),
            }))
        if len(self._slots) > 64:
            self._slots.clear()
        self._slots[key] = ev
        return ev

    def bursts(self, t_lo_s: float, t_hi_s: float, movement: float, cautery: float) -> list[tuple[str, dict[str, float]]]:
        out: list[tuple[str, dict[str, float]]] = []
        if movement <= 0 and cautery <= 0:
            return out
        for slot in range(int(math.floor((t_lo_s - 5.0) / SLOT_S)), int(math.floor(t_hi_s / SLOT_S)) + 1):
            for kind, e in self._slot_events(slot, movement, cautery):
                if e["t0"] < t_hi_s and e["t0"] + e["dur"] > t_lo_s:
                    out.append((kind, e))
        return out

    # --- the window ------------------------------------------------------------
    def render(
        self,
        t0_us: int,
        rate: int,
        n: int,
        chans: list[int],
        waves: list[Wave],
        artifacts: list[Artifact],
        contact_ohms: list[float],  # per requested channel: active + reference
        mains_hz: float,
        movement: float,
        cautery: float,
        recovery_ms: float,
        errors: dict[int, AmpError] | None = None,  # per channel gain and delay errors
        cal: Injection | None = None,  # the calibrator, if any channel is on it
    ) -> np.ndarray:
        """(n, len(chans)) int16, interleaved by sample."""
        period = 1e6 / rate
        t = t0_us + np.arange(n) * period  # us
        g = np.rint(t / period).astype(np.int64)
        tl, th = t0_us + 0.0, t0_us + (n - 1) * period
        errs = [NO_ERROR if errors is None else errors.get(c, NO_ERROR) for c in chans]
        delay = [e.delay_us for e in errs]
        on_cal = [cal is not None and c in cal.channels for c in chans]
        patient = [row for row in range(len(chans)) if not on_cal[row]]
        z = np.asarray(contact_ohms, dtype=np.float64)[:, None]
        gain = 1.0 / (1.0 + (z / LEADOFF_OHMS) ** 2)
        noise_sd = np.sqrt(AMP_NOISE_UV**2 + (NOISE_UV_PER_KOHM * z / 1000.0) ** 2)
        if len(patient) < len(chans):
            # On the calibrator: no patient, so no background, contact noise
            # or mains pickup through the electrodes (z = 0).
            cal_rows = [row for row in range(len(chans)) if on_cal[row]]
            z = z.copy()
            z[cal_rows] = 0.0
            gain[cal_rows] = 0.0
            noise_sd[cal_rows] = AMP_NOISE_UV
        y = self._background(rate, g, chans, gain, noise_sd)
        # Evoked waves: attenuated by a poor contact like any signal, and
        # late by the channel's delay.
        ci = {c: i for i, c in enumerate(chans) if not on_cal[i]}
        for w in waves:
            row = ci.get(w.channel)
            if row is None:
                continue
            wt = w.t_us + delay[row]
            if wt + 5 * w.sigma_us < tl or wt - 5 * w.sigma_us > th:
                continue
            a = _first_at(t0_us, period, n, wt - 5 * w.sigma_us)
            b = _first_at(t0_us, period, n, wt + 5 * w.sigma_us)
            y[row, a:b] += gain[row, 0] * w.amp_uv * np.exp(-0.5 * ((t[a:b] - wt) / w.sigma_us) ** 2)
        # Mains pickup grows with the contact impedance: per channel,
        # sum over h of rel_h sin(h x + phase), x = 2 pi hz t, as the
        # channel's weights of sin(h x) and cos(h x), summed in a fixed order.
        ts = t * 1e-6
        hx = (2 * np.pi * (mains_hz + self._mains_drift) * ts) * _HARMONIC
        basis = np.concatenate([np.sin(hx), np.cos(hx)])  # (6, n)
        weights = self._mains_w if chans == _ALL else self._mains_w[:, chans]
        weights = weights * (MAINS_A * 1e6 * z[:, 0])  # (6, len(chans)), uV
        y += (weights[:, :, None] * basis[:, None, :]).sum(axis=0)
        # Movement (one body region) and cautery (everything, saturating).
        regions = ("scalp", "neck", "arm_L", "arm_R", "leg_L", "leg_R")
        for kind, e in self.bursts(ts[0], ts[-1], movement, cautery):
            rel = (ts - e["t0"]) / e["dur"]
            env = np.where((rel >= 0) & (rel <= 1), np.sin(np.pi * np.clip(rel, 0, 1)) ** 2, 0.0)
            if kind == "movement":
                region = regions[int(e["region"])]
                wave = e["uv"] * env * np.sin(2 * np.pi * e["hz"] * ts + e["phase"])
                for row in patient:
                    if CHANNELS[chans[row]].region == region:
                        y[row] += wave
            else:
                # Cautery aliases down as broadband hash: a sum of incommensurate tones.
                buzz = np.zeros_like(ts)
                for j in range(12):
                    buzz += np.sin(2 * np.pi * (317.0 + 293.7 * j) * ts + e["phase"] * (j + 1))
                y[patient] += e["uv"] * env * buzz / 3.5
        # Stimulus artifact: pinned at full scale while the amplifier is
        # overloaded, then an exponential recovery that ends TAIL_TAUS time
        # constants on. t ascends, so each part of an artifact is a range of
        # samples, and each range depends on the sample times alone, never
        # on where a window starts: the same samples however a run is read.
        tau = recovery_ms * 1000.0
        pins: list[tuple[int, int, int, float]] = []
        most_delay = max(delay, default=0.0)
        for art in artifacts:
            most = ARTIFACT_MAX_UV_PER_MA * abs(art.peak_ma)
            t_last = art.t_end_us + tau * (math.log(most / FULL_SCALE_UV) if most > FULL_SCALE_UV else 0.0)
            if t_last + TAIL_TAUS * tau + most_delay < tl or art.t_start_us > th:
                continue
            i_start0 = _first_at(t0_us, period, n, art.t_start_us)
            i_end0 = _first_at(t0_us, period, n, art.t_end_us)
            for row in patient:
                amp = artifact_uv_per_ma(art.region, CHANNELS[chans[row]].region) * art.peak_ma
                if amp == 0:
                    continue
                d = delay[row]
                t_end = art.t_end_us + d
                if d:
                    i_start = _first_at(t0_us, period, n, art.t_start_us + d)
                    i_end = _first_at(t0_us, period, n, t_end)
                else:
                    i_start, i_end = i_start0, i_end0
                sgn = 1.0 if amp > 0 else -1.0
                if abs(amp) > FULL_SCALE_UV:
                    t_free = t_end + tau * math.log(abs(amp) / FULL_SCALE_UV)
                    pins.append((row, i_start, _first_at(t0_us, period, n, t_free), sgn * FULL_SCALE_UV))
                    start_tail, a_tail = t_free, sgn * FULL_SCALE_UV
                else:
                    y[row, i_start:i_end] += amp
                    start_tail, a_tail = t_end, amp * max(art.balance, 0.1)
                i_tail = _first_at(t0_us, period, n, start_tail)
                i_gone = _first_at(t0_us, period, n, start_tail + TAIL_TAUS * tau)
                if i_tail < i_gone:
                    y[row, i_tail:i_gone] += a_tail * np.exp(-(t[i_tail:i_gone] - start_tail) / tau)
        # The calibrator's signal, late by the channel's delay like any
        # time-locked signal.
        if cal is not None:
            for row in range(len(chans)):
                if on_cal[row]:
                    y[row] += cal.signal(t - delay[row])
        # The channel's gain scales all it records; an overload pins the
        # converter at full scale whatever the gain.
        for row, err in enumerate(errs):
            if err.gain_error:
                y[row] *= err.gain
        for row, a, b, v in pins:  # the overload wins over everything, the latest pin last
            y[row, a:b] = v
        y /= board.AMP_UV_PER_LSB
        np.rint(y, out=y)
        np.minimum(y, 32767, out=y)
        np.maximum(y, -32768, out=y)
        return np.ascontiguousarray(y.T, dtype="<i2")
