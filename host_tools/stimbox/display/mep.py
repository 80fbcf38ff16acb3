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
                                left=1.0, top=0.6, right=1.3)
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
