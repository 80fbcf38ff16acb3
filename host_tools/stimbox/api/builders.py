"""Protocols for the scripting API: an example protocol (protocols/*.toml)
with the caller's changes, checked on the host as a protocol file is
(stimbox.protocols.from_dict), so a misspelt key is one line before
anything reaches the unit. The unit still validates every protocol
against its limits and alone decides what it delivers.

Changes are the wire form's own keys (amplitudes in uA or mV, times in
us, rates in Hz). A change whose value is a table (record, search,
alarms) is merged into the example's table, key by key."""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any

from stimbox import protocols
from stimbox.errors import StimBoxError

# The simulated unit's montage (docs/SIMULATOR.md), as the example
# protocols use it: the amplifier channel of each muscle.
MUSCLE_CHANNELS = {"APB_L": 8, "APB_R": 9, "QUAD_L": 10, "QUAD_R": 11,
                   "TA_L": 12, "TA_R": 13, "AH_L": 14, "AH_R": 15}

# Per-trial MEPs need a record table, which the TcMEP example (a train for
# planning and bench checks) leaves out. 20 ms before the train give the
# noise estimate its samples; the train stays blanked until 8 ms past its
# last pulse, when the amplifier's recovery from the stimulus has settled
# (tests/test_mep_sim.py says what a shorter blank did).
MEP_RECORD: dict[str, Any] = {"rate_hz": 10000, "pre_ms": 20, "post_ms": 80, "band": [10, 1500],
                              "blank_us": [100, 8000], "split": False}

# A transcranial anode drives the opposite hemisphere's muscles: the
# muscles recorded by default for each anode (a midline one reaches both).
MEP_MUSCLES = {
    "C3": ("APB_R", "QUAD_R", "TA_R", "AH_R"), "C1": ("APB_R", "QUAD_R", "TA_R", "AH_R"),
    "C4": ("APB_L", "QUAD_L", "TA_L", "AH_L"), "C2": ("APB_L", "QUAD_L", "TA_L", "AH_L"),
}
MEP_MUSCLES_MIDLINE = ("APB_L", "APB_R", "TA_L", "TA_R")


class ProtocolChoiceError(StimBoxError):
    """A helper asked for something no example protocol offers (a nerve,
    a side, a muscle)."""


