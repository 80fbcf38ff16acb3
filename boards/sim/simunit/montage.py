"""The default montage: which output stimulates which site, and what each of
the 18 recording channels sees. docs/SIMULATOR.md has the same table for
people; this is the one the model uses."""

from __future__ import annotations

from dataclasses import dataclass

# --- stimulation sites -------------------------------------------------------
# region: where the stimulus current flows, for artifact coupling.
SITES = {
    "P1": {"site": "median_L", "region": "arm_L", "what": "left median nerve at the wrist"},
    "P2": {"site": "median_R", "region": "arm_R", "what": "right median nerve at the wrist"},
    "P3": {"site": "tibial_L", "region": "leg_L", "what": "left posterior tibial nerve at the ankle"},
    "P4": {"site": "tibial_R", "region": "leg_R", "what": "right posterior tibial nerve at the ankle"},
    "TC": {"site": "motor_cortex", "region": "scalp", "what": "transcranial, C3/C4/C1/C2/Cz/Fz"},
    "PR": {"site": "screw", "region": "trunk", "what": "hand-held probe on a pedicle screw"},
    "SCS": {"site": "scs_lead", "region": "trunk", "what": "16-contact SCS lead, E0 rostral"},
}

# Lateral position of the transcranial electrodes (-1 left, +1 right). The
# anode's hemisphere drives the opposite side of the body.
TC_LATERAL = {"C3": -1.0, "C1": -0.5, "Cz": 0.0, "Fz": 0.0, "C2": 0.5, "C4": 1.0}


# --- recording channels --------------------------------------------------------
@dataclass(frozen=True)
class Channel:
    index: int
    name: str
    active: str  # electrode names, for impedance and lead-off
    ref: str
    kind: str  # background: "cortex", "cervical", "peripheral", "muscle"
    region: str  # for stimulus artifact coupling
    sees: str


CHANNELS = (
    Channel(0, "CP3-Fz", "CP3", "Fz", "cortex", "scalp", "right median N20/P25"),
    Channel(1, "CP4-Fz", "CP4", "Fz", "cortex", "scalp", "left median N20/P25"),
    Channel(2, "CPz-Fz", "CPz", "Fz", "cortex", "scalp", "tibial P37/N45 (both legs)"),
    Channel(3, "Cv5-Fz", "Cv5", "Fz", "cervical", "neck", "median N13, tibial N34 (far field)"),
    Channel(4, "EPL-Fz", "EPL", "Fz", "peripheral", "arm_L", "left median N9 (Erb's point)"),
    Channel(5, "EPR-Fz", "EPR", "Fz", "peripheral", "arm_R", "right median N9 (Erb's point)"),
    Channel(6, "PFL", "PFL", "PFLr", "peripheral", "leg_L", "left tibial popliteal potential"),
    Channel(7, "PFR", "PFR", "PFRr", "peripheral", "leg_R", "right tibial popliteal potential"),
    Channel(8, "APB_L", "APBL", "APBLr", "muscle", "arm_L", "left hand: MEP, median M-wave"),
    Channel(9, "APB_R", "APBR", "APBRr", "muscle", "arm_R", "right hand: MEP, median M-wave"),
    Channel(10, "QUAD_L", "QUADL", "QUADLr", "muscle", "leg_L", "left quadriceps (L2-L4)"),
    Channel(11, "QUAD_R", "QUADR", "QUADRr", "muscle", "leg_R", "right quadriceps (L2-L4)"),
    Channel(12, "TA_L", "TAL", "TALr", "muscle", "leg_L", "left tibialis anterior (L4-L5)"),
    Channel(13, "TA_R", "TAR", "TARr", "muscle", "leg_R", "right tibialis anterior (L4-L5)"),
    Channel(14, "AH_L", "AHL", "AHLr", "muscle", "leg_L", "left abductor hallucis (S1-S2), M-wave"),
    Channel(15, "AH_R", "AHR", "AHRr", "muscle", "leg_R", "right abductor hallucis (S1-S2), M-wave"),
    # An epidural strip of four contacts, ES1 rostral: two bipolar pairs,
    # one rostral to the operated segment (the control) and one caudal to
    # it (simunit/dwave.py). Added after the others, so no channel moves.
    # Its background is the spinal kind the cervical channel has.
    Channel(16, "ES1-ES2", "ES1", "ES2", "cervical", "spine", "D-wave rostral to the lesion (control)"),
    Channel(17, "ES3-ES4", "ES3", "ES4", "cervical", "spine", "D-wave caudal to the lesion"),
)
# Channels before the epidural strip: their noise and electrode draws are
# the same as before it was added (signals.py, model.py).
BASE_CHANNELS = 16
EPIDURAL_ELECTRODES = ("ES1", "ES2", "ES3", "ES4")
CHANNEL_INDEX = {c.name: c.index for c in CHANNELS}
MUSCLES = tuple(c.name for c in CHANNELS if c.kind == "muscle")
RECORDING_ELECTRODES = tuple(sorted({c.active for c in CHANNELS} | {c.ref for c in CHANNELS}))

# Stimulus artifact coupling, uV at the amplifier input per mA of stimulus.
_NEAR = {
    ("scalp", "neck"),
    ("neck", "arm_L"),
    ("neck", "arm_R"),
    ("trunk", "leg_L"),
    ("trunk", "leg_R"),
    ("trunk", "neck"),
}


ARTIFACT_MAX_UV_PER_MA = 150.0  # in the stimulated region


# The epidural pairs: two contacts 1 cm apart deep in the spinal canal see
# only a small difference of a distant stimulus's field.
SPINE_UV_PER_MA = 1.0


def artifact_uv_per_ma(site_region: str, channel_region: str) -> float:
    if channel_region == "spine" and site_region != "trunk":
        return SPINE_UV_PER_MA
    if site_region == channel_region:
        return ARTIFACT_MAX_UV_PER_MA
    if (site_region, channel_region) in _NEAR or (channel_region, site_region) in _NEAR:
        return 30.0
    return 5.0


def describe() -> dict[str, object]:
    return {
        "outputs": {k: v["what"] for k, v in SITES.items()},
        "channels": [
            {"index": c.index, "name": c.name, "active": c.active, "ref": c.ref, "sees": c.sees}
            for c in CHANNELS
        ],
    }
