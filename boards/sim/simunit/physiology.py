"""Patient physiology: what each delivered stimulus evokes on each recording
channel. Every response is a sum of Gaussian waves (channel, centre, width,
amplitude), so the noise and sample generator (signals.py) has one shape to
draw.

Recruitment is a sigmoid against delivered charge per phase, with a
strength-duration (Weiss) correction so that longer pulses lower the
threshold current. A target's `threshold` is the charge at its reference
pulse width that evokes 10% of its maximum response. Scenario effects scale
amplitude, latency and threshold per named response (see scenarios.py).

Figures: published IONM studies and guidelines, as listed in docs/SIMULATOR.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from simunit.montage import CHANNEL_INDEX, TC_LATERAL

LN9 = math.log(9.0)


@dataclass(frozen=True)
class Wave:
    channel: int
    t_us: float  # centre, absolute virtual time
    sigma_us: float
    amp_uv: float


# Scenario modifiers for one response name: (amplitude, latency, threshold) factors.
Modifiers = Callable[[str], tuple[float, float, float]]


def recruitment(q_uc: float, w_us: float, thr_uc: float, w_ref: float, chronaxie: float, slope: float) -> float:
    """Fraction of the maximum response, 0..1, monotone in charge."""
    if q_uc <= 0 or thr_uc <= 0:
        return 0.0
    thr = thr_uc * (1.0 + w_us / chronaxie) / (1.0 + w_ref / chronaxie)
    x = q_uc / thr
    lo = 1.0 / (1.0 + math.exp(1.0 / slope + LN9))
    z = (x - 1.0) / slope - LN9
    r = 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0
    return max(0.0, (r - lo) / (1.0 - lo))


def threshold_ma(thr_uc: float, w_us: float, w_ref: float, chronaxie: float) -> float:
    """Current (mA) at pulse width w_us giving the 10% response."""
    thr = thr_uc * (1.0 + w_us / chronaxie) / (1.0 + w_ref / chronaxie)
    return thr / w_us * 1000.0


# --- SSEP ----------------------------------------------------------------------
SENSORY = {"w_ref": 200.0, "chronaxie": 500.0, "slope": 0.5}
# pathway: threshold (uC at 200 us) and components (level, name, channel,
# peak latency ms, signed peak uV, sigma ms). N = negative at the active electrode.
SSEP = {
    "median_L": (1.0, (
        ("peripheral", "N9", "EPL-Fz", 9.5, -3.0, 0.5),
        ("subcortical", "N13", "Cv5-Fz", 13.3, -2.5, 0.9),
        ("cortical", "N20", "CP4-Fz", 19.5, -2.0, 1.3),
        ("cortical", "P25", "CP4-Fz", 25.0, 2.5, 2.2),
    )),
    "median_R": (1.0, (
        ("peripheral", "N9", "EPR-Fz", 9.5, -3.0, 0.5),
        ("subcortical", "N13", "Cv5-Fz", 13.3, -2.5, 0.9),
        ("cortical", "N20", "CP3-Fz", 19.5, -2.0, 1.3),
        ("cortical", "P25", "CP3-Fz", 25.0, 2.5, 2.2),
    )),
    "tibial_L": (1.5, (
        ("peripheral", "PF", "PFL", 8.5, -2.0, 0.7),
        ("subcortical", "N34", "Cv5-Fz", 33.0, -0.8, 2.0),
        ("cortical", "P37", "CPz-Fz", 37.5, 1.8, 2.5),
        ("cortical", "N45", "CPz-Fz", 45.0, -1.5, 3.5),
    )),
    "tibial_R": (1.5, (
        ("peripheral", "PF", "PFR", 8.5, -2.0, 0.7),
        ("subcortical", "N34", "Cv5-Fz", 33.0, -0.8, 2.0),
        ("cortical", "P37", "CPz-Fz", 37.5, 1.8, 2.5),
        ("cortical", "N45", "CPz-Fz", 45.0, -1.5, 3.5),
    )),
}
SSEP_SITE_OF = {"P1": "median_L", "P2": "median_R", "P3": "tibial_L", "P4": "tibial_R"}

# --- motor ---------------------------------------------------------------------
MOTOR = {"chronaxie": 250.0}
# TcMEP per muscle: onset latency ms, maximum peak-to-peak uV, threshold uC per
# pulse at 75 us in a train of 5 at 3 ms ISI.
MEP = {
    "APB": (21.5, 1500.0, 12.0),
    "QUAD": (22.0, 400.0, 18.0),
    "TA": (30.0, 800.0, 16.0),
    "AH": (42.5, 600.0, 18.0),
}
MEP_W_REF = 75.0
MEP_SLOPE = 0.25
LEG_MUSCLES = ("QUAD", "TA", "AH")

# M-wave of a muscle supplied by the stimulated nerve: site -> (muscle,
# onset ms, max uV, threshold uC at 200 us).
MWAVE = {
    "median_L": ("APB_L", 3.5, 3000.0, 2.0),
    "median_R": ("APB_R", 3.5, 3000.0, 2.0),
    "tibial_L": ("AH_L", 4.5, 2500.0, 2.6),
    "tibial_R": ("AH_R", 4.5, 2500.0, 2.6),
}

# Triggered EMG: nerve root -> (muscle, weight); muscle -> onset latency ms.
ROOT_MUSCLES = {
    "L2": (("QUAD", 1.0),),
    "L3": (("QUAD", 1.0),),
    "L4": (("QUAD", 0.6), ("TA", 0.7)),
    "L5": (("TA", 1.0), ("AH", 0.3)),
    "S1": (("AH", 1.0),),
}
ROOT_LATENCY_MS = {"QUAD": 9.0, "TA": 13.0, "AH": 18.0}
ROOT_MAX_UV = 500.0
ROOT_W_REF = 200.0
ROOT_SLOPE = 0.3

# SCS: contact spacing, dorsal root entry lines at +-ROOT_LINE_MM from the
# physiological midline, threshold (mA at 200 us) = A + B * d^2 with d the
# cathode's lateral distance to the root line.
SCS_PITCH_MM = 4.0
SCS_ROOT_LINE_MM = 3.5
SCS_THR_A_MA = 0.8
SCS_THR_B_MA_PER_MM2 = 0.2
SCS_MUSCLE_CENTRE = {"QUAD": 2.0, "TA": 8.0, "AH": 13.0}
SCS_LATENCY_MS = {"QUAD": 8.0, "TA": 10.0, "AH": 12.0}
SCS_MAX_UV = 300.0
SCS_SLOPE = 0.3


def cmap_waves(channel: int, onset_us: float, p2p_uv: float, phases: tuple[float, ...], scale_ms: float) -> list[Wave]:
    """A polyphasic compound muscle action potential: alternating Gaussian
    phases, the first centred two widths after onset so onset is the latency."""
    waves = []
    sigma = 0.5 * scale_ms * 1000.0
    t = onset_us + 2 * sigma
    sign = 1.0
    for rel in phases:
        waves.append(Wave(channel, t, sigma, sign * rel * p2p_uv / 1.8))
        t += 2.6 * sigma
        sigma *= 1.25
        sign = -sign
    return waves


def peak_to_peak(waves: list[Wave], channel: int) -> float:
    ws = [w for w in waves if w.channel == channel]
    if not ws:
        return 0.0
    lo = min(w.t_us - 4 * w.sigma_us for w in ws)
    hi = max(w.t_us + 4 * w.sigma_us for w in ws)
    t = np.linspace(lo, hi, 400)
    y = sum(w.amp_uv * np.exp(-0.5 * ((t - w.t_us) / w.sigma_us) ** 2) for w in ws)
    return float(np.max(y) - np.min(y))


def train_facilitation(n: int, isi_us: float) -> float:
    """Relative drive of a TcMEP train against the reference 5 pulses at 3 ms:
    a single pulse needs ~2.5x the charge, 3 vs 9 pulses differ little, and
    the ISI optimum is near 3 ms (ionm.md)."""
    if n <= 1:
        return 0.4
    h = (1.0 - math.exp(-(n - 1) / 1.5)) / (1.0 - math.exp(-4 / 1.5))
    g = math.exp(-(math.log(max(isi_us, 100.0) / 3000.0) ** 2) / (2 * 0.6**2))
    return 0.4 + 0.6 * h * g


def tc_hemisphere_drive(anodes: list[str]) -> dict[str, float]:
    """Drive to left-side and right-side muscles from the anode position."""
    if not anodes:
        return {"L": 0.0, "R": 0.0}
    a = sum(TC_LATERAL.get(e, 0.0) for e in anodes) / len(anodes)
    return {"L": 0.7 + 0.3 * a, "R": 0.7 - 0.3 * a}


class Physiology:
    """Response generator for one patient; scenario effects come in as modifiers."""

    def __init__(self, screws: dict[str, dict[str, object]], scs: dict[str, float],
                 dwave_levels: dict[str, str] | None = None) -> None:
        self.screws = screws
        self.lead = scs
        self.dwave_levels = dwave_levels or {"rostral": "T4", "caudal": "T10"}

    # --- D-wave (simunit/dwave.py, which builds on this module) -------------------
    def dwave(self, q_uc: float, w_us: float, t_us: float,
              rng: np.random.Generator, mods: Modifiers) -> tuple[list[Wave], dict[str, object]]:
        from simunit import dwave

        return dwave.response(self.dwave_levels, q_uc, w_us, t_us, rng, mods)

    def dwave_truth(self, mods: Modifiers) -> dict[str, object]:
        from simunit import dwave

        return dwave.truth(self.dwave_levels, mods)

    # --- SSEP and M-wave ---------------------------------------------------------
    def peripheral(self, output: str, q_uc: float, w_us: float, t_us: float,
                   rng: np.random.Generator, mods: Modifiers) -> tuple[list[Wave], dict[str, object]]:
        site = SSEP_SITE_OF[output]
        thr, comps = SSEP[site]
        waves: list[Wave] = []
        truth: dict[str, object] = {}
        path_amp = float(rng.lognormal(0.0, 0.12))
        path_lat = float(rng.normal(0.0, 0.15))
        for level, comp, ch, lat, amp, sig in comps:
            name = "ssep.%s.%s.%s" % (site, level, comp)
            fa, fl, ft = mods(name)
            r = recruitment(q_uc, w_us, thr * ft, SENSORY["w_ref"], SENSORY["chronaxie"], SENSORY["slope"])
            a = amp * r * fa * path_amp * float(rng.lognormal(0.0, 0.1))
            latency = lat * fl + path_lat + float(rng.normal(0.0, 0.1))
            waves.append(Wave(CHANNEL_INDEX[ch], t_us + latency * 1000, sig * 1000, a))
            truth[comp] = {"latency_ms": round(latency, 3), "amplitude_uV": round(a, 4)}
        muscle, onset, mx, mthr = MWAVE[site]
        fa, fl, ft = mods("mwave." + muscle)
        r = recruitment(q_uc, w_us, mthr * ft, 200.0, MOTOR["chronaxie"], 0.3)
        if r > 0:
            p2p = mx * r * fa * float(rng.lognormal(0.0, 0.1))
            waves += cmap_waves(CHANNEL_INDEX[muscle], t_us + (onset * fl) * 1000, p2p, (1.0, 0.8), 1.0)
            truth["M_" + muscle] = {"latency_ms": round(onset * fl, 3), "amplitude_uV": round(p2p, 2)}
        return waves, truth

    def ssep_truth(self, mods: Modifiers) -> dict[str, object]:
        out: dict[str, object] = {}
        for site, (thr, comps) in SSEP.items():
            comp_out = {}
            for level, comp, ch, lat, amp, _sig in comps:
                fa, fl, ft = mods("ssep.%s.%s.%s" % (site, level, comp))
                comp_out[comp] = {
                    "channel": ch,
                    "latency_ms": round(lat * fl, 3),
                    "amplitude_uV": round(amp * fa, 4),
                    "threshold_mA_200us": round(threshold_ma(thr * ft, 200.0, SENSORY["w_ref"], SENSORY["chronaxie"]), 3),
                }
            out[site] = comp_out
        return out

    # --- TcMEP -------------------------------------------------------------------
    def mep(self, q_uc: float, w_us: float, n: int, isi_us: float, anodes: list[str], t_last_us: float,
            rng: np.random.Generator, mods: Modifiers) -> tuple[list[Wave], dict[str, object]]:
        drive = tc_hemisphere_drive(anodes)
        fac = train_facilitation(n, isi_us)
        midline = 1.0 - min(1.0, abs(sum(TC_LATERAL.get(e, 0.0) for e in anodes) / max(1, len(anodes))))
        waves: list[Wave] = []
        truth: dict[str, object] = {}
        for muscle, (lat, mx, thr) in MEP.items():
            for side in ("L", "R"):
                name = "%s_%s" % (muscle, side)
                fa, fl, ft = mods("mep." + name)
                leg = 1.0 + 0.3 * midline if muscle in LEG_MUSCLES else 1.0
                r = recruitment(q_uc * fac * drive[side] * leg, w_us, thr * ft, MEP_W_REF, MOTOR["chronaxie"], MEP_SLOPE)
                p2p = mx * r * fa * float(rng.lognormal(0.0, 0.5))
                # Stronger drive recruits faster-conducting units: latency falls a little.
                latency = lat * fl + 1.5 * (1.0 - r) + float(rng.normal(0.0, 0.7))
                phases = (1.0, 0.9, float(rng.uniform(0.3, 0.8)), float(rng.uniform(0.1, 0.5)))
                if p2p > 0.05:
                    waves += cmap_waves(CHANNEL_INDEX[name], t_last_us + latency * 1000, p2p, phases, 1.6)
                truth[name] = {"latency_ms": round(latency, 3), "amplitude_uV": round(p2p, 2)}
        return waves, truth

    def mep_truth(self, mods: Modifiers) -> dict[str, object]:
        out: dict[str, object] = {}
        for muscle, (lat, mx, thr) in MEP.items():
            for side in ("L", "R"):
                name = "%s_%s" % (muscle, side)
                fa, fl, ft = mods("mep." + name)
                out[name] = {
                    "latency_ms": round(lat * fl, 3),
                    "max_amplitude_uV": round(mx * fa, 2),
                    "threshold_uC_per_pulse_75us_train5_isi3ms": round(thr * ft, 3),
                }
        return out

    # --- triggered EMG -------------------------------------------------------------
    def probe(self, screw: str | None, q_uc: float, w_us: float, t_us: float,
              rng: np.random.Generator, mods: Modifiers) -> tuple[list[Wave], dict[str, object]]:
        if not screw or screw not in self.screws:
            return [], {}
        s = self.screws[screw]
        root, side = str(s["root"]), str(s["side"])
        thr_uc = float(s["threshold_mA"]) * ROOT_W_REF / 1000.0  # type: ignore[arg-type]
        waves: list[Wave] = []
        truth: dict[str, object] = {}
        for muscle, weight in ROOT_MUSCLES[root]:
            name = "%s_%s" % (muscle, side)
            fa, fl, ft = mods("temg." + name)
            r = recruitment(q_uc, w_us, thr_uc * ft, ROOT_W_REF, MOTOR["chronaxie"], ROOT_SLOPE)
            p2p = ROOT_MAX_UV * weight * r * fa * float(rng.lognormal(0.0, 0.15))
            latency = ROOT_LATENCY_MS[muscle] * fl + float(rng.normal(0.0, 0.2))
            if p2p > 0.05:
                waves += cmap_waves(CHANNEL_INDEX[name], t_us + latency * 1000, p2p, (1.0, 0.7), 1.2)
            truth[name] = {"latency_ms": round(latency, 3), "amplitude_uV": round(p2p, 2)}
        return waves, truth

    def screw_truth(self) -> dict[str, object]:
        return {
            name: dict(s, breached=float(s["threshold_mA"]) < 8.0)  # type: ignore[arg-type]
            for name, s in self.screws.items()
        }

    # --- SCS lead ------------------------------------------------------------------
    def contact_lateral_mm(self, i: int) -> float:
        angle = math.radians(self.lead.get("angle_deg", 0.0))
        return self.lead.get("offset_mm", 0.0) + i * SCS_PITCH_MM * math.tan(angle)

    def scs_threshold_ma(self, contact: int, side: str) -> float:
        """True motor threshold (mA at 200 us, 10% point) with this contact as cathode."""
        x = self.contact_lateral_mm(contact)
        line = -SCS_ROOT_LINE_MM if side == "L" else SCS_ROOT_LINE_MM
        d = x - line
        return SCS_THR_A_MA + SCS_THR_B_MA_PER_MM2 * d * d

    def scs(self, cathodes: list[int], q_uc: float, w_us: float, t_us: float,
            rng: np.random.Generator, mods: Modifiers) -> tuple[list[Wave], dict[str, object]]:
        waves: list[Wave] = []
        truth: dict[str, object] = {}
        if not cathodes:
            return waves, truth
        q_each = q_uc / len(cathodes)
        for side in ("L", "R"):
            for muscle, centre in SCS_MUSCLE_CENTRE.items():
                name = "%s_%s" % (muscle, side)
                fa, fl, ft = mods("scs." + name)
                r = 0.0
                for c in cathodes:
                    weight = math.exp(-(((c - centre) / 5.0) ** 2))
                    thr_uc = self.scs_threshold_ma(c, side) * 200.0 / 1000.0
                    r = max(r, weight * recruitment(q_each, w_us, thr_uc * ft, 200.0, MOTOR["chronaxie"], SCS_SLOPE))
                p2p = SCS_MAX_UV * r * fa * float(rng.lognormal(0.0, 0.15))
                latency = SCS_LATENCY_MS[muscle] * fl + float(rng.normal(0.0, 0.2))
                if p2p > 0.05:
                    waves += cmap_waves(CHANNEL_INDEX[name], t_us + latency * 1000, p2p, (1.0, 0.7), 1.0)
                truth[name] = {"latency_ms": round(latency, 3), "amplitude_uV": round(p2p, 2)}
        return waves, truth

    def scs_truth(self) -> dict[str, object]:
        return {
            "offset_mm": self.lead.get("offset_mm", 0.0),
            "angle_deg": self.lead.get("angle_deg", 0.0),
            "root_line_mm": SCS_ROOT_LINE_MM,
            "contacts": [
                {
                    "contact": "E%d" % i,
                    "lateral_mm": round(self.contact_lateral_mm(i), 3),
                    "threshold_L_mA_200us": round(self.scs_threshold_ma(i, "L"), 3),
                    "threshold_R_mA_200us": round(self.scs_threshold_ma(i, "R"), 3),
                }
                for i in range(16)
            ],
        }
