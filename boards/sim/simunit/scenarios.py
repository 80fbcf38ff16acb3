"""Scenario files: what happens to the patient (and the set-up) over virtual
time. A scenario is a TOML file in simunit/scenarios/, loaded by name or by
path. Its effects ramp linearly from start_s over ramp_s seconds of scenario
time (virtual time since the scenario was loaded) to their final factors.

    name = "cord_ischaemia"
    description = "..."
    mains_hz = 50                       # 50 or 60
    [bursts]                            # movement and cautery, events per minute
    movement_per_min = 0.1
    cautery_per_min = 0.0
    [scs]                               # SCS lead position
    offset_mm = -3.0                    # lateral offset from the physiological midline, left < 0
    angle_deg = 0.0
    [probe]
    screw = "L5_L"                      # what the PR probe touches
    [dwave]                             # cord levels of the epidural strip's pairs (C1..C8, T1..T12)
    rostral = "T4"                      # the control, above the operated segment
    caudal = "T10"                      # below it
    [[screw]]                           # pedicle screws (replace the default set when given)
    name = "L5_L"; root = "L5"; side = "L"; threshold_mA = 2.8
    [[effect]]                          # physiological change on named responses
    name = "..."; targets = ["ssep.tibial_*.cortical.*"]; start_s = 120; ramp_s = 600
    amplitude = 0.3; latency = 1.1; threshold = 1.0
    [[effect]]                          # technical change on a recording electrode
    name = "..."; electrode = "CP4"; impedance_ohm = 1e6; start_s = 240; ramp_s = 0
    [[effect]]                          # stimulation load change
    name = "..."; output = "P1"; load = {kind = "open"}; start_s = 60
    [stage.P1]                          # the unit's output stage (outputstage.StageParams fields)
    gain_error = -0.05
    [[amp]]                             # a recording channel's errors (amplifier.AmpError fields)
    channel = 3; gain_error = 0.05; delay_us = 0

Stage and amp tables hold from the moment the scenario is loaded (they
describe the unit, not the patient); outputs and channels they do not name
are nominal.

Response names: ssep.<median_L|median_R|tibial_L|tibial_R>.<peripheral|
subcortical|cortical>.<component>, mep.<muscle>, mwave.<muscle>,
temg.<muscle>, scs.<muscle>, dwave.<rostral|caudal>; muscles APB_L ... AH_R (montage.py). Targets
are shell-style patterns.
"""

from __future__ import annotations

import fnmatch
import sys
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from stimbox import resources

from simunit import amplifier, dwave, loads, outputstage
from simunit.boardfiles import OUTPUT_INDEX
from simunit.montage import RECORDING_ELECTRODES

SCENARIO_DIR = resources.scenarios_dir()
DEFAULT = "stable_baseline"

DEFAULT_SCREWS = {
    "L3_L": {"root": "L3", "side": "L", "threshold_mA": 16.0},
    "L3_R": {"root": "L3", "side": "R", "threshold_mA": 17.0},
    "L4_L": {"root": "L4", "side": "L", "threshold_mA": 15.0},
    "L4_R": {"root": "L4", "side": "R", "threshold_mA": 18.0},
    "L5_L": {"root": "L5", "side": "L", "threshold_mA": 14.0},
    "L5_R": {"root": "L5", "side": "R", "threshold_mA": 16.0},
    "S1_L": {"root": "S1", "side": "L", "threshold_mA": 19.0},
    "S1_R": {"root": "S1", "side": "R", "threshold_mA": 20.0},
}


def available() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


@dataclass(frozen=True)
class Effect:
    name: str
    start_s: float
    ramp_s: float
    targets: tuple[str, ...] = ()
    amplitude: float = 1.0
    latency: float = 1.0
    threshold: float = 1.0
    electrode: str | None = None
    impedance_ohm: float | None = None
    output: str | None = None
    load: loads.Load | None = None

    def progress(self, t_s: float) -> float:
        if t_s < self.start_s:
            return 0.0
        if self.ramp_s <= 0:
            return 1.0
        return min(1.0, (t_s - self.start_s) / self.ramp_s)

    def describe(self) -> dict[str, object]:
        d: dict[str, object] = {"name": self.name, "start_s": self.start_s, "ramp_s": self.ramp_s}
        if self.targets:
            d.update(targets=list(self.targets), amplitude=self.amplitude,
                     latency=self.latency, threshold=self.threshold)
        if self.electrode:
            d.update(electrode=self.electrode, impedance_ohm=self.impedance_ohm)
        if self.output:
            d.update(output=self.output, load=self.load.describe() if self.load else None)
        return d


