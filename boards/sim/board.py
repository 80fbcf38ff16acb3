# The simulated unit: the real firmware under the MicroPython Unix port, its
# console on a pseudo-terminal and its hardware modelled by the simulator
# process (simunit/). This file declares the box; the firmware reads it on
# the device and the host tools read it for deploying. Plain constants only.
NAME = "sim"
DESCRIPTION = "Simulated StimBox (MicroPython Unix port, modelled hardware)"

# mpy-cross target: None, because it is the MicroPython executable's the unit
# runs on (x64 for the PyPI Unix port, x86 for a 32-bit build); the host
# tools ask that executable (stimbox.runtime).
MPY_ARCH = None
# Not a USB device, so no USB_MATCH: `--port auto` finds running simulated
# units by their registry entry.

LIMITS_PROFILE = "sim-default-v1"

# --- stimulator outputs ------------------------------------------------------
# kind "CC": constant current, amplitudes in uA, compliance in mV.
# kind "CV": constant voltage, amplitudes in mV, current limit in uA.
# electrodes: what the output can be switched to; a pulse names its anodes and
# cathodes as a bitmask over this tuple.
# area_cm2: contact area of the electrodes normally used on this output, for
# charge density (Shannon) limits.
# mon_*_lsb: output monitor ADC scale (int16 samples).
def _peripheral(k):
    # Four identical constant-current peripheral outputs (SSEP, nerve).
    return {
        "name": "P%d" % k,
        "label": "peripheral %d" % k,
        "kind": "CC",
        "max": 100000,  # 100 mA
        "res": 100,
        "compliance": 400000,  # 400 V
        "width_us": (50, 1000),
        "electrodes": ("P%d+" % k, "P%d-" % k),
        "area_cm2": 0.5,
        "mon_ua_lsb": 4,
        "mon_mv_lsb": 16,
    }


OUTPUTS = (
    {
        "name": "TC",
        "label": "transcranial",
        "kind": "CV",
        "max": 1000000,  # 1000 V
        "res": 1000,  # 1 V steps
        "current_limit": 1500000,  # 1.5 A
        "width_us": (50, 500),
        "electrodes": ("C3", "C4", "C1", "C2", "Cz", "Fz"),
        "area_cm2": 0.5,  # corkscrew / cup electrode on the scalp
        "mon_ua_lsb": 50,
        "mon_mv_lsb": 40,
    },
    _peripheral(1),
    _peripheral(2),
    _peripheral(3),
    _peripheral(4),
    {
        "name": "PR",
        "label": "probe (direct nerve / pedicle screw)",
        "kind": "CC",
        "max": 30000,  # 30 mA
        "res": 10,
        "compliance": 300000,
        "width_us": (50, 1000),
        "electrodes": ("probe", "return"),
        "area_cm2": 0.02,  # ball-tip probe
        "mon_ua_lsb": 1,
        "mon_mv_lsb": 12,
    },
    {
        "name": "SCS",
        "label": "SCS lead port",
        "kind": "CC",
        "max": 25000,  # 25 mA
        "res": 10,
        "compliance": 300000,
        "width_us": (50, 1000),
        "electrodes": tuple("E%d" % i for i in range(16)),
        "area_cm2": 0.12,  # 3 mm x 1.3 mm cylindrical contact
        "mon_ua_lsb": 1,
        "mon_mv_lsb": 12,
    },
)

# Hardware watchdog: the main loop feeds it once per pass; unfed this long
# (ms of wall time), the output stage stops and the unit resets. Above the
# host heartbeat limit (LIMITS["heartbeat_ms"]), so a stalled loop ends a run
# through the heartbeat check first when it recovers in time.
WATCHDOG_MS = 2000

# Output monitor ADC: samples current and voltage across every pulse.
MONITOR_RATE_HZ = 500000
MONITOR_MAX_SAMPLES = 1024  # per pulse, current and voltage each
# A pulse's trace starts this many samples (16 us) before its scheduled
# start, so a late (or early) pulse shows as a late (or early) edge.
MONITOR_PRE_SAMPLES = 8

# --- recording amplifiers ----------------------------------------------------
AMP_CHANNELS = 18  # 0..15 scalp, neck, limbs and muscles; 16, 17 the epidural strip
AMP_UV_PER_LSB = 0.125  # int16: +-4.096 mV full scale
AMP_RATES_HZ = (5000, 10000, 20000)
# Recording electrodes of the montage (actives and references), for
# impedance checks.
AMP_ELECTRODES = (
    "AHL", "AHLr", "AHR", "AHRr", "APBL", "APBLr", "APBR", "APBRr", "CP3", "CP4", "CPz",
    "Cv5", "EPL", "EPR", "ES1", "ES2", "ES3", "ES4", "Fz", "PFL", "PFLr", "PFR", "PFRr", "QUADL", "QUADLr", "QUADR",
    "QUADRr", "TAL", "TALr", "TAR", "TARr",
)
# Built-in calibrator: switches chosen channels' inputs from the patient to
# a known source (a triggered one-cycle sine, shorted inputs, or a mains
# tone) of at most max_uv peak, so the recording chain can be checked
# against a known signal. A board without one declares None: a lab's
# phantom box supplies the signals.
CALIBRATOR = {"modes": ("signal", "short", "mains"), "waveforms": ("sine1",), "max_uv": 2000}
# Reserved at start-up for sweep buffers and averaging sums (stimfw/core/arena.py):
# 8 channels x 1000 samples with A/B splits (3-byte sums), and one-channel
# sweep buffers for up to 4 averaging set-ups. Set-ups beyond it use the heap.
DSP_ARENA_BYTES = 8 * 1000 * 3 * 2 + 4 * 1000 * 2

