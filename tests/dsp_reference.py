"""Float64 reference for the device DSP chain, synthetic signals, and the
ulab stand-in loader, shared by the tests/test_dsp_*.py files."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
from scipy import signal

ROOT = Path(__file__).resolve().parents[1]
COMPAT = Path(__file__).parent / "ulab_compat"
FULL_SCALE = 65536.0  # LSB, int16 range
UV_PER_LSB = 0.125
BASE_N = 16


def sweep_reference(raw: np.ndarray, sos) -> np.ndarray:
    """The chain in float64: raw (n, n_ch) int16 after blanking -> filtered
    float output, as the device defines it (baseline of the first 16 samples
    removed, clipped to int16, filtered from zero state)."""
    out = np.empty(raw.shape, dtype=np.float64)
    for c in range(raw.shape[1]):
        x = raw[:, c].astype(np.int64)
        base = int(x[:BASE_N].sum()) // BASE_N
        xf = np.clip(x - base, -32768, 32767).astype(np.float64)
        out[:, c] = signal.sosfilt(np.asarray(sos, dtype=np.float64), xf)
    return out


def ssep_sweeps(n_sweeps: int, n_ch: int, n: int, rate: int, pre: int, seed: int = 1,
                amp_uv: float = 2.0, lat_ms: float = 19.5, p37_uv: float = 1.5,
                noise_uv: float = 8.0, mains_uv: float = 20.0) -> np.ndarray:
    """Deterministic SSEP-like sweeps (n_sweeps, n, n_ch) int16: N20/P25 on
    channel 0 (median), P37/N45 on channel 1 (tibial), EEG-like noise, mains
    hum, an electrode offset and a stimulus artifact at the trigger."""
    rng = np.random.default_rng(seed)
    t_ms = (np.arange(n) - pre) * 1000.0 / rate
    g = lambda mu, sd: np.exp(-0.5 * ((t_ms - mu) / sd) ** 2)  # noqa: E731
    resp = np.zeros((n, n_ch))
    resp[:, 0] = amp_uv * (-g(lat_ms, 1.5) + 0.8 * g(lat_ms + 5.5, 2.5))
    if n_ch > 1:
        resp[:, 1] = p37_uv * (g(37.5, 2.5) - 0.8 * g(45.0, 3.0))
    out = np.empty((n_sweeps, n, n_ch), dtype=np.int16)
    for k in range(n_sweeps):
        noise = signal.lfilter([1.0], [1.0, -0.9], rng.normal(0, noise_uv * 0.44, (n, n_ch)), axis=0)
        phase = rng.uniform(0, 2 * np.pi)
        mains = mains_uv * np.sin(2 * np.pi * 50 * t_ms / 1000 + phase)[:, None]
        art = np.where((t_ms >= 0) & (t_ms < 1.0), 3000.0, 0.0)[:, None]
        x = (resp + noise + mains + art) / UV_PER_LSB + 400.0
        out[k] = np.clip(np.round(x), -32768, 32767).astype(np.int16)
    return out


def load_ulab_backend(monkeypatch):
    """stimfw.dsp.ulab imported against the ulab stand-in (tests only)."""
    monkeypatch.syspath_prepend(str(COMPAT))
    monkeypatch.syspath_prepend(str(ROOT / "boards" / "sim"))
    for name in ("ulab", "ulab.numpy", "ulab.scipy", "ulab.scipy.signal", "stimfw.dsp.ulab"):
        sys.modules.pop(name, None)
    mod = importlib.import_module("stimfw.dsp.ulab")
    return mod
