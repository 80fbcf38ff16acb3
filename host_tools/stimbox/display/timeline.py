"""The case at a glance: one row per protocol, each run a bar from its start
to its end in case time (the runs that made a baseline hatched), free-run EMG's span, and
every alarm the unit raised a red mark on its run's row. Artists carry a gid
("run", "alarm", "emg")."""

from __future__ import annotations

from matplotlib.figure import Figure

from stimbox.display.figure import BASELINE_COLOUR, FAIL_COLOUR, MEASURED_COLOUR, styled, title
from stimbox.export import tables
from stimbox.export.timeline import Timeline
from stimbox.store import Session

MIN_BAR_S = 0.05  # a run shorter than this still shows


@styled
def timeline_figure(session: Session) -> Figure | None:
    tl = Timeline(session)
    runs = [r for r in tl.runs if r.start_s is not None]
    base = {int(r) for b in tables.baselines(session, tables.measurements(session, tl))
            for r in str(b["runs"]).split()}
    rows = list(dict.fromkeys(r.name for r in runs))
    emg_t = [float(x["t_s"]) for x in session.emg if isinstance(x.get("t_s"), int | float)]
    if emg_t:
        rows.append("free-run EMG")
    if not rows:
        return None
    fig = Figure(figsize=(10.0, 0.38 * max(1, len(rows)) + 1.1))
    ax = fig.add_axes((0.17, 0.5 / fig.get_figheight(), 0.81, 1 - 0.95 / fig.get_figheight()))
    for r in runs:
        start = float(r.start_s or 0.0)
        end = r.end_s if r.end_s is not None else start
        ax.barh(rows.index(r.name), max(end - start, MIN_BAR_S), left=start, height=0.5,
                color=BASELINE_COLOUR if r.run in base else MEASURED_COLOUR,
                hatch="//" if r.run in base else None,
                edgecolor="white", gid="run")
    if emg_t:
        ax.barh(rows.index("free-run EMG"), max(emg_t) - min(emg_t), left=min(emg_t), height=0.25,
                color="#7aa0d8", gid="emg")
    by_run = {r.run: r for r in runs}
    for a in tl.alarms():
        run = a.get("run")
        span = by_run.get(run) if isinstance(run, int) else None
        if a.get("t_s") is None or span is None:
            continue
        ax.plot([a["t_s"]], [rows.index(span.name)], marker="v", ms=9, color=FAIL_COLOUR, ls="none",
                gid="alarm")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.grid(False, axis="y")
    ax.set_xlabel("case time, s")
    title(fig, "Case timeline: runs by protocol (baseline runs hatched grey), alarms in red")
    return fig
