# Measurements on averaged (or single filtered) waveforms. A waveform is a
# sequence of floats in uV, index 0 at the sweep start; `pre` samples lie
# before the trigger. Latencies are in ms after the trigger.
#
# Component names carry their polarity, as in clinical use: N = negative
# peak, P = positive peak, number = nominal latency. "N20/P25" measures both
# peaks and their peak-to-peak amplitude; "N13" alone measures one peak
# against the pre-trigger baseline.
#
# A peak is the sample extremum refined by the parabola through it and its
# two neighbours (latency and value between samples: at 5 kHz a sample is
# 0.2 ms, twice the latency resolution an SSEP trend needs). Results are
# rounded to 1 us and 0.1 nV: a float's 17 digits would make every RESULT
# reply and journal record longer for nothing (after a run the reply's JSON
# must find its room in one piece).
import math

# A component counts as reliable when its amplitude is at least this many
# times the residual noise of the average (the r.m.s. of the plus-minus
# average (A-B)/2 in the same band): noise then moves a peak-to-peak by
# about 10% r.m.s. (two peaks, each off by about one r.m.s.), a fifth of
# the 50% amplitude alarm criterion. The plus-minus average holds what
# differs from sweep to sweep only: a stimulus artifact's residue, the same
# in A and B, is not in it (docs/PERFORMANCE.md, Measurement against the
# truth).
RELIABLE_RATIO = 10.0


def index(ms, rate_hz, pre):
    return pre + int(ms * rate_hz / 1000 + 0.5)


def latency_ms(i, rate_hz, pre):
    return (i - pre) * 1000.0 / rate_hz


def _clip(i, n):
    return 0 if i < 0 else (n - 1 if i >= n else i)


def extreme(w, i0, i1, positive):
    """(index, value) of the largest (positive) or smallest value in w[i0:i1]."""
    n = len(w)
    i0 = _clip(i0, n)
    i1 = _clip(i1, n + 1) if i1 <= n else n
    best = i0
    bv = w[i0]
    for i in range(i0 + 1, i1):
        v = w[i]
        if (v > bv) if positive else (v < bv):
            best = i
            bv = v
    return best, bv


def peak(w, i0, i1, positive):
    """(index, value) of the highest local maximum (positive) or lowest local
    minimum strictly inside w[i0:i1], or None when there is none. A window's
    edge is never a peak: a value there only says the waveform was still
    rising or falling, and reporting it as a latency gives a baseline that
    raises, or hides, latency alarms for the rest of the case."""
    n = len(w)
    i0 = _clip(i0, n)
    i1 = n if i1 > n else i1
    best = None
    bv = 0.0
    for i in range(i0 + 1, i1 - 1):
        v = w[i]
        if positive:
            if v >= w[i - 1] and v >= w[i + 1] and (best is None or v > bv):
                best = i
                bv = v
        elif v <= w[i - 1] and v <= w[i + 1] and (best is None or v < bv):
            best = i
            bv = v
    return None if best is None else (best, bv)


def vertex(w, i):
    """(fractional index, value) of the vertex of the parabola through
    w[i-1], w[i], w[i+1], with w[i] an extremum of the three: within half
    a sample of i."""
    a = w[i - 1]
    b = w[i]
    c = w[i + 1]
    den = a - 2 * b + c
    if den == 0:
        return i, b
    d = 0.5 * (a - c) / den
    return i + d, b - 0.25 * (a - c) * d


def baseline(w, pre):
    if pre <= 0:
        return 0.0
    s = 0.0
    for i in range(pre):
        s += w[i]
    return s / pre


def component(w, rate_hz, pre, spec, base=None):
    """spec: {"name": "N20/P25", "ch": 0, "win_ms": [[15, 25], [20, 35]]}.
    Each named peak is an interior extremum of its polarity inside its
    window; a pair's P lies above its N and its second peak after its first;
    a single peak lies on its side of the pre-trigger baseline (base, when
    given, else the mean of w before the trigger). Otherwise the component
    is absent, with the reason."""
    names = spec["name"].split("/")
    wins = spec["win_ms"]
    if len(wins) != len(names):
        raise ValueError("component %s needs %d windows" % (spec["name"], len(names)))
    peaks = []
    r = {"name": spec["name"], "ch": spec.get("ch", 0)}
    for k in range(len(names)):
        name = names[k]
        win = wins[k]
        pos = name[:1].upper() == "P"
        p = peak(w, index(win[0], rate_hz, pre), index(win[1], rate_hz, pre) + 1, pos)
        if p is None:
            return _absent(r, "no %s peak inside %s..%s ms" % (name, win[0], win[1]))
        x, v = vertex(w, p[0])
        peaks.append((latency_ms(x, rate_hz, pre), v, pos))
    if len(peaks) == 2:
        (l1, v1, p1), (l2, v2, p2) = peaks
        if l2 <= l1:
            return _absent(r, "%s not after %s" % (names[1], names[0]))
        if p1 != p2 and (v1 - v2 if p1 else v2 - v1) <= 0:
            return _absent(r, "%s not above %s" % (names[0] if p1 else names[1], names[1] if p1 else names[0]))
        r["lat_ms"] = round(l1, 3)
        r["lat2_ms"] = round(l2, 3)
        r["amp_uv"] = round(abs(v2 - v1), 4)
        return r
    lat, v, pos = peaks[0]
    d = v - (baseline(w, pre) if base is None else base)
    if (d if pos else -d) <= 0:
        return _absent(r, "%s not %s the baseline" % (names[0], "above" if pos else "below"))
    r["lat_ms"] = round(lat, 3)
    r["amp_uv"] = round(abs(d), 4)
    return r