# --- safety limits profile ---------------------------------------------------
# Frozen with the firmware: the device validates every protocol against these
# before it can be armed, and no host request can change them. Units: uA, mV,
# us, nC, uJ, cm2. See docs/SAFETY.md for where each figure comes from and
# which limit binds first on which output.
# The four peripheral outputs share one set of limits.
_PERIPHERAL_LIMITS = {
    "amp_max": 100000,
    "charge_max_nc": 50000,
    "density_max_nc_cm2": 200000,
    "shannon_k": None,
    "energy_max_uj": 20000,
    "train_gap_min_us": 0,
}

LIMITS = {
    "profile": LIMITS_PROFILE,
    # Constant-voltage outputs: current, charge and energy are computed into
    # this load (the IEC 60601-2-10 reference load), capped by the output's
    # current limit. Constant-current outputs: energy into the same load,
    # voltage capped by the compliance.
    "load_ohm": 500,
    # Per output. amp_max: highest amplitude a protocol may ask for (output
    # units); charge_max_nc: charge per phase; density_max_nc_cm2: charge per
    # phase over the electrode area; shannon_k: Shannon criterion
    # log10(Q uC) + log10(D uC/cm2) <= k (None: not an implanted or
    # tissue-contact electrode, criterion not applied); energy_max_uj: energy
    # per pulse (both phases) into load_ohm; train_gap_min_us: least time
    # from one train's start to the next on that output.
    "outputs": {
        "TC": {
            "amp_max": 1000000,
            "charge_max_nc": 300000,
            "density_max_nc_cm2": 1000000,
            "shannon_k": None,
            "energy_max_uj": 100000,
            "train_gap_min_us": 500000,
        },
        "P1": _PERIPHERAL_LIMITS,
        "P2": _PERIPHERAL_LIMITS,
        "P3": _PERIPHERAL_LIMITS,
        "P4": _PERIPHERAL_LIMITS,
        "PR": {
            "amp_max": 30000,
            "charge_max_nc": 10000,
            "density_max_nc_cm2": 300000,
            "shannon_k": None,
            "energy_max_uj": 5000,
            "train_gap_min_us": 0,
        },
        "SCS": {
            "amp_max": 25000,
            "charge_max_nc": 5000,
            "density_max_nc_cm2": 30000,
            "shannon_k": 1.85,
            "energy_max_uj": 5000,
            "train_gap_min_us": 0,
        },
    },
    "pulses_per_train_max": 9,
    "isi_min_us": 1000,  # pulse start to pulse start inside a train
    "rate_max_mhz": 20000,  # train (or single pulse) repetition per stream, 20 Hz
    "pulses_per_run_max": 5000,
    "run_max_us": 1800000000,  # 30 min
    "avg_current_max_ua": 10000,  # absolute charge of all phases over the window
    "avg_window_us": 1000000,
    "imbalance_max_ppm": 20000,  # biphasic |Q1 - Q2| / Q1, 2 %
    "heartbeat_ms": 1000,
    # Output monitor judgement, per pulse (see stimfw.stim.delivery).
    "open_ohm": 20000,  # load above this: open circuit (multiple of 1000)
    "short_ohm": 20,  # load below this: short (divides 1000)
    "shortfall_pct": 90,  # delivered below 90 % of the set value: compliance flag
    # Read-back tolerances (docs/SAFETY.md, "Output monitoring"): phase-1
    # peak against the set amplitude (over/under), each phase's width at
    # half amplitude against the set width, the phase-1 onset against its
    # scheduled start, biphasic |Q1 - Q2| / Q1 (judged to 1000 ppm).
    "amp_tol_pct": 4,
    "width_tol_us": 5,
    "timing_tol_us": 10,
    "imbalance_tol_ppm": 50000,
    "flags_abort": 3,  # consecutive flagged pulses that abort a run
    # Memory bounds of a case of any length (docs/SAFETY.md, "Bounded memory").
    # Protocols whose baselines (alarm monitors) are kept, least recently
    # used dropped first: about 0.5 KB each on 32 bits.
    "baselines_max": 16,
}

# --- the journal (stimfw/core/journal.py) --------------------------------------
# The ring of sequence-numbered records (events, per-pulse records, run
# results) kept until the host acknowledges them: a file of JOURNAL_SLOTS
# slots of JOURNAL_SLOT_BYTES in the flash folder (384 KB; on a board, a
# flash partition of that size). A slot holds one event or result (an alarm
# event with its values takes about 300 B), or up to 9 pulses' read-back records.
JOURNAL_SLOTS = 1024
JOURNAL_SLOT_BYTES = 384
# Whether committing the journal needs a flush. A board's file system holds
# writes in its cache until flushed. Here the flash is a host folder, and a
# write reaches the host's page cache at once, where it outlives everything
# this unit can suffer (a killed process, a crash, a soft or watchdog reset).
# A flush on the Unix port is an fsync: durability only against the host
# losing power, which the simulation does not model, for the price of a disk
# flush inside a main-loop pass. On a slow disk that took up to 1.2 s, seen
# as a stalled loop by the 1 s heartbeat dead-man and as a lost unit by the
# host (docs/RELIABILITY.md).
JOURNAL_SYNC = False
