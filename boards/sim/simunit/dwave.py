"""The D-wave: the corticospinal volley a transcranial pulse starts directly
in the pyramidal axons, recorded by the epidural strip's two bipolar pairs
(montage.py channels 16 and 17): one rostral to the operated segment, the
control, and one caudal to it.

Latency is conduction from the motor cortex to the pair's cord level at
CONDUCTION_M_S, plus the axons' activation time: about 2.5 ms at C5,
4.4 ms at T4 and 6.3 ms at T10 (ionm.md: 2-4 ms cervical, 5-8 ms
thoracic). The amplitude grows with the pulse's charge on a saturating
recruitment curve and falls slowly along the cord, as fibres leave the
tract. Scenario modifiers act on the names dwave.rostral and dwave.caudal
(scenarios.py), so an insult to the cord between the pairs cuts the
caudal D-wave and leaves the rostral one.

The recorded shape is a negative peak (the volley under the pair)
followed by a smaller, broader positive one; amplitudes here are
peak-to-peak, the N to the following P. A D-wave barely varies from pulse
to pulse (which is why 5-10 are averaged): 5% amplitude and 0.03 ms latency
jitter.
"""

from __future__ import annotations

import math

import numpy as np

from simunit.montage import CHANNEL_INDEX
from simunit.physiology import Modifiers, Wave, peak_to_peak, recruitment

ROLES = ("rostral", "caudal")
CHANNEL = {"rostral": "ES1-ES2", "caudal": "ES3-ES4"}
DEFAULT_LEVELS = {"rostral": "T4", "caudal": "T10"}

CONDUCTION_M_S = 65.0
ACTIVATION_MS = 0.2  # from the pulse to the volley leaving the cortex
# Path length from the motor cortex to a cord segment, cm: about 10.5 cm to
# C1, then 1.4 cm per cervical and 2 cm per thoracic segment (an adult's).
_C1_CM = 10.5
_CERVICAL_CM = 1.4
_THORACIC_CM = 2.0
LEVELS = tuple("C%d" % i for i in range(1, 9)) + tuple("T%d" % i for i in range(1, 13))

# Recruitment of the corticospinal axons by one pulse: threshold (10% of
# the maximum) in uC at 75 us, slope; the axons' chronaxie.
THRESHOLD_UC = 8.0
W_REF_US = 75.0
CHRONAXIE_US = 250.0
SLOPE = 0.35
# Largest peak-to-peak at C1, and its fall along the cord (1/e per 80 cm).
MAX_UV_C1 = 60.0
FALL_CM = 80.0

# The shape: N (sigma) at the latency, P (relative size, delay, sigma) after it.
N_SIGMA_MS = 0.25
P_REL = 0.6
P_DELAY_MS = 0.8
P_SIGMA_MS = 0.35
AMP_JITTER = 0.05
LAT_JITTER_MS = 0.03


def level_cm(level: str) -> float:
    """Path length from the motor cortex to a cord segment (C1..C8, T1..T12)."""
    if level not in LEVELS:
        raise ValueError(f"no cord level {level!r}; levels: {', '.join(LEVELS)}")
    k = int(level[1:])
    if level[0] == "C":
        return _C1_CM + _CERVICAL_CM * (k - 1)
    return _C1_CM + _CERVICAL_CM * 8 + _THORACIC_CM * (k - 1)


def latency_ms(level: str) -> float:
    return ACTIVATION_MS + level_cm(level) * 10.0 / CONDUCTION_M_S


def max_uv(level: str) -> float:
    return MAX_UV_C1 * math.exp(-(level_cm(level) - _C1_CM) / FALL_CM)


def _shape(channel: int, t_us: float, n_uv: float) -> list[Wave]:
    return [Wave(channel, t_us, N_SIGMA_MS * 1000, -n_uv),
            Wave(channel, t_us + P_DELAY_MS * 1000, P_SIGMA_MS * 1000, P_REL * n_uv)]


# Peak-to-peak of the shape per uV of its N wave.
PP_PER_N = peak_to_peak(_shape(0, 0.0, 1.0), 0)


def response(levels: dict[str, str], q_uc: float, w_us: float, t_us: float,
             rng: np.random.Generator, mods: Modifiers) -> tuple[list[Wave], dict[str, object]]:
    """The D-wave of one pulse of q_uc (first phase) and w_us at t_us on
    both pairs, and its truth: latency (the N wave's centre) and
    peak-to-peak amplitude per pair."""
    waves: list[Wave] = []
    truth: dict[str, object] = {}
    for role in ROLES:
        level = levels[role]
        fa, fl, ft = mods("dwave." + role)
        r = recruitment(q_uc, w_us, THRESHOLD_UC * ft, W_REF_US, CHRONAXIE_US, SLOPE)
        pp = max_uv(level) * r * fa * float(rng.lognormal(0.0, AMP_JITTER))
        lat = latency_ms(level) * fl + float(rng.normal(0.0, LAT_JITTER_MS))
        if pp > 0.01:
            waves += _shape(CHANNEL_INDEX[CHANNEL[role]], t_us + lat * 1000, pp / PP_PER_N)
        truth["D_" + role] = {"channel": CHANNEL[role], "level": level,
                              "latency_ms": round(lat, 4), "amplitude_uV": round(pp, 4)}
    return waves, truth


def truth(levels: dict[str, str], mods: Modifiers) -> dict[str, object]:
    """Per pair: level, latency and largest amplitude as the scenario has
    them now, and the threshold."""
    out: dict[str, object] = {}
    for role in ROLES:
        level = levels[role]
        fa, fl, ft = mods("dwave." + role)
        out[role] = {
            "channel": CHANNEL[role], "level": level, "cord_cm": round(level_cm(level), 2),
            "latency_ms": round(latency_ms(level) * fl, 4),
            "max_amplitude_uV": round(max_uv(level) * fa, 3),
            "threshold_uC_75us": round(THRESHOLD_UC * ft, 3),
        }
    return out
