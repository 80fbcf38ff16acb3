# Stimulus protocols: the wire form (a JSON object from the host) checked for
# shape and types, then normalised into a spec: every default filled in,
# every figure an integer in the output's own units, electrodes as bitmasks.
# The spec is what the safety checks, the compiler and the protocol hash see,
# so a protocol written with or without its defaults is the same protocol.
#
# Runs on the device and under CPython (host tools, tests): the board module
# is passed in, never imported here.
#
# A spec is {"type", "name", "streams": [...], "search": dict or None}; a
# stream is one train repeated at a fixed period on one output:
#   out, an, ca          output index, anode and cathode bitmasks
#   amp, w1, gap, w2, amp2   pulse (amp2 signed, 0 and w2 == 0 when monophasic)
#   n, isi               pulses per train, pulse start to pulse start (us)
#   period, count, offset    train start to train start (us), trains, first start
#   label                what the stream stimulates (site, pair), for reports
# and spec["alarms"], the baseline and alarm criteria (record/alarms.py), every
# key filled in, in thousandths of the key's unit (integers: the same hash on
# every runtime); limits.check_alarms checks their ranges.
import binascii
import hashlib

from stimfw.core import errors as err
from stimfw.record.alarms import COUNTS as ALARM_COUNTS
from stimfw.record.alarms import DEFAULTS as ALARM_DEFAULTS

TYPES = ("tcmep", "ssep", "temg", "scs", "dwave", "pulses")
MAX_NAME = 32
MAX_SITES = 4
MAX_PAIRS = 16
MAX_MUSCLES = 8

# Defaults per modality, from the clinical reference figures (docs/SAFETY.md).
# Amplitudes are in the output's unit: mV for constant voltage, uA for
# constant current.
DEFAULTS = {
    "tcmep": {
        "out": "TC", "amp": 200000, "shape": "mono", "width_us": 75, "pulses": 5,
        "isi_us": 3000, "rate_hz": 0.5, "count": 1, "anode": "C3", "cathode": "C4",
    },
    "dwave": {
        "out": "TC", "amp": 150000, "shape": "mono", "width_us": 75, "pulses": 1,
        "isi_us": 1000, "rate_hz": 1.1, "count": 10, "anode": "C3", "cathode": "C4",
    },
    "ssep": {
        "amp": 30000, "shape": "mono", "width_us": 300, "pulses": 1, "isi_us": 1000,
        "rate_hz": 4.7, "count": 300,
    },
    "temg": {
        "out": "PR", "amp": 5000, "shape": "mono", "width_us": 200, "pulses": 1,
        "isi_us": 1000, "rate_hz": 2.0, "count": 1, "anode": "return", "cathode": "probe",
    },
    "scs": {
        "out": "SCS", "amp": 2000, "shape": "bi", "width_us": 210, "pulses": 1,
        "isi_us": 1000, "rate_hz": 2.0, "count": 1,
    },
    # Test pulses (bench validation, scripting) on any output: the electrodes
    # default to the output's first two, as on an SSEP site.
    "pulses": {
        "out": "P1", "amp": 10000, "shape": "mono", "width_us": 200, "pulses": 1,
        "isi_us": 1000, "rate_hz": 10.0, "count": 5, "anode": None, "cathode": None,
    },
}
PULSE_DEFAULTS = {"gap_us": 20, "polarity": "cathodic"}
SEARCH_DEFAULTS = {
    "temg": {"mode": "step", "start": 500, "stop": 20000, "step": 500, "res": 100,
             "level_uv": 50, "noise_k": 2, "alarm": 8000, "votes": 3},
    "scs": {"mode": "step", "start": 500, "stop": 10000, "step": 250, "res": 100,
            "level_uv": 50, "noise_k": 2, "alarm": 8000, "votes": 3},
}

# SSEP sites: default output and anode/cathode names on it.
SSEP_SITES = ("l_median", "r_median", "l_ulnar", "r_ulnar", "l_tibial", "r_tibial")

