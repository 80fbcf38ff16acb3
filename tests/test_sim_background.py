"""The simulated amplifier's background, mains and bursts, by their
statistics. The background is drawn from a pool of 1 s blocks (simunit.signals);
its reference here is what the pool stands for: every 1 s block drawn
afresh (a complex Gaussian spectrum shaped by the channel's kind, scaled to
the kind's r.m.s., overlap-added with sine windows at a 0.5 s hop), with
white amplifier noise. Both must agree in r.m.s., band powers, amplitude
distribution, independence between channels and between sweeps."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal
from simunit import signals
from simunit.model import HardwareModel
from simunit.montage import CHANNELS

RATE = 5000
UV = signals.board.AMP_UV_PER_LSB
KINDS = {k: [c.index for c in CHANNELS if c.kind == k] for k in signals.BACKGROUND_UV}
EDGES = (1, 4, 8, 13, 30, 80, 200, 500, 1000, 2500)  # Hz


def fresh(seed: int, kind: str, n_ch: int, seconds: int) -> np.ndarray:
    """(samples, n_ch) uV: the reference background, fresh blocks throughout."""
    rng = np.random.default_rng([seed, 99])
    n, h = RATE, RATE // 2
    f = np.fft.rfftfreq(n, 1 / RATE)
    s = signals._shape(kind, f)
    s[0] = 0
    out = np.zeros((n_ch, seconds * RATE + n))
    w = np.sin(np.pi * np.arange(n) / n)
    for k in range(2 * seconds + 1):
        x = np.fft.irfft((rng.standard_normal((n_ch, len(f))) + 1j * rng.standard_normal((n_ch, len(f)))) * s, n)
        x *= signals.BACKGROUND_UV[kind] / np.sqrt(np.mean(x**2, axis=1, keepdims=True))
        out[:, k * h : k * h + n] += w * x
    y = out[:, h : h + seconds * RATE] + signals.AMP_NOISE_UV * rng.standard_normal((n_ch, seconds * RATE))
    return y.T


def rendered(seed: int, chans: list[int], seconds: int, t0_us: int = 0) -> np.ndarray:
    """(samples, len(chans)) uV from the renderer, in 10 s acquisitions, with
    ideal contacts (no mains, no lead-off noise) and no bursts."""
    r = signals.Renderer(seed)
    parts = [r.render(t0_us + k * 10_000_000, RATE, 10 * RATE, chans, [], [], [0.0] * len(chans),
                      50.0, 0.0, 0.0, 0.7) for k in range(seconds // 10)]
    return np.concatenate(parts).astype(float) * UV


def band_fractions(x: np.ndarray) -> np.ndarray:
    """Share of the power above 1 Hz in each band of EDGES, averaged over channels."""
    f, p = signal.welch(x, fs=RATE, nperseg=RATE, axis=0)
    p = p.mean(axis=1)
    tot = p[f >= EDGES[0]].sum()
    return np.array([p[(f >= a) & (f < b)].sum() / tot for a, b in zip(EDGES, EDGES[1:], strict=False)])


@pytest.mark.parametrize("kind", list(KINDS))
def test_background_has_the_rms_and_band_powers_of_fresh_blocks(kind: str) -> None:
    chans = KINDS[kind]
    new = np.concatenate([rendered(seed, chans, 60) for seed in (1, 2)])
    ref = np.concatenate([fresh(seed, kind, len(chans), 60) for seed in (1, 2)])
    expect = np.hypot(signals.BACKGROUND_UV[kind], signals.AMP_NOISE_UV)
    assert np.sqrt(np.mean(new**2)) == pytest.approx(expect, rel=0.03)
    assert np.sqrt(np.mean(ref**2)) == pytest.approx(expect, rel=0.03)
    bn, br = band_fractions(new), band_fractions(ref)
    # Bands holding at least 2% of the power agree within 12%; the rest
    # within 0.005 of the total.
    big = br >= 0.02
    assert np.all(np.abs(bn[big] / br[big] - 1) < 0.12), (kind, bn.round(4), br.round(4))
    assert np.all(np.abs(bn[~big] - br[~big]) < 0.005), (kind, bn.round(4), br.round(4))


def test_background_is_gaussian_and_channels_are_independent() -> None:
    x = rendered(3, list(range(16)), 60)
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    kurt = (z**4).mean(axis=0)
    skew = (z**3).mean(axis=0)
    assert np.all(np.abs(kurt - 3) < 0.25), kurt.round(3)
    assert np.all(np.abs(skew) < 0.1), skew.round(3)
    cc = np.corrcoef(x.T)
    np.fill_diagonal(cc, 0)
    assert np.abs(cc).max() < 0.06


def test_sweeps_average_down_as_from_fresh_blocks() -> None:
    """Noise in an average of 100 sweeps at 4.7 Hz: pool blocks that recur
    must not correlate sweeps that fresh blocks would leave independent."""
    n_sweeps, n = 100, 500
    cervical, muscle = KINDS["cervical"][0], KINDS["muscle"][0]
    got: dict[str, list[float]] = {"new": [], "ref": []}
    for seed in range(8):
        r = signals.Renderer(seed)
        t = 1_000_000 + 37 * seed
        acc = np.zeros((n, 2))
        for _ in range(n_sweeps):
            acc += r.render(t, RATE, n, [cervical, muscle], [], [], [0.0, 0.0], 50.0, 0.0, 0.0, 0.7) * UV
            t += 212_766
        got["new"].append(float(np.sqrt(np.mean((acc / n_sweeps) ** 2))))
        ref = np.stack([fresh(seed, "cervical", 1, 22)[:, 0], fresh(seed, "muscle", 1, 22)[:, 0]], axis=1)
        acc = np.zeros((n, 2))
        for k in range(n_sweeps):
            i = int(k * 212_766 * RATE / 1e6)
            acc += ref[i : i + n]
        got["ref"].append(float(np.sqrt(np.mean((acc / n_sweeps) ** 2))))
    new, ref = np.mean(got["new"]), np.mean(got["ref"])
    assert new == pytest.approx(ref, rel=0.2), got


def test_pool_blocks_are_scaled_like_fresh_ones() -> None:
    p = signals.pool(RATE)
    assert p.shape == (len(signals.KINDS), signals.POOL_BLOCKS, RATE) and p.dtype == np.float32
    for i, kind in enumerate(signals.KINDS):
        rms = np.sqrt(np.mean(p[i].astype(float) ** 2, axis=1))
        assert np.allclose(rms, signals.BACKGROUND_UV[kind], rtol=1e-4)
    w = signals.white()
    assert abs(w.mean()) < 0.01 and w.std() == pytest.approx(1.0, abs=0.01)


def test_mains_harmonics_scale_with_the_contact_impedance() -> None:
    """Fundamental, 3rd and 5th harmonic at 1 : 0.3 : 0.12 of ohms * 1 nA."""
    r = signals.Renderer(4)
    ohms = 50_000.0  # mains 50 uV, well above the background
    x = r.render(0, RATE, 10 * RATE, [8], [], [], [ohms], 50.0, 0.0, 0.0, 0.7)[:, 0] * UV
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)))) * 2 / np.hanning(len(x)).sum()
    f = np.fft.rfftfreq(len(x), 1 / RATE)
    hz = 50.0 + r._mains_drift
    for mult, rel in signals.MAINS_HARMONICS:
        band = np.abs(f - mult * hz) < 1.0
        assert spec[band].max() == pytest.approx(signals.MAINS_A * ohms * 1e6 * rel, rel=0.05)


def test_bursts_appear_exactly_in_their_ground_truth_windows(tmp_path) -> None:
    f = tmp_path / "busy.toml"
    f.write_text('name = "busy"\n[bursts]\nmovement_per_min = 6\ncautery_per_min = 0\n')
    m = HardwareModel(scenario=str(f), seed=5)
    chans = list(range(16))
    x = np.concatenate([m.acquire(t, RATE, 5 * RATE, chans) for t in range(0, 120_000_000, 5_000_000)])
    y = np.abs(x.astype(float) * UV)
    t_s = np.arange(len(x)) / RATE
    bursts = m.renderer.bursts(0.0, 120.0, 6.0, 0.0)
    assert len(bursts) >= 4
    regions = ("scalp", "neck", "arm_L", "arm_R", "leg_L", "leg_R")
    inside = np.zeros(x.shape, dtype=bool)
    for kind, e in bursts:
        assert kind == "movement"
        on = (t_s >= e["t0"]) & (t_s <= e["t0"] + e["dur"])
        cols = [c for c in chans if CHANNELS[c].region == regions[int(e["region"])]]
        inside[np.ix_(on, cols)] = True
        # each burst reaches well above the background somewhere in its window
        assert y[np.ix_(on, cols)].max() > 0.3 * e["uv"]
    loud = y > 60.0  # far above background (<= 8 uV r.m.s.) and mains (~10 uV)
    assert loud.any() and not (loud & ~inside).any()


def test_sweeps_far_apart_rarely_repeat_each_other() -> None:
    """A pool block recurs, so two sweeps can read the same stretch of it
    (with either sign). Of the pairs of 100 ms muscle sweeps more than 1 s
    apart (3 seeds x 400 sweeps), fewer than 1 in 20,000 correlate beyond
    0.8: about 1 in 100,000 do (fresh blocks: none; a pool of 4 blocks
    instead of 32: 1 in 5,000)."""
    ch = KINDS["muscle"][0]
    idx = (np.arange(400) * 212_766 * RATE // 1_000_000).astype(int)
    far = np.abs(idx[:, None] - idx[None, :]) > RATE
    high = pairs = 0
    for seed in range(3):
        x = rendered(seed, [ch], 90)[:, 0]
        sweeps = np.stack([x[i : i + 500] for i in idx])
        cc = np.corrcoef(sweeps - sweeps.mean(axis=1, keepdims=True))
        high += int((np.abs(cc[far]) > 0.8).sum())
        pairs += int(far.sum())
    assert high / pairs < 1 / 20_000, (high, pairs)


def test_sample_ranges_are_those_a_search_of_the_sample_times_finds() -> None:
    """Artifact ranges are computed, not searched: the same index as
    np.searchsorted on the window's sample times, on and off the grid."""
    rng = np.random.default_rng(0)
    for rate in (5000, 10000, 20000):
        period = 1e6 / rate
        for _ in range(100):
            t0 = int(rng.integers(0, 1 << 40))
            n = int(rng.integers(1, 2000))
            t = t0 + np.arange(n) * period
            on_grid = t0 + int(rng.integers(-5, n + 5)) * period
            for x in (on_grid, on_grid + 1e-3, on_grid - 1e-3, t0 + rng.uniform(-1e4, n * period + 1e4)):
                assert signals._first_at(t0, period, n, x) == np.searchsorted(t, x)