def _absent(r, why):
    r["lat_ms"] = None
    r["amp_uv"] = None
    r["absent"] = why
    return r


def averaged(back, c, both, rate_hz, pre, spec):
    """A component of channel c's average measured on its zero-phase
    version: back (a dsp.zerophase.Backward) filters the forward-filtered
    average backward. With both splits (both true), the residual noise: the
    r.m.s. of the zero-phase plus-minus average (A-B)/2 from the
    component's first window to the sweep's end (the noise of an average is
    the same all through it, and the windows alone hold too few cycles of
    its low frequencies for a steady estimate), and whether the amplitude is
    at least RELIABLE_RATIO times it. Each backward pass starts at the
    sweep's end and runs only as far as the measurement reads, so the
    stimulus artifact before the windows does not set the block-floating
    scale; a single peak's baseline comes from a pass of its own over the
    whole sweep."""
    wins = spec["win_ms"]
    lo = max(index(min(w[0] for w in wins), rate_hz, pre), 0)
    base = baseline(back.run(c, 0), pre) if len(wins) < 2 else None
    r = component(back.run(c, lo), rate_hz, pre, spec, base)
    r["noise_uv"] = None
    r["reliable"] = None
    if both:
        noise = round(back.run(c, lo, True).rms(), 4)
        r["noise_uv"] = noise
        r["reliable"] = r["amp_uv"] is not None and r["amp_uv"] >= RELIABLE_RATIO * noise
    return r


def mep(w, rate_hz, pre, win_ms=(8.0, 80.0), onset_uv=20.0):
    """MEP onset (first excursion beyond onset_uv from the pre-trigger
    baseline) and peak-to-peak amplitude in the window."""
    i0 = index(win_ms[0], rate_hz, pre)
    i1 = index(win_ms[1], rate_hz, pre) + 1
    _, hi = extreme(w, i0, i1, True)
    _, lo = extreme(w, i0, i1, False)
    base = baseline(w, pre)
    onset = None
    for i in range(max(i0, 0), min(i1, len(w))):
        if abs(w[i] - base) > onset_uv:
            onset = latency_ms(i, rate_hz, pre)
            break
    return {"onset_ms": onset, "pp_uv": hi - lo}


def pp(w, rate_hz, pre, win_ms):
    i0 = index(win_ms[0], rate_hz, pre)
    i1 = index(win_ms[1], rate_hz, pre) + 1
    return extreme(w, i0, i1, True)[1] - extreme(w, i0, i1, False)[1]


def response_present(w, rate_hz, pre, win_ms, level_uv):
    """Triggered EMG: is there a response of at least level_uv peak-to-peak?"""
    a = pp(w, rate_hz, pre, win_ms)
    return {"present": a >= level_uv, "pp_uv": a, "level_uv": level_uv}


def snr(a, b, rate_hz, pre, win_ms):
    """Signal-to-noise of the average (A+B)/2 in a window, with the noise
    estimated from the A/B difference (A-B)/2, which holds the residual noise
    but no response."""
    i0 = _clip(index(win_ms[0], rate_hz, pre), len(a))
    i1 = _clip(index(win_ms[1], rate_hz, pre) + 1, len(a) + 1)
    s2 = 0.0
    n2 = 0.0
    for i in range(i0, i1):
        s = (a[i] + b[i]) / 2
        d = (a[i] - b[i]) / 2
        s2 += s * s
        n2 += d * d
    cnt = max(i1 - i0, 1)
    # the average still holds the residual noise: subtract its power
    sig = math.sqrt(max(s2 - n2, 0.0) / cnt)
    noise = math.sqrt(n2 / cnt)
    ratio = sig / noise if noise > 0 else None
    db = 20 * math.log10(ratio) if ratio else None
    return {"signal_uv": sig, "noise_uv": noise, "snr": ratio, "snr_db": db}