_TOP_KEYS = {
    "tcmep": ("type", "name", "out", "amp_mv", "amp_ua", "shape", "width_us", "gap_us",
              "width2_us", "amp2_mv", "amp2_ua", "polarity", "pulses", "isi_us", "rate_hz",
              "count", "anode", "cathode", "record", "alarms", "track"),
    "ssep": ("type", "name", "sites", "count", "rate_hz", "record", "alarms"),
    "scs": ("type", "name", "out", "amp_ua", "shape", "width_us", "gap_us", "width2_us",
            "amp2_ua", "polarity", "rate_hz", "count", "pairs", "muscles", "search", "record",
            "alarms"),
}
_TOP_KEYS["dwave"] = _TOP_KEYS["tcmep"]
_TOP_KEYS["pulses"] = _TOP_KEYS["tcmep"][:-1]  # no track
_TOP_KEYS["temg"] = _TOP_KEYS["tcmep"] + ("search", "muscles", "roots")
_SITE_KEYS = ("site", "out", "amp_ua", "amp_mv", "shape", "width_us", "gap_us", "width2_us",
              "amp2_ua", "amp2_mv", "polarity", "rate_hz", "offset_us", "anode", "cathode",
              "record")
_SEARCH_KEYS = ("mode", "start_ua", "stop_ua", "step_ua", "resolution_ua", "level_uv", "noise_k",
                "alarm_ua", "votes")


# What a record table and each of its components may hold (read by
# stimfw.record.averager and measure): a misspelt key is refused, not
# silently left at its default.
_RECORD_KEYS = ("rate_hz", "pre_ms", "post_ms", "channels", "band", "notch", "sos", "blank_us",
                "reject_uv", "split", "progress_every", "components", "response_ms", "mep")
_COMPONENT_KEYS = ("name", "ch", "win_ms")
_MEP_KEYS = ("k", "min_uv", "muscles", "win_ms")  # record/mep.py


def _record(d, path, default):
    """What to record after each stimulus of a stream (stimfw.record.recording):
    a table, its keys checked here, its values in full by the recording
    side at validation."""
    rec = d.get("record", default)
    if rec is None:
        return rec
    p = path + "record"
    if not isinstance(rec, dict):
        bad(p, "must be a table")
    _unknown(rec, _RECORD_KEYS, p + ".")
    comps = rec.get("components")
    if isinstance(comps, list):
        for i, c in enumerate(comps):
            if isinstance(c, dict):
                _unknown(c, _COMPONENT_KEYS, "%s.components.%d." % (p, i))
    if isinstance(rec.get("mep"), dict):
        _unknown(rec["mep"], _MEP_KEYS, p + ".mep.")
    return rec


def _alarms(wire):
    """The "alarms" table: known keys, numbers (counts whole), as integer
    thousandths of their unit; ranges are limits.check_alarms'."""
    v = wire.get("alarms", {})
    if not isinstance(v, dict):
        bad("alarms", "must be a table")
    _unknown(v, sorted(ALARM_DEFAULTS), "alarms.")
    out = {}
    for k in ALARM_DEFAULTS:
        x = v.get(k, ALARM_DEFAULTS[k])
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            bad("alarms." + k, "must be a number, got %r" % (x,))
        if k in ALARM_COUNTS and not isinstance(x, int):
            bad("alarms." + k, "must be a whole number, got %r" % (x,))
        if not -1e6 <= x <= 1e6:
            bad("alarms." + k, "%r outside -1e6..1e6" % (x,))
        out[k] = int(x * 1000 + (0.5 if x >= 0 else -0.5))
    return out


def _muscles_match(spec):
    """One muscle per recorded channel: thresholds and alarms are reported
    by muscle name, channel by channel."""
    mus = spec.get("muscles")
    rec = spec["streams"][0].get("record") if spec["streams"] else None
    if not mus or not isinstance(rec, dict) or not isinstance(rec.get("channels"), list):
        return
    if len(mus) != len(rec["channels"]):
        bad("muscles", "%d muscles for %d record channels: one per channel"
            % (len(mus), len(rec["channels"])))


