# Checks a normalised spec against the board's frozen limits profile
# (board.LIMITS). Each refusal raises core.errors.LimitRefused whose detail
# names the limit, the offending value and the allowed range, for the host to
# show as it is. Comparisons are exact integer cross-multiplications (no
# float rounding can let a value past a limit); floats only make the figures
# readable. Runs on the device and under CPython.
#
# Electrical model of one phase of amplitude A and width w (us) on an output,
# into the profile's load R (ohm):
#   constant current: I = A uA, V = min(A * R / 1000, compliance) mV
#   constant voltage: V = min(A, current_limit * R / 1000) mV, I = V * 1000 / R uA
# Both are kept scaled by R (ir = I * R, v1000 = V * 1000) to stay integers.
import math

from stimfw.core import errors as err
from stimfw.stim.compiler import PulseStream, count_pulses, duration_us, pulse_dur


def phase(o, amp, load):
    """(ir, v1000) of one phase; see the module comment."""
    a = abs(amp)
    if o["kind"] == "CC":
        return a * load, min(a * load, o["compliance"] * 1000)
    v = min(a * 1000, o["current_limit"] * load)
    return v, v


def _r(x):
    return round(x, 3)


def stream_figures(bd, s):
    """Charge, density, Shannon k and energy of one pulse of stream s."""
    o = bd.OUTPUTS[s["out"]]
    load = bd.LIMITS["load_ohm"]
    ir1, v1 = phase(o, s["amp"], load)
    ir2, v2 = phase(o, s["amp2"], load)
    q1 = ir1 * s["w1"]  # charge * 1000 * load, in nC
    q2 = ir2 * s["w2"]
    qmax = max(q1, q2)
    area_u = int(o["area_cm2"] * 10000 + 0.5)  # 1e-4 cm2 units
    qmax_uc = qmax / (1000000 * load)
    e = ir1 * v1 * s["w1"] + ir2 * v2 * s["w2"]  # energy * load * 1e12, in uJ
    k = math.log10(qmax_uc * qmax_uc / o["area_cm2"])
    return {
        "q1": q1, "q2": q2, "qmax": qmax, "area_u": area_u, "e": e, "k": k,
        "charge_uc": _r(qmax_uc),
        "density_uc_cm2": _r(qmax_uc / o["area_cm2"]),
        "shannon_k": round(k, 5),
        "energy_mj": _r(e / (load * 1e12) / 1000),
    }


def check_stream(bd, s):
    L = bd.LIMITS
    o = bd.OUTPUTS[s["out"]]
    lo = L["outputs"][o["name"]]
    load = L["load_ohm"]
    unit = "mV" if o["kind"] == "CV" else "uA"
    where = {"output": o["name"], "stream": s["label"]}
    amax = min(lo["amp_max"], o["max"])
    for a in (s["amp"], s["amp2"]):
        if abs(a) > amax:
            raise err.LimitRefused("amplitude", abs(a), 0, amax, unit, where)
    wlo, whi = o["width_us"]
    for w in (s["w1"], s["w2"]) if s["w2"] else (s["w1"],):
        if not wlo <= w <= whi:
            raise err.LimitRefused("pulse_width", w, wlo, whi, "us", where)
    if s["n"] > L["pulses_per_train_max"]:
        raise err.LimitRefused("pulses_per_train", s["n"], 1, L["pulses_per_train_max"], "pulses", where)
    if s["n"] > 1:
        isi_min = max(L["isi_min_us"], pulse_dur(s))
        if s["isi"] < isi_min:
            raise err.LimitRefused("isi", s["isi"], isi_min, None, "us", where)
    if s["count"] > 1:
        pmin = (1000000000 + L["rate_max_mhz"] - 1) // L["rate_max_mhz"]
        if s["period"] < pmin:
            raise err.LimitRefused("repetition_rate", _r(1e6 / s["period"]), 0, L["rate_max_mhz"] / 1000,
                   "Hz", where)
        train = (s["n"] - 1) * s["isi"] + pulse_dur(s)
        if train > s["period"]:
            raise err.LimitRefused("train_length", train, 0, s["period"], "us", where)
    f = stream_figures(bd, s)
    if f["qmax"] > lo["charge_max_nc"] * 1000 * load:
        raise err.LimitRefused("charge_per_phase", f["charge_uc"], 0, lo["charge_max_nc"] / 1000, "uC", where)
    if f["qmax"] * 10000 > lo["density_max_nc_cm2"] * 1000 * load * f["area_u"]:
        raise err.LimitRefused("charge_density", f["density_uc_cm2"], 0, lo["density_max_nc_cm2"] / 1000,
               "uC/cm2", where)
    k = lo["shannon_k"]
    if k is not None and f["k"] > k:
        raise err.LimitRefused("shannon_k", f["shannon_k"], None, k, "", where)
    if f["e"] > lo["energy_max_uj"] * load * 1000000000000:
        raise err.LimitRefused("energy_per_pulse", f["energy_mj"], 0, lo["energy_max_uj"] / 1000,
               "mJ", where)
    if s["w2"]:
        imb = abs(f["q1"] - f["q2"])
        if imb * 1000000 > L["imbalance_max_ppm"] * f["q1"]:
            raise err.LimitRefused("biphasic_imbalance", _r(imb * 100 / f["q1"]), 0,
                   L["imbalance_max_ppm"] / 10000, "%", where)
    return f


