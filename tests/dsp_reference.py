"""Float64 reference for the device DSP chain, synthetic signals, and the
runner of the device-side DSP scripts (tests/dsp_device/), shared by the
tests/test_dsp_*.py files."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import numpy as np
import pytest
from mpy import BOARD_SIM, FIRMWARE, HAVE_MCU32, NO_MCU32, run_mp
from scipy import signal

ROOT = Path(__file__).resolve().parents[1]
DSP_DEVICE = Path(__file__).parent / "dsp_device"
PARAMS_ENV = "STIMBOX_DSP_PARAMS"  # read by tests/dsp_device/devparams.py
FULL_SCALE = 65536.0  # LSB, int16 range
UV_PER_LSB = 0.125

# Hot paths (tests/device/hotpath.py). On the PyPI port the fixed-point DSP backend runs, and the hot path is
# proven under heap_lock. The board-like runtime has ulab, so there the ulab
# backend runs: its sosfilt allocates its float32 output (4 bytes a sample)
# and a small header and state per channel on every call, and the path may
# allocate that and nothing more (tests/device/hotpath.py; docs/DSP.md).
# The backend calls sosfilt on parts of at most CHUNK samples
# (stimfw/dsp/ulab.py), each call with its overhead.
SOSFILT_OVERHEAD = 256  # bytes per call beyond the output samples


def _ulab_chunk() -> int:
    tree = ast.parse((FIRMWARE / "stimfw" / "dsp" / "ulab.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["CHUNK"]:
            return int(ast.literal_eval(node.value))
    raise LookupError("stimfw/dsp/ulab.py declares no CHUNK")


CHUNK = _ulab_chunk()


def sosfilt_bytes(channels: int, samples: int) -> int:
    calls = -(-samples // CHUNK)
    return channels * (4 * samples + calls * SOSFILT_OVERHEAD)
BASE_N = 16

# (runtime, backend) pairs a DSP test runs on: the fixed-point backend on
# both runtimes, the ulab backend on the board-like one (real ulab).
_MCU32 = pytest.mark.skipif(not HAVE_MCU32, reason=NO_MCU32)
BACKENDS = [
    pytest.param("unix", "fixed", id="fixed-unix"),
    pytest.param("mcu32", "fixed", id="fixed-mcu32", marks=_MCU32),
    pytest.param("mcu32", "ulab", id="ulab-mcu32", marks=_MCU32),
]


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


def run_device(script: str, params: dict, tmp_path: Path, runtime: str = "unix",
               heap: str = "1m", paths: tuple[Path, ...] = (FIRMWARE, BOARD_SIM),
               timeout: float = 120) -> str:
    """Import tests/dsp_device/<script>.py under micropython (runtime "unix"
    or "mcu32"), its parameters in a JSON file named by $STIMBOX_DSP_PARAMS.
    Returns stdout; a device exception fails the test with its traceback."""
    pfile = tmp_path / f"{script}.params.json"
    pfile.write_text(json.dumps(params))
    old = os.environ.get(PARAMS_ENV)
    os.environ[PARAMS_ENV] = str(pfile)
    try:
        return run_mp(f"import {script}\n", heap=heap, paths=(*paths, DSP_DEVICE),
                      timeout=timeout, runtime=runtime)
    finally:
        if old is None:
            del os.environ[PARAMS_ENV]
        else:
            os.environ[PARAMS_ENV] = old