def bad(key, problem):
    """A wire-form protocol that is not well formed; names the key."""
    raise err.Refused(err.ERR_BAD_PAYLOAD, "protocol %s: %s" % (key, problem),
                       {"key": key, "problem": problem})


def _int(d, key, path, default, lo, hi):
    v = d.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int):
        bad(path + key, "must be an integer, got %r" % (v,))
    if not lo <= v <= hi:
        bad(path + key, "%d outside %d..%d" % (v, lo, hi))
    return v


def _str(d, key, path, default, choices=None):
    v = d.get(key, default)
    if not isinstance(v, str):
        bad(path + key, "must be a string, got %r" % (v,))
    if choices is not None and v not in choices:
        bad(path + key, "%r is not one of %s" % (v, ", ".join(choices)))
    return v


def _name(d, key, path, default):
    v = _str(d, key, path, default)
    if len(v) > MAX_NAME:
        bad(path + key, "longer than %d characters" % MAX_NAME)
    for c in v:
        # Printable ASCII without quote or backslash: the canonical form
        # writes names verbatim, identically on every runtime.
        if not " " <= c <= "~" or c in "\"\\":
            bad(path + key, "only printable ASCII without quotes or backslashes")
    return v


def rate_mhz(d, key, path, default):
    """A repetition rate in Hz (4.7 allowed) as integer mHz; floats on a
    board are 32-bit, so the rate is rounded once here and never again."""
    v = d.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        bad(path + key, "must be a number of Hz, got %r" % (v,))
    if not 0.001 <= v <= 1000:
        bad(path + key, "%r Hz outside 0.001..1000" % (v,))
    return int(v * 1000 + 0.5)


