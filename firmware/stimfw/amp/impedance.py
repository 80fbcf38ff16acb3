# Electrode impedance check: the HAL drives a small test signal and reads it
# back (hal.impedance, in ohms); this module applies the pass/fail limits.
MAX_KOHM = 5.0
MISMATCH_KOHM = 1.5


def evaluate(values_kohm, pairs=(), max_kohm=MAX_KOHM, mismatch_kohm=MISMATCH_KOHM):
    """values_kohm: {electrode: kOhm}; pairs: (active, reference) couples whose
    mismatch is checked. Every failure names the limit, value and range."""
    out = {"electrodes": [], "pairs": [], "pass": True}
    for name in sorted(values_kohm):
        z = values_kohm[name]
        ok = z <= max_kohm
        out["electrodes"].append({"electrode": name, "kohm": z, "pass": ok,
                                  "limit": "impedance_kohm", "min": 0, "max": max_kohm})
        out["pass"] = out["pass"] and ok
    for a, b in pairs:
        d = abs(values_kohm[a] - values_kohm[b])
        ok = d <= mismatch_kohm
        out["pairs"].append({"pair": [a, b], "mismatch_kohm": d, "pass": ok,
                             "limit": "mismatch_kohm", "min": 0, "max": mismatch_kohm})
        out["pass"] = out["pass"] and ok
    return out


def check(hal, electrodes, pairs=(), max_kohm=MAX_KOHM, mismatch_kohm=MISMATCH_KOHM):
    vals = {}
    for e in electrodes:
        vals[e] = hal.impedance(e) / 1000.0
    return evaluate(vals, pairs, max_kohm, mismatch_kohm)
