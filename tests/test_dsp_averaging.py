"""Averaging precision over 2000 full-scale sweeps, and the SSEP average's
memory behaviour on the device, for each backend on each runtime it runs on
(the device side is tests/dsp_device/)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from dsp_reference import BACKENDS, DSP_DEVICE, FULL_SCALE, run_device, sosfilt_bytes
from mpy import FIRMWARE

N = 256
SWEEPS = 2000
IDENTITY = [[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]]


def _fullscale(seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.integers(-32768, 32768, size=(SWEEPS, N)).astype(np.int16)
    x[:, :8] = 32767  # the rails, where sums grow fastest
    x[:, 8:16] = -32768
    return x


@pytest.mark.parametrize("runtime,backend", BACKENDS)
def test_sums_hold_precision_for_2000_fullscale_sweeps(runtime: str, backend: str,
                                                       tmp_path) -> None:
    """Both backends keep their sums in fixed.SweepSums (24-bit words): 2000
    full-scale sweeps (1000 a split) need 26 bits, beyond float32's 2**24
    and the words' 24, so the shift rises to 2 and the error stays within
    the stated bound."""
    x = _fullscale()
    src = tmp_path / "x.bin"
    means = tmp_path / "means.bin"
    src.write_bytes(x.astype("<i2").tobytes())
    out = run_device("chain_file", {"mode": "sweeps", "backend": backend, "n_ch": 1, "n": N,
                                    "sos": IDENTITY, "src": str(src), "process": False,
                                    "accumulate": True, "means": str(means)},
                     tmp_path, runtime=runtime)
    shifts, name = out.strip().splitlines()
    assert name == backend
    assert json.loads(shifts) == [[2], [2]]
    got = np.frombuffer(means.read_bytes(), dtype="<f4").reshape(3, N)
    shift = 2
    for s in (0, 1):
        exact = x[s::2].astype(np.int64).sum(axis=0) / (SWEEPS // 2)
        err = np.max(np.abs(got[s] - exact))
        # bound from fixed.py: 2**(shift-1) + 2**shift / n, plus float32
        # rounding of the sum (2**26 needs 26 bits) and of the mean
        bound = 2 ** (shift - 1) + 2**shift / (SWEEPS // 2) + 32768 * 2**-22
        assert err <= bound, f"split {s}: {err} LSB > {bound}"
        assert err / FULL_SCALE <= 1e-3
    # A plain float32 sum is not exact for the same data: why the sums are integers.
    naive = np.zeros(N, dtype=np.float32)
    for k in range(0, SWEEPS, 2):
        naive += x[k].astype(np.float32)
    assert not np.array_equal(naive.astype(np.int64), x[0::2].astype(np.int64).sum(axis=0))


# A pyboard-class MCU heap, on the board-like 32-bit runtime: that is the
# board figure. The .mpy code of the averaging modules sits in this heap too
# (a board could freeze it into flash). The 64-bit port's objects and code
# are larger; it gets the heap scaled by 320/256, as the heaps that hold the
# whole firmware in RAM are (tests/mpy.py RAM_FIRMWARE_HEAP), so it checks
# the same logic.
SSEP_HEAP = {"mcu32": "96k", "unix": "120k"}
ARCH = {"unix": "x64", "mcu32": "x86"}  # mpy-cross -march for each runtime
# What the ulab backend may allocate per take(): for each of the 8 channels,
# sosfilt's output (1000 float32) and its final state zf with its shape
# vector, which it allocates whatever its arguments (measured: 4,192 bytes
# a channel on micropython-mcu32); nothing else.
ULAB_TAKE_BYTES = sosfilt_bytes(8, 1000)


def _compiled(runtime: str, out: Path) -> Path:
    """The firmware's stimfw tree and the synthesiser, compiled for the
    runtime's architecture, in out (as on a unit's flash)."""
    from stimbox.build import compile_file

    arch = ARCH[runtime]
    for src in sorted((FIRMWARE / "stimfw").rglob("*.py")):
        compile_file(src, out / src.relative_to(FIRMWARE).with_suffix(".mpy"), arch)
    # compiled like the firmware (its viper code needs the architecture);
    # the driver itself runs as source
    synth = out / "ssep_synth.py"
    shutil.copy(DSP_DEVICE / "ssep_synth.py", synth)
    compile_file(synth, out / "ssep_synth.mpy", arch)
    synth.unlink()
    return out


def _ssep_average(runtime: str, backend: str, tmp_path: Path, heap: str, **extra) -> dict:
    from stimbox.build import board_module

    bd = board_module("sim")
    amp = {"AMP_RATES_HZ": list(bd.AMP_RATES_HZ), "AMP_CHANNELS": bd.AMP_CHANNELS,
           "AMP_UV_PER_LSB": bd.AMP_UV_PER_LSB}
    lib = _compiled(runtime, tmp_path / "lib")
    out = run_device("ssep_average_8x1000", {"backend": backend, "amp": amp,
                                             "lock": backend == "fixed", **extra},
                     tmp_path, runtime=runtime, heap=heap, paths=(lib,))
    r = dict(json.loads(line) for line in out.strip().splitlines())
    # the figures docs/DSP.md quotes (pytest -s shows them)
    print(runtime, backend, heap, {k: v for k, v in r.items()
                                   if k.endswith("bytes") or k.startswith(("mem_", "take_", "heap_"))})
    return r


@pytest.mark.parametrize("runtime,backend", BACKENDS)
def test_ssep_8x1000_average_memory(runtime: str, backend: str, tmp_path: Path) -> None:
    r = _ssep_average(runtime, backend, tmp_path, SSEP_HEAP[runtime])
    assert r["backend"] == backend
    assert r["sweeps"] == 2000 and r["used"] == 2000
    # one channel per acquire() call, every channel of every sweep
    assert r["acquire_calls"] == 8 * 2000
    assert r["accepted"] == [2000] * 8 and r["a"] == [1000] * 8 and r["b"] == [1000] * 8
    assert r["rejected"] == [0] * 8 and r["rejected_total"] == 0 and r["warning"] == [False] * 8
    # nothing was left allocated across 2000 sweeps: every take() after the
    # first ran under heap_lock (fixed: a MemoryError would have ended the
    # run), or (ulab) with automatic collection in this heap, the live heap
    # checked after every 10th sweep
    assert r["mem_alloc_after"] == r["mem_alloc_before"]
    assert r["heap_moved"] == 0
    # the arena holds one channel's buffer (2000 B) and the sums (48000 B);
    # the rest of the processor's data is filter state and bookkeeping
    assert r["arena_bytes"] == 50000
    assert r["arena_bytes"] + r["data_bytes"] <= 55 * 1024
    comps = {c["name"]: c for c in r["components"]}
    assert 18.0 <= comps["N20/P25"]["lat_ms"] <= 20.0
    assert 36.0 <= comps["P37/N45"]["lat_ms"] <= 39.0
    assert comps["N20/P25"]["amp_uv"] > 1.0
    assert len(r["snr"]) == 8 and all(s is not None for s in r["snr"])


@pytest.mark.parametrize("runtime,backend", [p for p in BACKENDS if p.values[1] == "ulab"])
def test_ulab_take_allocates_only_sosfilt_output(runtime: str, backend: str,
                                                  tmp_path: Path) -> None:
    """The bytes one take() allocates on the ulab backend, measured for
    sweeps 2-1000 one by one (collector off during take(), so the heap must
    hold a take's worth of garbage: 256k): the bound above, the same every
    sweep, the live heap unchanged before each."""
    r = _ssep_average(runtime, backend, tmp_path, "256k", measure=True)
    assert 0 < r["take_alloc_min"] == r["take_alloc_max"] <= ULAB_TAKE_BYTES
    assert r["heap_moved"] == 0
    assert r["mem_alloc_after"] == r["mem_alloc_before"]
    assert r["accepted"] == [2000] * 8
