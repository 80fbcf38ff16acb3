"""What the recording amplifiers see: background EEG/EMG, amplifier noise,
mains pickup through the electrode impedances, movement and cautery bursts,
the stimulus artifact with amplifier saturation and recovery, and the evoked
waves from physiology.py, rendered into int16 at board.AMP_UV_PER_LSB.

Everything is a pure function of (seed, absolute time, delivered pulses), so
the same samples come back however a run is chunked into acquisitions:
background noise is built from independent 1 s blocks, each seeded by its
index, overlap-added with power-complementary sine windows; bursts are drawn
per 10 s slot from the slot's own seed.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from simunit.boardfiles import board
from simunit.montage import CHANNELS, artifact_uv_per_ma
from simunit.physiology import Wave

NCH = board.AMP_CHANNELS
FULL_SCALE_UV = 32767 * board.AMP_UV_PER_LSB

# Background, r.m.s. uV, by channel kind; cortical activity under anaesthesia
# is 1/f-like, muscles at rest are quiet.
BACKGROUND_UV = {"cortex": 8.0, "cervical": 3.0, "peripheral": 1.2, "muscle": 2.5}
AMP_NOISE_UV = 0.4  # amplifier input noise, white
NOISE_UV_PER_KOHM = 0.05  # extra wideband noise from a poor contact
MAINS_A = 1e-9  # displacement current: mains uV = ohms * 1e-9 A * 1e6
LEADOFF_OHMS = 100e3  # contact impedance at which half the signal is lost
SLOT_S = 10.0
HORIZON_US = 150_000  # longest effect of one stimulus on the recording


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


class Renderer:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._blocks: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._slots: dict[tuple[int, int], list[tuple[str, dict[str, float]]]] = {}
        rng = np.random.default_rng([seed, 3])
        self._mains_phase = rng.uniform(0, 2 * np.pi, (NCH, 3))
        self._mains_drift = float(rng.normal(0.0, 0.01))
        self._kinds = [c.kind for c in CHANNELS]

    # --- background ------------------------------------------------------------
    def _block(self, rate: int, k: int) -> np.ndarray:
        """(2, NCH, 2H) float32: shaped background and unit white noise."""
        key = (rate, k)
        b = self._blocks.get(key)
        if b is not None:
            self._blocks.move_to_end(key)
            return b
        n = rate  # 1 s blocks, hop H = n // 2
        rng = np.random.default_rng([self.seed, 1, rate, k + (1 << 40)])
        f = np.fft.rfftfreq(n, 1.0 / rate)
        spec = rng.standard_normal((NCH, len(f))) + 1j * rng.standard_normal((NCH, len(f)))
        shaped = np.empty((NCH, n))
        for kind in set(self._kinds):
            rows = [i for i, kd in enumerate(self._kinds) if kd == kind]
            s = _shape(kind, f)
            s[0] = 0
            x = np.fft.irfft(spec[rows] * s, n)
            x *= BACKGROUND_UV[kind] / np.sqrt(np.mean(x**2, axis=1, keepdims=True))
            shaped[rows] = x
        white = rng.standard_normal((NCH, n))
        b = np.stack([shaped, white]).astype(np.float32)
        self._blocks[key] = b
        if len(self._blocks) > 16:
            self._blocks.popitem(last=False)
        return b

    def _background(self, rate: int, g: np.ndarray, chans: list[int]) -> tuple[np.ndarray, np.ndarray]:
        h = rate // 2
        shaped = np.zeros((len(chans), len(g)), np.float32)
        white = np.zeros_like(shaped)
        k1 = g // h
        for k in np.unique(k1):
            sel = k1 == k
            gi = g[sel]
            for kb in (k - 1, k):
                j = gi - kb * h
                w = np.sin(np.pi * j / (2 * h)).astype(np.float32)
                b = self._block(rate, int(kb))
                shaped[:, sel] += w * b[0][chans][:, j]
                white[:, sel] += w * b[1][chans][:, j]
        return shaped, white

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
    ) -> np.ndarray:
        """(n, len(chans)) int16, interleaved by sample."""
        period = 1e6 / rate
        t = t0_us + np.arange(n) * period  # us
        g = np.rint(t / period).astype(np.int64)
        shaped, white = self._background(rate, g, chans)
        z = np.asarray(contact_ohms)[:, None]
        gain = 1.0 / (1.0 + (z / LEADOFF_OHMS) ** 2)
        noise_sd = np.sqrt(AMP_NOISE_UV**2 + (NOISE_UV_PER_KOHM * z / 1000.0) ** 2)
        y = (shaped * gain + white * noise_sd).astype(np.float64)
        # Evoked waves: attenuated by a poor contact like any signal.
        tl, th = t[0], t[-1]
        ci = {c: i for i, c in enumerate(chans)}
        for w in waves:
            row = ci.get(w.channel)
            if row is None or w.t_us + 5 * w.sigma_us < tl or w.t_us - 5 * w.sigma_us > th:
                continue
            a = max(0, int((w.t_us - 5 * w.sigma_us - t0_us) / period))
            b = min(n, int((w.t_us + 5 * w.sigma_us - t0_us) / period) + 2)
            y[row, a:b] += gain[row, 0] * w.amp_uv * np.exp(-0.5 * ((t[a:b] - w.t_us) / w.sigma_us) ** 2)
        # Mains pickup grows with the contact impedance.
        ts = t * 1e-6
        hz = mains_hz + self._mains_drift
        for row, c in enumerate(chans):
            m = MAINS_A * contact_ohms[row] * 1e6
            ph = self._mains_phase[c]
            y[row] += m * (np.sin(2 * np.pi * hz * ts + ph[0])
                           + 0.3 * np.sin(2 * np.pi * 3 * hz * ts + ph[1])
                           + 0.12 * np.sin(2 * np.pi * 5 * hz * ts + ph[2]))
        # Movement (one body region) and cautery (everything, saturating).
        regions = ("scalp", "neck", "arm_L", "arm_R", "leg_L", "leg_R")
        for kind, e in self.bursts(ts[0], ts[-1], movement, cautery):
            rel = (ts - e["t0"]) / e["dur"]
            env = np.where((rel >= 0) & (rel <= 1), np.sin(np.pi * np.clip(rel, 0, 1)) ** 2, 0.0)
            if kind == "movement":
                region = regions[int(e["region"])]
                wave = e["uv"] * env * np.sin(2 * np.pi * e["hz"] * ts + e["phase"])
                for row, c in enumerate(chans):
                    if CHANNELS[c].region == region:
                        y[row] += wave
            else:
                # Cautery aliases down as broadband hash: a sum of incommensurate tones.
                buzz = np.zeros_like(ts)
                for j in range(12):
                    buzz += np.sin(2 * np.pi * (317.0 + 293.7 * j) * ts + e["phase"] * (j + 1))
                y += e["uv"] * env * buzz / 3.5
        # Stimulus artifact: pinned at full scale while the amplifier is
        # overloaded, then an exponential recovery.
        tau = recovery_ms * 1000.0
        pinned = np.zeros(y.shape, dtype=bool)
        pin_val = np.zeros(y.shape)
        for art in artifacts:
            if art.t_end_us + 12 * tau < tl or art.t_start_us > th:
                continue
            for row, c in enumerate(chans):
                amp = artifact_uv_per_ma(art.region, CHANNELS[c].region) * art.peak_ma
                if amp == 0:
                    continue
                sgn = 1.0 if amp > 0 else -1.0
                on = (t >= art.t_start_us) & (t < art.t_end_us)
                if abs(amp) > FULL_SCALE_UV:
                    t_free = art.t_end_us + tau * math.log(abs(amp) / FULL_SCALE_UV)
                    blk = (t >= art.t_start_us) & (t < t_free)
                    pinned[row] |= blk
                    pin_val[row][blk] = sgn * FULL_SCALE_UV
                    start_tail, a_tail = t_free, sgn * FULL_SCALE_UV
                else:
                    y[row][on] += amp
                    start_tail, a_tail = art.t_end_us, amp * max(art.balance, 0.1)
                tail = t >= start_tail
                if tail.any():
                    y[row][tail] += a_tail * np.exp(-(t[tail] - start_tail) / tau)
        y = np.where(pinned, pin_val, y)
        q = np.clip(np.rint(y / board.AMP_UV_PER_LSB), -32768, 32767).astype("<i2")
        return q.T.copy()
