"""The fixed-point kernels never exceed 32 bits.

This machine's viper ints are 64-bit, so an overflow would not show by
running the code here. Instead a model of the exact integer arithmetic of
stimfw.dsp.fixed checks every intermediate against the int32 range (and the
24-bit accumulator words against their range) on worst-case inputs, and the
device's output must equal the model's bit for bit: the device computed the
same numbers, none of which needed more than 32 bits. The bounds themselves
are derived in the header of firmware/stimfw/dsp/fixed.py."""

from __future__ import annotations

import json

import numpy as np
import pytest
from mpy import BOTH, run_mp_file
from stimfw.dsp import filters

I32 = (-(2**31), 2**31 - 1)


def _chk(v: int) -> int:
    assert I32[0] <= v <= I32[1], f"32-bit overflow: {v}"
    return v


def _quant(rows):
    q = []
    for row in rows:
        for j in (0, 1, 2, 4, 5):
            c = int(round(row[j] * (1 << 27)))
            q.append((c >> 14, c & 0x3FFF))
    return q


def _prod(s: int, ch: int, cl: int) -> int:
    sh, sl = s >> 14, s & 0x3FFF
    hi = _chk(2 * _chk(sh * ch))
    mid = _chk(_chk(sh * cl) + _chk(sl * ch))
    mid = _chk(mid + (_chk(sl * cl) >> 14) + 4096)
    return _chk(hi + (mid >> 13))


def model_sosfilt(x: np.ndarray, q: list[tuple[int, int]]) -> tuple[list[int], int]:
    """The device's filter on x with quantized coefficients q (_quant)."""
    nsec = len(q) // 5
    st = [[0, 0, 0, 0] for _ in range(nsec)]
    smax = (1 << 27) - 1
    out = []
    peak_state = 0
    base = int(x[:16].astype(np.int64).sum()) // 16
    for v0 in x:
        v = max(-32768, min(32767, int(v0) - base))
        v = _chk(v << 12)
        for k in range(nsec):
            x1, x2, y1, y2 = st[k]
            c = q[5 * k : 5 * k + 5]
            acc = _prod(v, *c[0])
            acc = _chk(acc + _prod(x1, *c[1]))
            acc = _chk(acc + _prod(x2, *c[2]))
            acc = _chk(acc - _prod(y1, *c[3]))
            acc = _chk(acc - _prod(y2, *c[4]))
            assert abs(acc) < 2**30  # the documented bound, with margin to 2**31
            acc = max(-smax, min(smax, acc))
            st[k] = [v, x1, acc, y1]
            # biased state words stay positive and below 2**31
            for w in st[k]:
                _chk(w + (1 << 28))
                assert w + (1 << 28) >= 0
            peak_state = max(peak_state, abs(acc))
            v = acc
        y = (v + 2048) >> 12
        out.append(max(-32768, min(32767, y)))
    return out, peak_state


# Coefficients at the edges of what filters.validate() accepts.
EDGE_SETS = {
    "band_30_1000_notch50": filters.validate(
        [[0.19694763647399344, 0.3938952729479869, 0.19694763647399344, 1.0, -0.40227455727882944, 0.2131116959049829],
         [1.0, -2.0, 1.0, 1.0, -1.9467716300663545, 0.9482273482473711],
         [0.9989538975423421, -1.9939653804297088, 0.9989538975423423, 1.0, -1.9939653804297088, 0.9979077950846841]]),
    # sum|b| == 4 and poles at |p| = 0.9998 (resonant, near the refusal limit)
    "edge_gain_resonant": filters.validate(
        [[1.0, -2.0, 1.0, 1.0, -2 * 0.9998 * np.cos(0.01), 0.9998**2],
         [-1.0, 2.0, -1.0, 1.0, 2 * 0.9998 * np.cos(0.3), 0.9998**2]]),
}


