# Measurements on averaged (or single filtered) waveforms. A waveform is a
# sequence of floats in uV, index 0 at the sweep start; `pre` samples lie
# before the trigger. Latencies are in ms after the trigger.
#
# Component names carry their polarity, as in clinical use: N = negative
# peak, P = positive peak, number = nominal latency. "N20/P25" measures both
# peaks and their peak-to-peak amplitude; "N13" alone measures one peak
# against the pre-trigger baseline.
import math


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


def baseline(w, pre):
    if pre <= 0:
        return 0.0
    s = 0.0
    for i in range(pre):
        s += w[i]
    return s / pre


def component(w, rate_hz, pre, spec):
    """spec: {"name": "N20/P25", "ch": 0, "win_ms": [[15, 25], [20, 35]]}."""
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
            r["lat_ms"] = None
            r["amp_uv"] = None
            r["absent"] = "no %s peak inside %s..%s ms" % (name, win[0], win[1])
            return r
        peaks.append((latency_ms(p[0], rate_hz, pre), p[1]))
    r["lat_ms"] = peaks[0][0]
    if len(peaks) == 2:
        r["lat2_ms"] = peaks[1][0]
        r["amp_uv"] = abs(peaks[1][1] - peaks[0][1])
    else:
        r["amp_uv"] = abs(peaks[0][1] - baseline(w, pre))
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