@dataclass
class Scenario:
    name: str
    description: str
    source: str
    mains_hz: float = 50.0
    movement_per_min: float = 0.0
    cautery_per_min: float = 0.0
    scs: dict[str, float] = field(default_factory=lambda: {"offset_mm": 0.0, "angle_deg": 0.0})
    probe_screw: str | None = None
    screws: dict[str, dict[str, object]] = field(default_factory=lambda: dict(DEFAULT_SCREWS))
    effects: tuple[Effect, ...] = ()
    dwave: dict[str, str] = field(default_factory=lambda: dict(dwave.DEFAULT_LEVELS))
    stage: dict[str, dict[str, float]] = field(default_factory=dict)  # output -> StageParams changes
    amp: dict[int, dict[str, float]] = field(default_factory=dict)  # channel -> AmpError fields
    _cache: dict[str, tuple[Effect, ...]] = field(default_factory=dict, repr=False)
    _imp_cache: frozenset[str] | None = field(default=None, repr=False)

    def _effects_for(self, name: str) -> tuple[Effect, ...]:
        hit = self._cache.get(name)
        if hit is None:
            hit = tuple(e for e in self.effects if any(fnmatch.fnmatchcase(name, p) for p in e.targets))
            self._cache[name] = hit
        return hit

    def modifiers(self, name: str, t_s: float) -> tuple[float, float, float]:
        a = lat = thr = 1.0
        for e in self._effects_for(name):
            p = e.progress(t_s)
            if p > 0:
                a *= 1.0 + (e.amplitude - 1.0) * p
                lat *= 1.0 + (e.latency - 1.0) * p
                thr *= 1.0 + (e.threshold - 1.0) * p
        return a, lat, thr

    def impedance_electrodes(self) -> frozenset[str]:
        """The electrodes whose impedance some effect changes."""
        hit = self._imp_cache
        if hit is None:
            hit = frozenset(e.electrode for e in self.effects if e.electrode and e.impedance_ohm is not None)
            self._imp_cache = hit
        return hit

    def electrode_ohms(self, electrode: str, base: float, t_s: float) -> float:
        z = base
        for e in self.effects:
            if e.electrode == electrode and e.impedance_ohm is not None:
                p = e.progress(t_s)
                if p > 0:
                    z = z + (e.impedance_ohm - z) * p
        return z

    def load_changes(self, t_s: float) -> dict[str, loads.Load]:
        """Loads the scenario has changed by scenario time t_s (latest wins)."""
        out: dict[str, loads.Load] = {}
        for e in sorted(self.effects, key=lambda e: e.start_s):
            if e.output and e.load is not None and t_s >= e.start_s:
                out[e.output] = e.load
        return out

    def insults(self) -> list[dict[str, object]]:
        return [e.describe() for e in self.effects]


def _effect(d: dict[str, object], where: str) -> Effect:
    try:
        name = str(d.get("name", "unnamed"))
        start = float(d.get("start_s", 0.0))  # type: ignore[arg-type]
        ramp = float(d.get("ramp_s", 0.0))  # type: ignore[arg-type]
        if "electrode" in d:
            el = str(d["electrode"])
            if el not in RECORDING_ELECTRODES:
                raise ValueError(f"unknown electrode {el!r}")
            return Effect(name, start, ramp, electrode=el, impedance_ohm=float(d["impedance_ohm"]))  # type: ignore[arg-type]
        if "output" in d:
            out = str(d["output"])
            if out not in OUTPUT_INDEX:
                raise ValueError(f"unknown output {out!r}")
            return Effect(name, start, ramp, output=out, load=loads.from_spec(d["load"]))  # type: ignore[arg-type]
        targets = d.get("targets")
        if not targets or not isinstance(targets, list):
            raise ValueError("an effect needs targets, electrode or output")
        return Effect(
            name, start, ramp, tuple(str(t) for t in targets),
            float(d.get("amplitude", 1.0)), float(d.get("latency", 1.0)),  # type: ignore[arg-type]
            float(d.get("threshold", 1.0)),  # type: ignore[arg-type]
        )
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{where}: bad effect {d.get('name', '')!r}: {e}") from None