def check_record(L, s):
    """A board's recording limits, where its front-end or heap cannot meet
    every set-up (boards/stm32_pybv11): channels, rate, samples per sweep
    and channel-samples of stream s's record table. A board without the keys has none; the
    averager checks the table itself against the board's amplifiers."""
    r = s.get("record")
    if not isinstance(r, dict):
        return
    where = {"stream": s["label"], "key": "record"}
    chans = r.get("channels")
    n_ch = len(chans) if isinstance(chans, (list, tuple)) else 0
    rate = r.get("rate_hz")
    hi = L.get("record_channels_max")
    if hi is not None and n_ch > hi:
        raise err.LimitRefused("record_channels_max", n_ch, 1, hi, "channels", where)
    hi = L.get("record_rate_max_hz")
    if hi is not None and isinstance(rate, (int, float)) and rate > hi:
        raise err.LimitRefused("record_rate_max_hz", rate, 0, hi, "Hz", where)
    ms = r.get("pre_ms", 0), r.get("post_ms", 0)
    if not isinstance(rate, int) or not all(isinstance(v, (int, float)) for v in ms):
        return
    n = int(ms[0] * rate / 1000) + int(ms[1] * rate / 1000)  # as the averager counts them
    hi = L.get("record_sweep_samples_max")
    if hi is not None and n > hi:
        raise err.LimitRefused("record_sweep_samples_max", n, 0, hi, "samples", where)
    hi = L.get("record_samples_max")
    if hi is not None and n * n_ch > hi:
        raise err.LimitRefused("record_samples_max", n * n_ch, 0, hi, "channel-samples", where)


# Allowed range of each baseline and alarm criterion (record/alarms.py,
# docs/ALARMS.md): wide enough for every team's practice, narrow enough that
# no setting makes the monitoring meaningless (an alarm that cannot fire, a
# baseline of one average, a latency alarm that never clears).
ALARM_RANGES = {
    "ssep_amp_drop_pct": (10, 90, "%"),
    "ssep_lat_rise_pct": (2, 50, "%"),
    "mep_drop_pct": (10, 100, "%"),
    "mep_loss_uv": (0, 1000, "uV"),
    "dwave_drop_pct": (10, 90, "%"),
    "temg_limit_ma": (0.1, 30, "mA"),
    "mep_threshold_rise_v": (10, 500, "V"),
    "baseline_averages": (2, 4, "averages"),
    "baseline_lat_ms": (0.1, 5, "ms"),
    "baseline_amp_pct": (5, 100, "%"),
    "baseline_mep_amp_pct": (5, 100, "%"),
    "confirm": (1, 8, "averages"),
    "clear_amp_pct": (0, 50, "%"),
    "clear_lat_pct": (0, 10, "%"),
    "global_pct": (10, 100, "%"),
}


