# Which spinal roots supply each muscle a triggered-EMG or SCS protocol
# records (the common IONM myotome table), so that a low screw threshold is
# reported as the muscle and the roots at risk. Muscle names may carry a
# side, as a prefix or a suffix: "L_TA", "TA_L".
ROOTS = {
    "DELT": "C5-C6",
    "BIC": "C5-C6",
    "TRI": "C6-C8",
    "FCR": "C6-C7",
    "APB": "C8-T1",
    "ADM": "C8-T1",
    "RECT": "T6-T12",
    "ADD": "L2-L4",
    "QUAD": "L2-L4",
    "VM": "L2-L4",
    "TA": "L4-L5",
    "EHL": "L5",
    "PL": "L5-S1",
    "GAS": "S1-S2",
    "AH": "S1-S2",
    "EAS": "S2-S4",
}


def root_of(muscle):
    """The roots of a muscle name, or None when the table has no entry."""
    for part in muscle.upper().split("_"):
        r = ROOTS.get(part)
        if r is not None:
            return r
    return None