def parse(doc: dict[str, object], source: str) -> Scenario:
    known = {"name", "description", "mains_hz", "bursts", "scs", "probe", "screw", "effect", "dwave",
             "stage", "amp"}
    unknown = set(doc) - known
    if unknown:
        raise ValueError(f"{source}: unknown keys {sorted(unknown)}; known: {sorted(known)}")
    s = Scenario(name=str(doc.get("name", Path(source).stem)),
                 description=str(doc.get("description", "")), source=source)
    s.mains_hz = float(doc.get("mains_hz", 50.0))  # type: ignore[arg-type]
    if s.mains_hz not in (50.0, 60.0):
        raise ValueError(f"{source}: mains_hz must be 50 or 60, got {s.mains_hz}")
    bursts = doc.get("bursts", {})
    assert isinstance(bursts, dict)
    s.movement_per_min = float(bursts.get("movement_per_min", 0.0))
    s.cautery_per_min = float(bursts.get("cautery_per_min", 0.0))
    scs = doc.get("scs", {})
    assert isinstance(scs, dict)
    s.scs = {"offset_mm": float(scs.get("offset_mm", 0.0)), "angle_deg": float(scs.get("angle_deg", 0.0))}
    screws = doc.get("screw")
    if screws:
        assert isinstance(screws, list)
        s.screws = {
            str(x["name"]): {"root": str(x["root"]), "side": str(x["side"]),
                             "threshold_mA": float(x["threshold_mA"])}
            for x in screws
        }
    probe = doc.get("probe", {})
    assert isinstance(probe, dict)
    s.probe_screw = probe.get("screw")
    if s.probe_screw is not None and s.probe_screw not in s.screws:
        raise ValueError(f"{source}: probe screw {s.probe_screw!r} is not one of {sorted(s.screws)}")
    levels = doc.get("dwave", {})
    if not isinstance(levels, dict) or set(levels) - set(dwave.ROLES):
        raise ValueError(f"{source}: [dwave] takes {' and '.join(dwave.ROLES)} (cord levels)")
    for role, level in levels.items():
        dwave.level_cm(str(level))  # a ValueError names the levels
        s.dwave[role] = str(level)
    effects = doc.get("effect", [])
    assert isinstance(effects, list)
    s.effects = tuple(_effect(e, source) for e in effects)
    s.stage = _stage(doc.get("stage", {}), source)
    s.amp = _amp(doc.get("amp", []), source)
    return s


def _stage(tables: object, source: str) -> dict[str, dict[str, float]]:
    """[stage.<OUT>] tables, each checked against the output's parameters."""
    if not isinstance(tables, dict):
        raise ValueError(f"{source}: stage takes [stage.<output>] tables")
    out = {}
    for name, changes in tables.items():
        if name not in OUTPUT_INDEX:
            raise ValueError(f"{source}: [stage.{name}]: no output {name!r}; outputs: {', '.join(OUTPUT_INDEX)}")
        if not isinstance(changes, dict):
            raise ValueError(f"{source}: [stage.{name}] must be a table")
        try:
            outputstage.with_changes(outputstage.default_params(OUTPUT_INDEX[name]), changes)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{source}: [stage.{name}]: {e}") from None
        out[name] = dict(changes)
    return out


def _amp(tables: object, source: str) -> dict[int, dict[str, float]]:
    """[[amp]] tables: channel and amplifier.AmpError fields."""
    if not isinstance(tables, list):
        raise ValueError(f"{source}: amp takes [[amp]] tables")
    out: dict[int, dict[str, float]] = {}
    for t in tables:
        try:
            if not isinstance(t, dict) or "channel" not in t:
                raise ValueError(f"each needs a channel and any of {list(amplifier.FIELDS)}")
            changes = {k: v for k, v in t.items() if k != "channel"}
            ch = amplifier.channel_index(t["channel"])
            if ch in out:
                raise ValueError(f"channel {ch} twice")
            amplifier.with_changes(amplifier.NONE, changes)
        except ValueError as e:
            raise ValueError(f"{source}: [[amp]]: {e}") from None
        out[ch] = changes
    return out


def load(name_or_path: str) -> Scenario:
    """A scenario by name (a file in simunit/scenarios/) or by path."""
    p = Path(name_or_path)
    if p.suffix != ".toml" or not p.exists():
        p = SCENARIO_DIR / (name_or_path + ".toml")
    if not p.exists():
        raise ValueError(f"no scenario {name_or_path!r}; scenarios: {', '.join(available())}, or a .toml path")
    with open(p, "rb") as f:
        try:
            doc = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{p}: {e}") from None
    return parse(doc, str(p))
