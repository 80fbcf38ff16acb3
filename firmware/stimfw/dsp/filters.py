# Filter coefficients for the DSP chain: validation of second-order sections
# sent by the host (wire form: a list of rows [b0, b1, b2, a0, a1, a2] with
# a0 == 1, as scipy's output="sos") and a small on-device design routine for
# the common band-pass and mains notch. Both backends run the same rows.
import math

from stimfw.core.errors import ERR_BAD_PAYLOAD, LimitRefused, Refused

MAX_SECTIONS = 8
# Poles this close to the unit circle ring for seconds and amplify
# coefficient rounding; refuse them as unstable.
MAX_POLE = 0.9999
# Fixed-point headroom (see dsp/fixed.py): |b0| + |b1| + |b2| <= 4 per section.
MAX_B_SUM = 4.0


def _refuse(section, limit, value, lo, hi, unit, what):
    raise LimitRefused(limit, value, lo, hi, unit, {"section": section, "what": what})


def pole_magnitude(a1, a2):
    """Largest |pole| of z**2 + a1 z + a2."""
    d = a1 * a1 - 4.0 * a2
    if d < 0:
        return math.sqrt(a2)
    r = math.sqrt(d)
    return max(abs((-a1 + r) / 2.0), abs((-a1 - r) / 2.0))


def validate(rows):
    """Check an SOS coefficient set; returns it as a list of 6-float lists."""
    if not isinstance(rows, (list, tuple)) or not rows:
        raise LimitRefused("sections", 0, 1, MAX_SECTIONS)
    if len(rows) > MAX_SECTIONS:
        _refuse(len(rows), "sections", len(rows), 1, MAX_SECTIONS, "", "too many sections")
    out = []
    for k, row in enumerate(rows):
        if not isinstance(row, (list, tuple)) or len(row) != 6:
            n = len(row) if isinstance(row, (list, tuple)) else -1
            _refuse(k, "row_length", n, 6, 6, "", "[b0, b1, b2, 1, a1, a2]")
        r = []
        for v in row:
            if not isinstance(v, (int, float)) or v != v or v in (float("inf"), float("-inf")):
                raise Refused(ERR_BAD_PAYLOAD, "section %d: coefficient %r is not a finite number" % (k, v),
                              {"key": "sos", "section": k, "value": str(v)})
            r.append(float(v))
        if r[3] != 1.0:
            _refuse(k, "a0", r[3], 1.0, 1.0, "", "rows must be normalised to a0 = 1")
        bsum = abs(r[0]) + abs(r[1]) + abs(r[2])
        if bsum > MAX_B_SUM:
            _refuse(k, "b_sum", bsum, 0, MAX_B_SUM, "", "move gain to another section")
        p = pole_magnitude(r[4], r[5])
        if p >= MAX_POLE:
            _refuse(k, "pole_magnitude", p, 0, MAX_POLE, "", "unstable or marginally stable")
        out.append(r)
    return out


def from_config(cfg):
    """SOS rows for an acquisition dict: cfg["sos"] as sent by the host
    (host_tools/stimbox/filters.py), or designed on the device from
    cfg["band"] = [low_hz, high_hz] and cfg["notch"] = 0, 50 or 60. The
    design code is imported only when needed: it costs heap on a board."""
    if cfg.get("sos"):
        return validate(cfg["sos"])
    from stimfw.dsp import design as filter_design

    return validate(filter_design.from_band(cfg))
