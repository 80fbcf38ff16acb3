"""SSEP measurement against the truth: the example median and tibial SSEP
protocols (200 sweeps a side) on the simulated unit, over seeds and
scenarios, each component the unit measured compared with the same
measurement on the model's noise-free average of that run's trials through
the same band (stimbox.truth), and with the model's own latency of its
first peak. "causal" measures the same run's causally filtered average (the
unit's display average, pulled), as components were measured before: the
before/after of one run. Each scenario runs as it is, then with its
cortical SSEPs ten times their size (the residual noise of 200 sweeps a
tenth as large against them), which leaves the measurement's own error.

Then the example D-wave protocol (10 single transcranial pulses, the
epidural pairs) on the same seeds and scenarios (cord_ischaemia at 3 min,
a third into its ramp: the caudal D-wave at about a third), its N/P
measured on each pair against the truth the same way: one more table.

Prints, per runtime, a Markdown table: per scenario and in all, N20 and P37
latency error (unit less truth; median and worst of |error|, ms), the
first peak's latency less the model's, amplitude error (unit over truth
less 1; median and worst of |error|) for N20/P25 and P37/N45, components
at a window edge, and how many the unit flagged reliable; then the same
over the reliable components alone.

Then the TcMEP rows: every train's per-muscle MEP the unit measured on its
filtered single sweep (stimfw.record.mep) against the same measurement on
the model's noise-free sweep of that train through the same band
(stimbox.meptruth): onset latency error (ms) and amplitude error (median
and worst of |error|) over the clear responses (true peak-to-peak at
least four times the onset threshold), the onset less the model's own,
and how often the unit found a response where the truth has none.

    .venv/bin/python bench/bench_truth.py [--seeds 5] [--count 200]
        [--runtime unix|mcu32|both] [--scenario NAME ...] [--no-x10]
        [--blank-after-us N] [--mep-trials 10] [--temg-seeds 5]
        [--only ssep mep dwave temg alarms]

Then the triggered-EMG threshold search (`temg`, per muscle) on pedicle
screws of three scenarios against stimbox.temg_truth: the current at which
the model's noise-free response, through the protocol's band, reaches the
detection level.

Last, the alarm rows (bench/alarm_study.py): false alarms in one simulated
hour of a stable patient, and averages from the model's true 50% crossing
of an insult to the alarm, over the same seeds. --only prints some of the
tables alone.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from mpy import HAVE_MCU32, NO_MCU32, RUNTIMES  # noqa: E402
from simunit.scenarios import SCENARIO_DIR  # noqa: E402
from simunit.supervisor import SimUnit  # noqa: E402
from stimbox import meptruth, protocols  # noqa: E402
from stimbox.build import board_module, build_image, install_offline  # noqa: E402
from stimbox.client import StimBox  # noqa: E402
from stimbox.runtime import probe  # noqa: E402
from stimbox.session import run_protocol  # noqa: E402
from stimbox.truth import Compared, compare_run  # noqa: E402

BOARD = board_module("sim")
# Scenario, and the scenario time its runs start at: the insult's ramp
# under way (fade at 63%, ischaemia at half) or complete (positioning).
SCENARIOS = {
    "stable_baseline": 0.0,
    "anaesthetic_fade": 1200.0,
    "positioning_median_loss": 900.0,
    "cord_ischaemia": 420.0,
}
SEED0 = 101  # seeds of this bench's own


LARGER = """
[[effect]]
name = "cortical SSEPs ten times their size (bench_truth)"
targets = ["ssep.*.cortical.*"]
start_s = 0
ramp_s = 0
amplitude = 10.0
"""


def _larger(scen: str, folder: Path) -> str:
    """The scenario with every cortical SSEP ten times its size: the
    residual noise a tenth as large against the response."""
    p = folder / f"{scen}-x10.toml"
    p.write_text((SCENARIO_DIR / f"{scen}.toml").read_text() + LARGER)
    return str(p)


def run_all(exe: str, scenarios: list[str], seeds: int, count: int,
            x10: bool = False, blank_after_us: int | None = None) -> dict[str, list[Compared]]:
    out: dict[str, list[Compared]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        image = build_image("sim", Path(tmp) / "image", arch=probe(exe).mpy_arch)
        for scen in scenarios:
            out[scen] = []
            for k in range(seeds):
                unit = SimUnit(flash=Path(tmp) / f"flash-{scen}-{k}", micropython=exe,
                               scenario=_larger(scen, Path(tmp)) if x10 else scen, seed=SEED0 + k)
                install_offline(image, unit.flash)
                with unit, StimBox.connect(unit.port) as box:
                    if SCENARIOS[scen]:
                        box.sim(advance_s=SCENARIOS[scen])
                    for name in ("ssep", "ssep_tibial"):
                        p = protocols.load(name, BOARD)
                        p["count"] = count
                        if blank_after_us is not None:
                            for site in p["sites"]:
                                site["record"]["blank_us"][1] = blank_after_us
                        result, cs = compare_run(box, p, unit.model.truth_average)
                        if result.outcome != "complete":
                            raise SystemExit(f"{scen} seed {SEED0 + k} {name}: {result.outcome}")
                        out[scen] += cs
                print(f"  {scen}{' x10' if x10 else ''} seed {SEED0 + k}: done",
                      file=sys.stderr, flush=True)
    return out


# D-wave runs: the scenario time they start at where it differs from the
# SSEP runs' (the caudal D-wave is gone by 7 min of cord_ischaemia).
DWAVE_AT = {"cord_ischaemia": 180.0}


def run_dwave(exe: str, scenarios: list[str], seeds: int) -> dict[str, list[Compared]]:
    out: dict[str, list[Compared]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        image = build_image("sim", Path(tmp) / "image", arch=probe(exe).mpy_arch)
        for scen in scenarios:
            out[scen] = []
            for k in range(seeds):
                unit = SimUnit(flash=Path(tmp) / f"flash-{scen}-{k}", micropython=exe, scenario=scen,
                               seed=SEED0 + k)
                install_offline(image, unit.flash)
                with unit, StimBox.connect(unit.port) as box:
                    at = DWAVE_AT.get(scen, SCENARIOS[scen])
                    if at:
                        box.sim(advance_s=at)
                    result, cs = compare_run(box, protocols.load("dwave", BOARD), unit.model.truth_average)
                    if result.outcome != "complete":
                        raise SystemExit(f"{scen} seed {SEED0 + k} dwave: {result.outcome}")
                    out[scen] += cs
            print(f"  {scen} D-wave: done", file=sys.stderr, flush=True)
    return out


def dwave_table(results: dict[str, list[Compared]]) -> list[str]:
    lines = ["| scenario | pair | measured | absent | latency error ms (median / worst) "
             "| vs model ms | amplitude error | truth amplitude uV | residual noise uV | reliable |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    groups = [(scen, pair, [c for c in cs if c.model_name() == pair])
              for scen, cs in results.items() for pair in ("D_rostral", "D_caudal")]
    groups.append(("**all**", "both", [c for cs in results.values() for c in cs]))
    for scen, pair, cs in groups:
        amps = [c.truth["amp_uv"] for c in cs if c.truth["amp_uv"] is not None]
        noise = [c.unit["noise_uv"] for c in cs if c.unit["noise_uv"] is not None]
        lines.append(" | ".join([
            f"| {scen}", pair.removeprefix("D_"), str(len(cs)), str(_absent(cs, lambda c: c.unit)),
            _stats(c.lat_error_ms() for c in cs), _stats(c.model_lat_error_ms() for c in cs),
            _stats((c.amp_error() for c in cs), 100, "{:.1f}%"),
            f"{min(amps):.1f}-{max(amps):.1f}" if amps else "-",
            f"{statistics.median(noise):.2f}" if noise else "-",
            f"{sum(c.unit['reliable'] is True for c in cs)}/{len(cs)}",
        ]) + " |")
    return lines


def _stats(vals: Iterable[float | None], scale: float = 1.0, fmt: str = "{:.2f}") -> str:
    v = [abs(x) * scale for x in vals if x is not None]
    if not v:
        return "-"
    return f"{fmt.format(statistics.median(v))} / {fmt.format(max(v))}"


def _absent(cs: list[Compared], which: Callable[[Compared], dict | None]) -> int:
    return sum(1 for c in cs if (which(c) or {}).get("lat_ms") is None)


def row(label: str, cs: list[Compared], causal: bool) -> str:
    n20 = [c for c in cs if c.name == "N20/P25"]
    p37 = [c for c in cs if c.name == "P37/N45"]

    def pick(c: Compared) -> dict | None:
        return c.causal if causal else None

    def model_err(c: Compared) -> float | None:
        got = c.causal if causal else c.unit
        first = c.name.split("/")[0]
        if got is None or got["lat_ms"] is None:
            return None
        return float(got["lat_ms"] - c.model[first]["latency_ms"])

    edge = "-" if causal else str(sum(c.at_edge() for c in cs))
    rel = "-" if causal else f"{sum(c.unit['reliable'] is True for c in cs)}/{len(cs)}"
    return " | ".join([
        f"| {label}", "causal" if causal else "zero-phase",
        str(len(cs)), str(_absent(cs, pick) if causal else _absent(cs, lambda c: c.unit)),
        _stats(c.lat_error_ms(pick(c)) for c in n20),
        _stats(c.lat_error_ms(pick(c)) for c in p37),
        _stats(model_err(c) for c in cs),
        _stats((c.amp_error(pick(c)) for c in n20), 100, "{:.1f}%"),
        _stats((c.amp_error(pick(c)) for c in p37), 100, "{:.1f}%"),
        edge, rel,
    ]) + " |"


def table(results: dict[str, list[Compared]], only_reliable: bool = False) -> list[str]:
    lines = ["| scenario | measured on | components | absent | N20 latency error ms (median / worst) "
             "| P37 latency error ms | first peak vs model ms | N20/P25 amplitude error "
             "| P37/N45 amplitude error | at a window edge | reliable |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    everything: list[Compared] = []
    for scen, cs in results.items():
        if only_reliable:
            cs = [c for c in cs if c.unit["reliable"] is True]
        everything += cs
        lines.append(row(scen, cs, False))
        if not only_reliable:
            lines.append(row(scen, cs, True))
    lines.append(row("**all**", everything, False))
    if not only_reliable:
        lines.append(row("**all**", everything, True))
    return lines


def noise_line(results: dict[str, list[Compared]]) -> str:
    parts = []
    for name in ("N20/P25", "P37/N45"):
        cs = [c for v in results.values() for c in v if c.name == name and c.unit["noise_uv"]]
        noise = statistics.median(c.unit["noise_uv"] for c in cs)
        amp = statistics.median(c.truth["amp_uv"] for c in cs)
        signed = statistics.median(e for c in cs if (e := c.amp_error()) is not None)
        parts.append(f"{name}: residual noise {noise:.2f} uV r.m.s. (median), truth amplitude "
                     f"{min(c.truth['amp_uv'] for c in cs):.2f}-{max(c.truth['amp_uv'] for c in cs):.2f} uV "
                     f"(median {amp:.2f}), amplitude error signed median {signed:+.1%}")
    return "; ".join(parts)


# TcMEP: scenario and the time its runs start at (the left leg's MEPs lost
# in acute_unilateral_mep_loss; the leg MEPs half gone in cord_ischaemia).
MEP_SCENARIOS = {"stable_baseline": 0.0, "acute_unilateral_mep_loss": 200.0, "cord_ischaemia": 210.0}
MEP_RECORD = {"channels": [9, 12, 13, 14, 15], "rate_hz": 10000, "pre_ms": 20, "post_ms": 80,
              "band": [10, 1500], "blank_us": [100, 8000], "split": False,
              "mep": {"muscles": ["APB_R", "TA_L", "TA_R", "AH_L", "AH_R"]}}


def mep_run_all(exe: str, seeds: int, trials: int) -> dict[str, list[meptruth.Compared]]:
    out: dict[str, list[meptruth.Compared]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        image = build_image("sim", Path(tmp) / "image", arch=probe(exe).mpy_arch)
        for scen, at_s in MEP_SCENARIOS.items():
            out[scen] = []
            for k in range(seeds):
                unit = SimUnit(flash=Path(tmp) / f"flash-mep-{scen}-{k}", micropython=exe,
                               scenario=scen, seed=SEED0 + k)
                install_offline(image, unit.flash)
                with unit, StimBox.connect(unit.port) as box:
                    if at_s:
                        box.sim(advance_s=at_s)
                    p = protocols.load("tcmep", BOARD)
                    p.update(count=trials, rate_hz=1.0, anode="Cz", cathode="Fz", record=dict(MEP_RECORD))
                    result, cs = meptruth.compare_run(box, unit.model, p)
                    if result.outcome != "complete":
                        raise SystemExit(f"{scen} seed {SEED0 + k} tcmep: {result.outcome}")
                    out[scen] += cs
                print(f"  tcmep {scen} seed {SEED0 + k}: done", file=sys.stderr, flush=True)
    return out


def mep_row(label: str, cs: list[meptruth.Compared]) -> str:
    clear = [c for c in cs if c.truth.pp_uv >= 4 * c.unit.threshold_uv]
    absent = [c for c in cs if c.truth.pp_uv < 5]
    onset = [c.onset_error_ms() for c in clear]
    within = sum(1 for e in onset if e is not None and abs(e) <= 0.5)
    amp = [c.amp_error() for c in clear]
    amp_ok = sum(1 for e in amp if e is not None and abs(e) <= 0.10)
    model = [c.unit.onset_ms - c.model_onset_ms for c in clear if c.unit.onset_ms is not None]
    return " | ".join([
        f"| {label}", str(len(cs)), str(len(clear)),
        str(sum(1 for c in clear if c.unit.onset_ms is None)),
        _stats(onset), f"{within}/{len(clear)}",
        _stats(amp, 100, "{:.1f}%"), f"{amp_ok}/{len(clear)}",
        f"{statistics.median(model):+.2f}" if model else "-",
        f"{sum(c.unit.present for c in absent)}/{len(absent)}",
    ]) + " |"


def mep_table(results: dict[str, list[meptruth.Compared]]) -> list[str]:
    lines = ["| scenario | muscle trials | clear | onset missed | onset error ms (median / worst) "
             "| within 0.5 ms | amplitude error (median / worst) | within 10% "
             "| onset less model's, median ms | found where truth < 5 uV |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    everything: list[meptruth.Compared] = []
    for scen, cs in results.items():
        everything += cs
        lines.append(mep_row(scen, cs))
    lines.append(mep_row("**all**", everything))
    return lines


def mep_outliers(results: dict[str, list[meptruth.Compared]]) -> list[str]:
    """The clear responses whose onset is off by more than the 0.5 ms goal,
    or amplitude by more than 10%, with what the unit and the truth saw."""
    out = []
    for scen, cs in results.items():
        for c in cs:
            e = c.onset_error_ms()
            a = c.amp_error()
            if c.truth.pp_uv >= 4 * c.unit.threshold_uv and (e is None or abs(e) > 0.5 or abs(a or 0) > 0.10):
                out.append(f"- {scen} trial {c.trial} {c.muscle}: unit onset {c.unit.onset_ms} ms, "
                           f"{c.unit.pp_uv:.1f} uV, threshold {c.unit.threshold_uv:.1f} uV; truth onset "
                           f"{c.truth.onset_ms if c.truth.onset_ms is None else round(c.truth.onset_ms, 3)} ms, "
                           f"{c.truth.pp_uv:.1f} uV; model {c.model_onset_ms} ms, {c.model_pp_uv} uV")
    return out


SECTIONS = ("ssep", "mep", "dwave", "temg", "alarms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--count", type=int, default=200, help="sweeps per side")
    ap.add_argument("--runtime", choices=("unix", "mcu32", "both"), default="both")
    ap.add_argument("--scenario", nargs="*", default=list(SCENARIOS), choices=list(SCENARIOS))
    ap.add_argument("--blank-after-us", type=int, default=None,
                    help="blank this long after each pulse instead of the protocols' 1500 us")
    ap.add_argument("--no-x10", dest="x10", action="store_false",
                    help="skip the runs with cortical SSEPs ten times their size")
    ap.add_argument("--mep-trials", type=int, default=10, help="TcMEP trains per seed and scenario")
    ap.add_argument("--temg-seeds", type=int, default=5)
    ap.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                    help="these tables alone (default: all of them)")
    ap.add_argument("--alarm-rows", nargs="+", choices=("stable", "crossing"), default=["stable", "crossing"],
                    help="which alarm rows")
    a = ap.parse_args()
    runtimes = ["unix", "mcu32"] if a.runtime == "both" else [a.runtime]
    for rt in runtimes:
        if rt == "mcu32" and not HAVE_MCU32:
            print(f"\n{rt}: skipped, {NO_MCU32}")
            continue
        for x10 in ((False, True) if a.x10 else (False,)) if "ssep" in a.only else ():
            t0 = time.monotonic()
            res = run_all(RUNTIMES[rt], a.scenario, a.seeds, a.count, x10, a.blank_after_us)
            what = "cortical SSEPs x10 (noise a tenth)" if x10 else "the scenarios as they are"
            if a.blank_after_us is not None:
                what += f", blanking {a.blank_after_us} us after each pulse"
            print(f"\n### {rt}, {what}: {a.seeds} seeds x {len(a.scenario)} scenarios, "
                  f"{a.count} sweeps a side ({time.monotonic() - t0:.0f} s)\n")
            print("\n".join(table(res)))
            print("\nReliable components only (amplitude >= 10x the residual noise):\n")
            print("\n".join(table(res, only_reliable=True)))
            print("\n" + noise_line(res), flush=True)
        if "mep" in a.only:
            t0 = time.monotonic()
            mres = mep_run_all(RUNTIMES[rt], a.seeds, a.mep_trials)
            print(f"\n### {rt}, TcMEP per trial: {a.seeds} seeds x {len(MEP_SCENARIOS)} scenarios, "
                  f"{a.mep_trials} trains each, 5 muscles ({time.monotonic() - t0:.0f} s)\n")
            print("\n".join(mep_table(mres)), flush=True)
            print("\nOutside the goals (onset 0.5 ms, amplitude 10%):\n")
            print("\n".join(mep_outliers(mres)) or "none", flush=True)
        if "dwave" in a.only:
            t0 = time.monotonic()
            dres = run_dwave(RUNTIMES[rt], a.scenario, a.seeds)
            print(f"\n### {rt}, D-wave: {a.seeds} seeds x {len(a.scenario)} scenarios, 10 pulses, "
                  f"N/P on the rostral and caudal pairs ({time.monotonic() - t0:.0f} s)\n")
            print("\n".join(dwave_table(dres)), flush=True)
        if "temg" in a.only:
            t0 = time.monotonic()
            trows = temg_table(rt, temg_run_all(RUNTIMES[rt], a.temg_seeds))
            print(f"\n### {rt}, tEMG threshold error, against truth: {a.temg_seeds} seeds x "
                  f"{len(TEMG_SCREWS)} screws, per muscle ({time.monotonic() - t0:.0f} s)\n")
            print("| runtime | muscles | compared | not found | threshold error mA (median / worst) "
                  "| pulses per search (median) |")
            print("|---|---|---|---|---|---|")
            print("\n".join(trows), flush=True)
        if "alarms" in a.only:
            from alarm_study import rows

            t0 = time.monotonic()
            lines = rows(RUNTIMES[rt], [SEED0 + k for k in range(a.seeds)], tuple(a.alarm_rows))
            print(f"\n### {rt}, alarms: {a.seeds} seeds ({time.monotonic() - t0:.0f} s)\n")
            print("\n".join(lines), flush=True)


# --- tEMG threshold search against the truth ------------------------------------
# (scenario, screw): breached, possible breach and intact screws.
TEMG_SCREWS = [("screw_breach", "L5_L"), ("screw_breach", "S1_R"), ("screw_borderline", "S1_L"),
               ("screw_borderline", "L5_R"), ("screw_borderline", "L4_L"), ("stable_baseline", "L5_L")]
TEMG_SIDE = {"L": ([10, 12, 14], ["L_QUAD", "L_TA", "L_AH"]), "R": ([11, 13, 15], ["R_QUAD", "R_TA", "R_AH"])}


def temg_run_all(exe: str, seeds: int) -> list[tuple[float, float | None, int]]:
    """(true threshold uA, unit's less truth in mA or None if it found none,
    pulses of the search) per muscle whose truth lies within the search."""
    from stimbox.temg_truth import thresholds_ua

    out: list[tuple[float, float | None, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        image = build_image("sim", Path(tmp) / "image", arch=probe(exe).mpy_arch)
        for k in range(seeds):
            for scen in dict.fromkeys(sc for sc, _ in TEMG_SCREWS):
                unit = SimUnit(flash=Path(tmp) / f"temg-{scen}-{k}", micropython=exe, scenario=scen,
                               seed=SEED0 + k)
                install_offline(image, unit.flash)
                with unit, StimBox.connect(unit.port) as box:
                    for sc, screw in TEMG_SCREWS:
                        if sc != scen:
                            continue
                        box.sim(probe=screw)
                        p = protocols.load("temg", BOARD)
                        p["record"]["channels"], p["muscles"] = TEMG_SIDE[screw[-1]]
                        r = run_protocol(box, p)
                        s = r.summary["search"]
                        truth = thresholds_ua(unit.model.physiology, screw, p, p["search"]["level_uv"],
                                              p["search"]["stop_ua"])
                        for i, want in enumerate(truth.values()):
                            got = s["thresholds"][i]
                            if want is not None:
                                out.append((want, None if got is None else (got - want) / 1000, s["steps"]))
            print(f"  temg seed {SEED0 + k}: done", file=sys.stderr, flush=True)
    return out


def temg_table(label: str, res: list[tuple[float, float | None, int]]) -> list[str]:
    lines = []
    for what, keep in (("truth <= 8 mA", lambda t: t <= 8000), ("truth > 8 mA", lambda t: t > 8000),
                       ("all", lambda t: True)):
        sel = [r for r in res if keep(r[0])]
        errs = [r[1] for r in sel]
        lines.append(f"| {label} | {what} | {len(sel)} | {sum(e is None for e in errs)} | "
                     f"{_stats(errs)} | {statistics.median(r[2] for r in sel) if sel else '-'} |")
    return lines


if __name__ == "__main__":
    main()