def _inputs(n: int) -> dict[str, np.ndarray]:
    t = np.arange(n)
    return {
        "rails": np.where(t % 2, 32767, -32768).astype(np.int16),
        "step": np.where(t < n // 2, -32768, 32767).astype(np.int16),
        "sine_resonant": np.round(32767 * np.sin(0.3 * t)).astype(np.int16),
        "sine_low": np.round(32767 * np.sin(0.01 * t)).astype(np.int16),
        "random": np.random.default_rng(4).integers(-32768, 32768, n).astype(np.int16),
    }


@pytest.mark.parametrize("runtime", BOTH)
def test_fixed_filter_is_32bit_safe_and_bit_exact(tmp_path, runtime: str) -> None:
    n = 1500
    cases = []
    for sname, rows in EDGE_SETS.items():
        for iname, x in _inputs(n).items():
            cases.append((sname, iname, rows, x))
    src = tmp_path / "x.bin"
    dst = tmp_path / "y.bin"
    src.write_bytes(b"".join(x.astype("<i2").tobytes() for *_, x in cases))
    out = run_mp_file("device/fixed_filter.py", heap="1m", runtime=runtime, data={
        "rows": [c[2] for c in cases], "n": n, "src": str(src), "dst": str(dst)})
    dev = np.frombuffer(dst.read_bytes(), dtype="<i2").reshape(len(cases), n)
    dev_q = [json.loads(line) for line in out.splitlines()]
    clamped = 0
    for k, (sname, iname, rows, x) in enumerate(cases):
        # The coefficients the device quantized: the host's exactly where
        # floats are doubles; on a float32 runtime the coefficients arrive
        # through float32 (and MicroPython's float parser, not always
        # correctly rounded), so within 2 float32 ulps of them.
        q = list(zip(dev_q[k][0::2], dev_q[k][1::2], strict=True))
        if runtime == "unix":
            assert q == _quant(rows), f"{sname}: device quantized differently"
        else:
            for (hi, lo), (hi0, lo0) in zip(q, _quant(rows), strict=True):
                c, c0 = (hi << 14) + lo, (hi0 << 14) + lo0
                assert abs(c - c0) <= max(1, abs(c0) * 2**-22), f"{sname}: {c} vs {c0}"
        want, peak = model_sosfilt(x, q)
        assert list(dev[k]) == want, f"{sname}/{iname}: device differs from the 32-bit model"
        clamped += peak >= (1 << 27) - 1
    assert clamped > 0  # the clamp path was exercised too


def _acc_model(sweeps: np.ndarray) -> tuple[list[int], int]:
    n = sweeps.shape[1]
    v = [0] * n
    shift = 0
    for cnt, s in enumerate(sweeps):
        if cnt + 1 > (1 << (8 + shift)) - 1:
            v = [((w + 1) >> 1) for w in v]
            shift += 1
        half = (1 << (shift - 1)) if shift else 0
        for i in range(n):
            x = _chk(int(s[i]) + half) >> shift
            v[i] = _chk(v[i] + x)
            assert -(2**23) <= v[i] < 2**23, "24-bit word overflow"
    return v, shift


@pytest.mark.parametrize("runtime", BOTH)
def test_accumulator_words_stay_24bit_and_match(tmp_path, runtime: str) -> None:
    """1100 sweeps at the rails (the worst case for the sum) through Acc24 on
    the device and through the model; words and shift must agree. A second
    channel of the same split, fed only 100 of those sweeps (its other
    sweeps rejected), keeps its own count and shift: still exact."""
    n = 64
    k = 1100
    k1 = 100
    sweeps = np.empty((k, n), dtype=np.int16)
    sweeps[:, : n // 2] = 32767
    sweeps[:, n // 2 :] = -32768
    want, shift = _acc_model(sweeps)
    want1, shift1 = _acc_model(sweeps[:k1])
    out = run_mp_file("device/fixed_acc24.py", heap="1m", runtime=runtime,
                      data={"n": n, "k": k, "k1": k1})
    rows = [line.split(" ", 2) for line in out.strip().splitlines()]
    assert int(rows[0][0]) == shift == 3  # 1024..2047 sweeps: units of 8 LSB
    assert int(rows[0][1]) == k
    assert eval(rows[0][2]) == want
    assert int(rows[1][0]) == shift1 == 0 and int(rows[1][1]) == k1
    assert eval(rows[1][2]) == want1 == [k1 * int(v) for v in sweeps[0]]  # exact