def _merge(protocol: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    for k, v in changes.items():
        if isinstance(v, dict) and isinstance(protocol.get(k), dict):
            protocol[k] = dict(protocol[k], **v)
        else:
            protocol[k] = v
    return protocol


def _sides(sides: str | Sequence[str]) -> list[str]:
    out = [sides] if isinstance(sides, str) else list(sides)
    bad = [s for s in out if s.upper() not in ("L", "R")]
    if bad or not out:
        raise ProtocolChoiceError(f"sides {out!r}: each one of 'L', 'R'")
    return [s.upper() for s in out]


def _muscle_channels(muscles: Sequence[str]) -> list[int]:
    unknown = [m for m in muscles if m not in MUSCLE_CHANNELS]
    if unknown:
        raise ProtocolChoiceError(f"muscle {unknown[0]!r} is not in the montage; "
                                  f"known: {', '.join(MUSCLE_CHANNELS)}")
    return [MUSCLE_CHANNELS[m] for m in muscles]


def pulses_protocol(board: ModuleType, out: str = "P1", amp_ua: int = 5000, width_us: int = 200,
                    count: int = 10, rate_hz: float = 2.0, **changes: Any) -> dict[str, Any]:
    """The test-pulse example on output `out`. A constant-voltage output
    takes amp_mv (in changes) instead of amp_ua. Another output than the
    example's uses its own first two electrodes unless anode and cathode
    are given."""
    p = protocols.load("pulses")
    if out != p["out"]:
        p.pop("anode", None)
        p.pop("cathode", None)
    p.update(name=f"Test pulses {out}", out=out, width_us=width_us, count=count, rate_hz=rate_hz)
    if "amp_mv" in changes:
        p.pop("amp_ua", None)
    else:
        p["amp_ua"] = amp_ua
    return protocols.from_dict(_merge(p, changes), board)


def ssep_example(nerve: str) -> dict[str, Any]:
    """The example SSEP protocol whose sites are that nerve's ("median":
    l_median and r_median)."""
    names = []
    for path in protocols.examples():
        p = protocols.load(path)
        if p.get("type") != "ssep":
            continue
        sites = [str(s["site"]) for s in p["sites"]]
        names += sites
        if any(s.endswith(f"_{nerve}") for s in sites):
            return p
    raise ProtocolChoiceError(f"no example SSEP protocol for nerve {nerve!r}; sites: {', '.join(names)}")


def ssep_protocol(board: ModuleType, nerve: str = "median", sides: str | Sequence[str] = ("L", "R"),
                  sweeps: int | None = None, amp_ua: int | None = None, width_us: int | None = None,
                  **changes: Any) -> dict[str, Any]:
    """The nerve's example SSEP with only the chosen sides' sites, sweeps
    per side (default the example's). amp_ua and width_us, and a "record"
    table, apply to every chosen site."""
    p = ssep_example(nerve)
    wanted = [f"{s.lower()}_{nerve}" for s in _sides(sides)]
    p["sites"] = [s for s in p["sites"] if s["site"] in wanted]
    missing = set(wanted) - {s["site"] for s in p["sites"]}
    if missing:
        raise ProtocolChoiceError(f"the {nerve} example has no site {', '.join(sorted(missing))}")
    record = changes.pop("record", None)
    for s in p["sites"]:
        if amp_ua is not None:
            s["amp_ua"] = amp_ua
        if width_us is not None:
            s["width_us"] = width_us
        if record:
            s["record"] = dict(s["record"], **record)
    p["name"] = f"SSEP {nerve} {'/'.join(s.upper() for s in _sides(sides))}"
    if sweeps is not None:
        p["count"] = sweeps
    return protocols.from_dict(_merge(p, changes), board)


def mep_muscles(protocol: dict[str, Any]) -> list[str]:
    anode = protocol.get("anode")
    return list(MEP_MUSCLES.get(anode, MEP_MUSCLES_MIDLINE) if isinstance(anode, str)
                else MEP_MUSCLES_MIDLINE)


def mep_protocol(board: ModuleType, amp_mv: int | None = None, trains: int | None = None,
                 muscles: Sequence[str] | None = None, **changes: Any) -> dict[str, Any]:
    """The TcMEP example (amplitude and train count its own unless given)
    recording each muscle's MEP per train; muscles default to those the
    anode drives (C3: the right side's)."""
    p = protocols.load("tcmep")
    record = changes.pop("record", None) or {}
    p.update({k: changes.pop(k) for k in ("anode", "cathode") if k in changes})
    if amp_mv is not None:
        p["amp_mv"] = amp_mv
    if trains is not None:
        p["count"] = trains
    names = list(muscles) if muscles is not None else mep_muscles(p)
    p["record"] = dict(MEP_RECORD, channels=_muscle_channels(names), mep={"muscles": names}, **record)
    return protocols.from_dict(_merge(p, changes), board)


def temg_protocol(board: ModuleType, screw: str | None = None, muscles: Sequence[str] | None = None,
                  **changes: Any) -> dict[str, Any]:
    """The triggered-EMG example. screw ("L5_R"): the muscles on its side
    (the example's, left), named for the screw. muscles (montage names
    such as "TA_R"): those instead, each with the roots the example gives
    its muscle."""
    p = protocols.load("temg")
    # The example names muscles side first ("L_TA") and gives each its roots.
    roots = {m.split("_", 1)[1]: r for m, r in zip(p["muscles"], p["roots"], strict=True)}
    if muscles is None and screw is not None:
        side = screw.rsplit("_", 1)[-1].upper()
        _sides(side)
        muscles = [f"{m.split('_', 1)[1]}_{side}" for m in p["muscles"]]
    if muscles is not None:
        unknown = [m for m in muscles if m.split("_")[0] not in roots]
        if unknown:
            raise ProtocolChoiceError(f"muscle {unknown[0]!r}: the tEMG example knows the roots of "
                                      f"{', '.join(roots)} only")
        p["record"]["channels"] = _muscle_channels(muscles)
        p["muscles"] = [f"{m.split('_')[1]}_{m.split('_')[0]}" for m in muscles]
        p["roots"] = [roots[m.split("_")[0]] for m in muscles]
    if screw is not None:
        p["name"] = f"Pedicle screw {screw}"
    return protocols.from_dict(_merge(p, changes), board)