def period_us(mhz):
    return (1000000000 + mhz // 2) // mhz


def _unknown(d, allowed, path):
    for k in d:
        if k not in allowed:
            bad(path + k, "unknown key; allowed: %s" % ", ".join(allowed))


def _output(bd, name, path):
    for i, o in enumerate(bd.OUTPUTS):
        if o["name"] == name:
            return i, o
    bad(path + "out", "no output %r; outputs: %s" % (name, ", ".join(o["name"] for o in bd.OUTPUTS)))


def _mask(o, d, key, path, default):
    v = d.get(key, default)
    names = [v] if isinstance(v, str) else v
    if not isinstance(names, list) or not names:
        bad(path + key, "must be an electrode name or a non-empty list of names")
    mask = 0
    for e in names:
        if not isinstance(e, str) or e not in o["electrodes"]:
            bad(path + key, "%r is not an electrode of output %s (%s)"
                % (e, o["name"], ", ".join(o["electrodes"])))
        mask |= 1 << o["electrodes"].index(e)
    return mask


def _amp_key(o, d, base, path, required):
    # The key carries the unit so that a number never means mV on one output
    # and uA on another by accident.
    want = base + ("_mv" if o["kind"] == "CV" else "_ua")
    other = base + ("_ua" if o["kind"] == "CV" else "_mv")
    if other in d:
        bad(path + other, "output %s is constant %s: give %s" % (
            o["name"], "voltage" if o["kind"] == "CV" else "current", want))
    if want not in d and not required:
        return None
    return want


def _pulse(bd, d, path, dflt, out_name, s):
    """Fill stream s with output, electrodes and pulse shape from d."""
    oi, o = _output(bd, _str(d, "out", path, out_name), path)
    s["out"] = oi
    key = _amp_key(o, d, "amp", path, False)
    s["amp"] = _int(d, key, path, dflt["amp"], 1, 10000000) if key else dflt["amp"]
    if s["amp"] % o["res"]:
        bad(path + (key or "amp"), "%d is not a multiple of the output's resolution %d"
            % (s["amp"], o["res"]))
    shape = _str(d, "shape", path, dflt["shape"], ("mono", "bi"))
    pol = _str(d, "polarity", path, PULSE_DEFAULTS["polarity"], ("cathodic", "anodic"))
    w1 = _int(d, "width_us", path, dflt["width_us"], 1, 100000)
    sign = 1 if pol == "cathodic" else -1
    s["amp"] *= sign
    s["w1"] = w1
    if shape == "mono":
        for k in ("gap_us", "width2_us", "amp2_ua", "amp2_mv"):
            if k in d:
                bad(path + k, "only for biphasic pulses (shape = \"bi\")")
        s["gap"] = s["w2"] = s["amp2"] = 0
        return o
    s["gap"] = _int(d, "gap_us", path, PULSE_DEFAULTS["gap_us"], 0, 100000)
    w2 = _int(d, "width2_us", path, w1, 1, 100000)
    key2 = _amp_key(o, d, "amp2", path, False)
    if key2:
        a2 = _int(d, key2, path, 0, 1, 10000000)
    else:
        # Charge-balanced second phase at the output's resolution.
        a2 = (abs(s["amp"]) * w1 + w2 // 2) // w2
        a2 = (a2 + o["res"] // 2) // o["res"] * o["res"]
    s["w2"] = w2
    s["amp2"] = -sign * a2
    return o


def with_amp(s, a, res):
    """A copy of stream s at amplitude a (same polarity), its second phase
    scaled to keep the pulse's charge ratio, at the output's resolution."""
    r = dict(s)
    sign = 1 if s["amp"] > 0 else -1
    r["amp"] = sign * a
    if s["w2"]:
        a2 = (abs(s["amp2"]) * a + abs(s["amp"]) // 2) // abs(s["amp"])
        r["amp2"] = -sign * ((a2 + res // 2) // res * res)
    return r


def _train(d, path, dflt, s):
    s["n"] = _int(d, "pulses", path, dflt["pulses"], 1, 1000)
    s["isi"] = _int(d, "isi_us", path, dflt["isi_us"], 1, 10000000)
    s["period"] = period_us(rate_mhz(d, "rate_hz", path, dflt["rate_hz"]))
    s["count"] = _int(d, "count", path, dflt["count"], 1, 100000)
    s["offset"] = 0


def _search(d, path, typ, o):
    v = d.get("search")
    if v is None:
        return None
    if not isinstance(v, dict):
        bad(path + "search", "must be a table")
    p = path + "search."
    _unknown(v, _SEARCH_KEYS, p)
    sd = SEARCH_DEFAULTS[typ]
    r = {"mode": _str(v, "mode", p, sd["mode"], ("step", "bisect"))}
    for k in ("start", "stop", "step"):
        r[k] = _int(v, k + "_ua", p, sd[k], 1, o["max"])
    # Resolution: finer than 50 uA is below what the responses' trial-to-
    # trial variation lets a search tell apart; coarser than 2 mA would
    # blur the 4 / 8 mA pedicle-screw criteria (docs/SAFETY.md). Literals,
    # not module names: each name is one more interned string at boot.
    r["res"] = _int(v, "resolution_ua", p, sd["res"], 50, 2000)
    for k in ("start", "stop", "step", "res"):
        if r[k] % o["res"]:
            key = "resolution_ua" if k == "res" else k + "_ua"
            bad(p + key, "%d is not a multiple of the output's resolution %d" % (r[k], o["res"]))
    r["level_uv"] = _int(v, "level_uv", p, sd["level_uv"], 1, 100000)
    r["noise_k"] = _int(v, "noise_k", p, sd["noise_k"], 0, 20)
    r["alarm"] = _int(v, "alarm_ua", p, sd["alarm"], 0, o["max"])
    # A response is confirmed by a second pulse at least.
    r["votes"] = _int(v, "votes", p, sd["votes"], 2, 4)
    if r["start"] > r["stop"]:
        bad(p + "start_ua", "above stop_ua (%d > %d)" % (r["start"], r["stop"]))
    return r


def _track(d, o, s):
    """TcMEP threshold tracking ([track]): trains from start up by step until
    every recorded muscle responds, never above the protocol's own
    amplitude, the one the limits check. Amplitudes in the output's unit
    (start_mv / step_mv on a constant-voltage output)."""
    v = d.get("track")
    if v is None:
        return None
    if not isinstance(v, dict):
        bad("track", "must be a table")
    u = "_mv" if o["kind"] == "CV" else "_ua"
    _unknown(v, ("start" + u, "step" + u, "level_uv"), "track.")
    top = abs(s["amp"])
    res = o["res"]
    r = {"mode": "track", "stop": top, "res": res}
    for k, dflt in (("start", max(res, top // 4 // res * res)), ("step", max(res, 20 * res))):
        r[k] = _int(v, k + u, "track.", dflt, res, top)
        if r[k] % res:
            bad("track." + k + u, "%d is not a multiple of the output's resolution %d" % (r[k], res))
    r["level_uv"] = _int(v, "level_uv", "track.", 50, 1, 100000)
    return r


def _muscles(d, path, key="muscles"):
    v = d.get(key, [])
    if not isinstance(v, list) or len(v) > MAX_MUSCLES:
        bad(path + key, "must be a list of at most %d names" % MAX_MUSCLES)
    for i, x in enumerate(v):
        _name({"m": x}, "m", path + "%s.%d." % (key, i), None)
    return v


def _roots(d, muscles):
    """The spinal roots of each muscle (e.g. "L4-L5"), in the order of
    muscles: what a low threshold puts at risk, for its alarm. Declared by
    the protocol (the montage's table: docs/SIMULATOR.md), so the device
    keeps no anatomy of its own."""
    v = _muscles(d, "", "roots")
    if v and len(v) != len(muscles):
        bad("roots", "%d roots for %d muscles: one per muscle" % (len(v), len(muscles)))
    return v


def normalise(wire, bd):
    """Wire form -> spec; raises err.Refused(ERR_BAD_PAYLOAD) naming the key."""
    if not isinstance(wire, dict):
        bad("", "must be an object")
    typ = _str(wire, "type", "", None, TYPES)
    _unknown(wire, _TOP_KEYS[typ], "")
    dflt = DEFAULTS[typ]
    spec = {"type": typ, "name": _name(wire, "name", "", typ), "search": None,
            "alarms": _alarms(wire)}
    streams = []
    if typ == "ssep":
        sites = wire.get("sites")
        if not isinstance(sites, list) or not 1 <= len(sites) <= MAX_SITES:
            bad("sites", "must be a list of 1..%d sites" % MAX_SITES)
        count = _int(wire, "count", "", dflt["count"], 1, 100000)
        rate = wire.get("rate_hz", dflt["rate_hz"])
        for i, site in enumerate(sites):
            path = "sites.%d." % i
            if not isinstance(site, dict):
                bad(path[:-1], "must be a table")
            _unknown(site, _SITE_KEYS, path)
            s = {"label": _str(site, "site", path, None, SSEP_SITES)}
            o = _pulse(bd, site, path, dflt, "P%d" % (i + 1), s)
            s["an"] = _mask(o, site, "anode", path, o["electrodes"][0])
            s["ca"] = _mask(o, site, "cathode", path, o["electrodes"][1])
            s["n"] = 1
            s["isi"] = dflt["isi_us"]
            s["period"] = period_us(rate_mhz(site, "rate_hz", path, rate))
            s["count"] = count
            s["record"] = _record(site, path, wire.get("record"))
            # Interleave: site i starts i/len(sites) of its period late, so
            # limbs alternate instead of firing together.
            s["offset"] = _int(site, "offset_us", path, s["period"] * i // len(sites),
                               0, 10000000)
            streams.append(s)
    elif typ == "scs":
        pairs = wire.get("pairs")
        if not isinstance(pairs, list) or not 1 <= len(pairs) <= MAX_PAIRS:
            bad("pairs", "must be a list of 1..%d [cathode, anode] pairs" % MAX_PAIRS)
        proto = {"label": ""}
        o = _pulse(bd, wire, "", dflt, dflt["out"], proto)
        _train(wire, "", dflt, proto)
        spec["search"] = _search(wire, "", typ, o)
        if spec["search"]:
            # The limits see the highest amplitude the search may reach.
            proto = with_amp(proto, spec["search"]["stop"], o["res"])
        start = 0
        for i, pair in enumerate(pairs):
            path = "pairs.%d" % i
            if not isinstance(pair, list) or len(pair) != 2:
                bad(path, "must be [cathode, anode]")
            s = dict(proto)
            s["ca"] = _mask(o, {"c": pair[0]}, "c", path + ".", None)
            s["an"] = _mask(o, {"a": pair[1]}, "a", path + ".", None)
            s["label"] = "%s-%s" % (pair[0], pair[1])
            s["offset"] = start
            start += s["period"] * s["count"]
            streams.append(s)
        spec["muscles"] = _muscles(wire, "")
    else:
        s = {"label": typ}
        o = _pulse(bd, wire, "", dflt, dflt["out"], s)
        s["an"] = _mask(o, wire, "anode", "", dflt["anode"] or o["electrodes"][0])
        s["ca"] = _mask(o, wire, "cathode", "", dflt["cathode"] or o["electrodes"][1])
        _train(wire, "", dflt, s)
        if typ == "tcmep":
            if not 1 <= s["n"] <= 9:
                bad("pulses", "a TcMEP train has 1..9 pulses, got %d" % s["n"])
            if not 1000 <= s["isi"] <= 10000:
                bad("isi_us", "TcMEP ISI is 1000..10000 us, got %d" % s["isi"])
        if typ == "tcmep":
            spec["search"] = _track(wire, o, s)
        elif "track" in wire:
            bad("track", "only a TcMEP protocol tracks a threshold")
        if typ == "dwave" and s["n"] != 1:
            bad("pulses", "D-wave stimulation is single pulses")
        if typ == "temg":
            spec["search"] = _search(wire, "", typ, o)
            spec["muscles"] = _muscles(wire, "")
            spec["roots"] = _roots(wire, spec["muscles"])
            if spec["search"]:
                s = with_amp(s, spec["search"]["stop"], o["res"])
        streams.append(s)
    if typ != "ssep":
        rec = _record(wire, "", None)
        for s in streams:
            s["record"] = rec
    spec["streams"] = streams
    _muscles_match(spec)
    for s in streams:
        if s["an"] & s["ca"]:
            bad("anode", "an electrode cannot be anode and cathode at once (%s)" % s["label"])
    spec["streams"] = streams
    return spec


def anode_side(bd, s):
    """'left' / 'right' / 'midline' for a transcranial montage: the anode
    selects the hemisphere (odd 10-20 numbers are left)."""
    names = bd.OUTPUTS[s["out"]]["electrodes"]
    sides = set()
    for i, e in enumerate(names):
        if s["an"] & (1 << i):
            d = e[-1]
            sides.add("midline" if d == "z" else ("left" if d in "13579" else "right"))
    return sides.pop() if len(sides) == 1 else "mixed"


# --- canonical form and hash -------------------------------------------------
def _canon(v, emit):
    # Sorted keys, no spaces, integers and plain names only: the same bytes on
    # MicroPython and CPython (neither json.dumps sorts on MicroPython).
    if isinstance(v, dict):
        emit("{")
        first = True
        for k in sorted(v):
            if not first:
                emit(",")
            first = False
            emit('"%s":' % k)
            _canon(v[k], emit)
        emit("}")
    elif isinstance(v, list):
        emit("[")
        for i, x in enumerate(v):
            if i:
                emit(",")
            _canon(x, emit)
        emit("]")
    elif v is None:
        emit("null")
    elif isinstance(v, bool):
        emit("true" if v else "false")
    elif isinstance(v, int):
        emit("%d" % v)
    elif isinstance(v, float):
        # Only limits carry floats (Shannon k); specs never do.
        emit(repr(v))
    else:
        emit('"%s"' % v)


def canonical(spec):
    out = []
    _canon(spec, out.append)
    return "".join(out)


def spec_hash(spec, profile):
    """sha256 over the limits profile and the canonical spec: the hash ARM
    must carry, so a protocol validated under other limits never arms."""
    h = hashlib.sha256(profile.encode())
    h.update(b"\n")
    # Hashed piece by piece: the canonical text of a large protocol, whole,
    # would need one block of several KB.
    _canon(spec, lambda piece: h.update(piece.encode()))
    return binascii.hexlify(h.digest()).decode()
