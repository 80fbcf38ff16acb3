"""What the transcranial stimulus artifact's residue does to the D-wave's
N/P, without noise: the simulated unit's renderer draws the model's
D-waves (rostral at T4, 40 uV; caudal at T10, 13 uV: cut to a third) with
and without the artifact of a 250 V pulse into 1 kOhm, the background
subtracted out; each is blanked as the firmware blanks (0.1 ms before the
pulse to N after) and filtered zero-phase in the protocol's band, then
measured with the unit's own code. Prints N/P per blanking and pair, and
the artifact's share.

    .venv/bin/python bench/bench_dwave_artifact.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "boards" / "sim"), str(ROOT / "firmware")]

from scipy import signal  # noqa: E402
from simunit import dwave  # noqa: E402
from simunit.boardfiles import board  # noqa: E402
from simunit.signals import Artifact, Renderer  # noqa: E402
from stimbox import protocols  # noqa: E402
from stimfw.dsp import filters  # noqa: E402
from stimfw.record import measure  # noqa: E402

RATE = 10000
PRE = 50
N = 250
T0 = 1_000_000.0
SIZES = {16: ("T4", 40.0), 17: ("T10", 13.0)}


def recorded(with_artifact: bool) -> np.ndarray:
    """(N, 2) uV: the two pairs' waves (and artifact), background removed."""
    waves = [w for ch, (level, pp) in SIZES.items()
             for w in dwave._shape(ch, T0 + dwave.latency_ms(level) * 1000, pp / dwave.PP_PER_N)]
    arts = [Artifact("scalp", T0, T0 + 75, 250.0, 1.0)] if with_artifact else []
    r = Renderer(1)
    args = (int(T0 - PRE * 100), RATE, N, list(SIZES))
    tail = ([0.0, 0.0], 50.0, 0.0, 0.0, 0.7)
    a = r.render(*args, waves, arts, *tail).astype(float)
    b = r.render(*args, [], [], *tail).astype(float)
    return (a - b) * board.AMP_UV_PER_LSB


def main() -> None:
    rec = protocols.load("dwave")["record"]
    sos = np.asarray(filters.from_config(rec))
    print("| blanking after ms | pair | N/P waves alone uV | with the artifact uV | artifact's share |")
    print("|---|---|---|---|---|")
    for after_us in (1000, 1500, 2000, 2500):
        got = []
        for art in (False, True):
            x = recorded(art)
            row = []
            for col, spec in enumerate(rec["components"]):
                y = x[:, col].copy()
                a = PRE - 1  # 0.1 ms before the pulse
                b = PRE + -(-after_us * RATE // 1_000_000)
                y[a:b] = np.linspace(y[a - 1], y[b], b - a + 2)[1:-1]
                z = signal.sosfiltfilt(sos, y)
                row.append(measure.component(list(z), RATE, PRE, spec)["amp_uv"])
            got.append(row)
        for col, ch in enumerate(SIZES):
            alone, withart = got[0][col], got[1][col]
            print(f"| {after_us / 1000:.1f} | {ch} ({SIZES[ch][0]}) | {alone:.2f} | {withart:.2f} "
                  f"| {withart - alone:+.2f} uV ({(withart / alone - 1) * 100:+.1f}%) |")


if __name__ == "__main__":
    main()
