"""TcMEP per muscle: one panel per muscle, each TcMEP run's averaged
response a row (first run on top), the runs that made the baseline in
grey, and each run labelled with how many of its trains brought a response
(present/trials) and their peak-to-peak range, from the unit's per-trial
records. Artists carry a gid ("run", "baseline_run", "onset")."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from stimbox.display.figure import (
    BASELINE_COLOUR,
    FAIL_COLOUR,
    MEASURED_COLOUR,
    label,
    nice,
    small_multiples,
    styled,
    title,
)
from stimbox.display.traces import SPLIT, baseline_runs
from stimbox.export import tables
from stimbox.store import Session


def mep_runs(session: Session) -> list[int]:
    """Runs with per-trial MEP records."""
    return sorted({int(t["run"]) for t in session.meps})


@styled
def mep_figure(session: Session) -> Figure | None:
    runs = mep_runs(session)
    if not runs:
        return None
    rows = tables.measurements(session)
    trials = tables.mep_trials(session)
    muscles: dict[str, int] = {}
    for t in trials:
        muscles.setdefault(str(t["muscle"] or f"ch{t['ch']}"), int(t["ch"]))
    base = baseline_runs(session, rows)
    in_base = {r for (_, stream), rs in base.items() for r in rs
               if any(x["stream"] == stream and x["kind"] == "mep" for x in rows)}
    fig, axes = small_multiples(len(muscles), min(2, len(muscles)), (4.8, 0.42 * len(runs) + 0.7),
                                left=1.0, top=0.6, right=1.3, wspace=0.6)
    for ax, (muscle, ch) in zip(axes, muscles.items(), strict=False):
        refs = {a.run: a for a in session.averages if a.channel == ch and a.split == SPLIT and a.run in runs}
        waves = {r: a.load() for r, a in refs.items()}
        step = nice(2.2 * max((float(np.max(np.abs(w))) for w in waves.values()), default=1.0))
        ticks = []
        for i, run in enumerate(runs):
            off = -i * step
            ticks.append(off)
            mine = [t for t in trials if t["run"] == run and t["ch"] == ch]
            present = [t for t in mine if t["present"]]
            if run in refs:
                colour = BASELINE_COLOUR if run in in_base else MEASURED_COLOUR
                ax.plot(refs[run].t_ms(), waves[run] + off, color=colour, lw=1.0,
                        gid="baseline_run" if run in in_base else "run")
            # Onsets count from the train's last pulse; the trace, from its first.
            onsets = [float(t["onset_ms"]) + float(t["train_ms"] or 0.0) for t in present
                      if t["onset_ms"] is not None]
            if onsets:
                ax.plot([float(np.median(onsets))], [off], marker="|", ms=9, color=MEASURED_COLOUR,
                        gid="onset")
            pp = [float(t["pp_uv"]) for t in present]
            text = f"{len(present)}/{len(mine)}" + (f"  {min(pp):.0f}-{max(pp):.0f} µV" if pp else "")
            ax.text(1.0, off, " " + text, transform=ax.get_yaxis_transform(), fontsize=6.5, va="center",
                    color=MEASURED_COLOUR if present else FAIL_COLOUR)
        ax.set_yticks(ticks, [f"run {r}" for r in runs])
        ax.set_ylim(-(len(runs) - 0.4) * step, 0.7 * step)
        ax.grid(False, axis="y")
        ax.axvline(0, color="#777777", lw=0.6)
        ax.set_xlabel("ms from the train")
        label(ax, f"{muscle} (ch{ch}), {step:g} µV apart")
    title(fig, "TcMEP per muscle: each run's average (baseline runs grey); trains with a response / "
               "trains, their peak-to-peak")
    return fig


@styled
def mep_trials_figure(session: Session) -> Figure | None:
    """The TcMEP trial raster: a row per muscle, a column per train over the
    case (runs apart by a line), a dot for a response (its area grows with
    the peak-to-peak) and a red x for none. Artists carry a gid ("present",
    "absent")."""
    trials = tables.mep_trials(session)
    if not trials:
        return None
    columns = list(dict.fromkeys((int(t["run"]), int(t["trial"])) for t in trials))
    muscles = list(dict.fromkeys(str(t["muscle"] or f"ch{t['ch']}") for t in trials))
    fig = Figure(figsize=(10.0, 0.4 * len(muscles) + 1.2))
    ax = fig.add_axes((0.1, 0.55 / fig.get_figheight(), 0.88, 1 - 1.0 / fig.get_figheight()))
    peak = max((float(t["pp_uv"]) for t in trials if t["present"]), default=1.0) or 1.0
    present = [t for t in trials if t["present"]]
    absent = [t for t in trials if not t["present"]]

    def xy(ts: list[dict[str, object]]) -> tuple[list[int], list[int]]:
        return ([columns.index((int(str(t["run"])), int(str(t["trial"])))) for t in ts],
                [muscles.index(str(t["muscle"] or f"ch{t['ch']}")) for t in ts])

    if present:
        x, y = xy(present)
        ax.scatter(x, y, s=[12 + 100 * float(t["pp_uv"]) / peak for t in present], color=MEASURED_COLOUR,
                   gid="present", label="response (area: peak-to-peak)")
    if absent:
        x, y = xy(absent)
        ax.scatter(x, y, marker="x", s=30, color=FAIL_COLOUR, gid="absent", label="no response")
    runs = list(dict.fromkeys(r for r, _ in columns))
    for run in runs:
        first = next(i for i, (r, _) in enumerate(columns) if r == run)
        ax.axvline(first - 0.5, color="#bbbbbb", lw=0.6)
        ax.text(first - 0.4, -0.75, f"run {run}", fontsize=6.5, va="bottom")
    ax.set_yticks(range(len(muscles)), muscles)
    ax.set_ylim(len(muscles) - 0.5, -0.9)
    ax.set_xlim(-0.6, len(columns) - 0.4)
    ax.set_xlabel("TcMEP train, in case order")
    ax.grid(False)
    fig.legend(fontsize=7, loc="upper right", ncols=2, frameon=False)
    title(fig, "TcMEP trials: each train's response per muscle")
    return fig