def check_alarms(spec):
    """Every criterion of spec["alarms"] (thousandths) within ALARM_RANGES;
    a latency alarm must be able to clear (clear_lat_pct below its trigger)."""
    a = spec.get("alarms") or {}
    for k in sorted(a):
        lo, hi, unit = ALARM_RANGES[k]
        if not lo * 1000 <= a[k] <= hi * 1000:
            raise err.LimitRefused("alarms." + k, a[k] / 1000, lo, hi, unit)
    if a and a["clear_lat_pct"] >= a["ssep_lat_rise_pct"]:
        raise err.LimitRefused("alarms.clear_lat_pct", a["clear_lat_pct"] / 1000, 0,
                               a["ssep_lat_rise_pct"] / 1000, "%",
                               {"below": "alarms.ssep_lat_rise_pct"})


def check(spec, bd):
    """Validate spec against bd.LIMITS; returns its figures or raises."""
    L = bd.LIMITS
    check_alarms(spec)
    load = L["load_ohm"]
    figs = [check_stream(bd, s) for s in spec["streams"]]
    for s in spec["streams"]:
        check_record(L, s)
    n = count_pulses(spec)
    if n > L["pulses_per_run_max"]:
        raise err.LimitRefused("pulses_per_run", n, 1, L["pulses_per_run_max"], "pulses")
    dur = duration_us(spec)
    if dur > L["run_max_us"]:
        raise err.LimitRefused("run_duration", dur // 1000, 0, L["run_max_us"] // 1000, "ms")
    # One pass over the merged pulses: overlap and train spacing per output,
    # and the average current over every window of avg_window_us.
    win = L["avg_window_us"]
    cap = L["avg_current_max_ua"] * load * win
    wt = []
    wq = []
    head = 0
    acc = 0
    acc_max = 0
    last_end = {}
    last_train = {}
    shared = L.get("outputs_shared", False)
    ps = PulseStream(spec)
    while True:
        nxt = ps.peek()
        if nxt is None:
            break
        t, i, p = nxt
        s = ps.streams[i]
        out = s["out"]
        name = bd.OUTPUTS[out]["name"]
        # A board whose outputs share one stage (outputs_shared) cannot
        # overlap pulses on different outputs either.
        k = -1 if shared else out
        if k in last_end and t < last_end[k]:
            raise err.LimitRefused("pulse_overlap", last_end[k] - t, 0, 0, "us",
                   {"output": name, "stream": s["label"]})
        last_end[k] = t + pulse_dur(s)
        if p == 0:
            gap_min = L["outputs"][name]["train_gap_min_us"]
            if out in last_train and t - last_train[out] < gap_min:
                raise err.LimitRefused("train_interval", t - last_train[out], gap_min, None, "us",
                       {"output": name, "stream": s["label"]})
            last_train[out] = t
        q = figs[i]["q1"] + figs[i]["q2"]
        wt.append(t)
        wq.append(q)
        acc += q
        while wt[head] <= t - win:
            acc -= wq[head]
            head += 1
        if head > 64:
            del wt[:head]
            del wq[:head]
            head = 0
        if acc > cap:
            raise err.LimitRefused("average_current", _r(acc / (load * win)), 0, L["avg_current_max_ua"],
                   "uA", {"output": name, "window_us": win})
        if acc > acc_max:
            acc_max = acc
        ps.advance(i)
    return {
        "pulses": n,
        "duration_us": dur,
        "avg_current_ua": _r(acc_max / (load * win)),
        "streams": [
            {"label": s["label"], "output": bd.OUTPUTS[s["out"]]["name"],
             "charge_uc": f["charge_uc"], "density_uc_cm2": f["density_uc_cm2"],
             "shannon_k": f["shannon_k"], "energy_mj": f["energy_mj"]}
            for s, f in [(spec["streams"][i], figs[i]) for i in range(len(figs))]
        ],
    }
