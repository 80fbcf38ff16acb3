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

Prints, per runtime, a Markdown table: per scenario and in all, N20 and P37
latency error (unit less truth; median and worst of |error|, ms), the
first peak's latency less the model's, amplitude error (unit over truth
less 1; median and worst of |error|) for N20/P25 and P37/N45, components
at a window edge, and how many the unit flagged reliable; then the same
over the reliable components alone.

    .venv/bin/python bench/bench_truth.py [--seeds 5] [--count 200]
        [--runtime unix|mcu32|both] [--scenario NAME ...] [--no-x10]
        [--blank-after-us N]

With --alarms, instead: the alarm rows (bench/alarm_study.py): false
alarms in one simulated hour of a stable patient, and averages from the
model's true 50% crossing of an insult to the alarm, over --seeds seeds.
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
from stimbox import protocols  # noqa: E402
from stimbox.build import board_module, build_image, install_offline  # noqa: E402
from stimbox.client import StimBox  # noqa: E402
from stimbox.runtime import probe  # noqa: E402
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
    ap.add_argument("--alarms", action="store_true",
                    help="the alarm rows instead: false alarms of a stable hour, averages to the alarm")
    ap.add_argument("--alarm-rows", nargs="+", choices=("stable", "crossing"), default=["stable", "crossing"],
                    help="with --alarms: which rows")
    a = ap.parse_args()
    runtimes = ["unix", "mcu32"] if a.runtime == "both" else [a.runtime]
    if a.alarms:
        from alarm_study import rows

        for rt in runtimes:
            t0 = time.monotonic()
            lines = rows(RUNTIMES[rt], [SEED0 + k for k in range(a.seeds)], tuple(a.alarm_rows))
            print(f"\n### {rt}, alarms: {a.seeds} seeds ({time.monotonic() - t0:.0f} s)\n")
            print("\n".join(lines), flush=True)
        return
    for rt in runtimes:
        if rt == "mcu32" and not HAVE_MCU32:
            print(f"\n{rt}: skipped, {NO_MCU32}")
            continue
        for x10 in (False, True) if a.x10 else (False,):
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

if __name__ == "__main__":
    main()
