"""Triggered EMG (pedicle screws): per screw tested (a tEMG run) a panel,
each muscle's threshold as a bar in mA against the alarm limit (the
protocol's alarm table, else the unit's 8 mA), bars under it red; a muscle
that did not respond up to the search's highest current a hatched bar to
that current. Artists carry a gid ("threshold", "none", "limit")."""

from __future__ import annotations

from matplotlib.figure import Figure

from stimbox.display.figure import (
    BASELINE_COLOUR,
    FAIL_COLOUR,
    MEASURED_COLOUR,
    label,
    small_multiples,
    styled,
    title,
)
from stimbox.export import tables
from stimbox.store import Session

LIMIT_MA = 8.0  # the unit's default tEMG alarm limit (docs/ALARMS.md)


@styled
def temg_figure(session: Session) -> Figure | None:
    rows = [r for r in tables.measurements(session) if r["kind"] == "threshold"]
    if not rows:
        return None
    runs = list(dict.fromkeys(int(r["run"]) for r in rows))
    fig, axes = small_multiples(len(runs), min(3, len(runs)), (3.2, 1.9), top=0.6, left=0.7)
    for ax, run in zip(axes, runs, strict=True):
        mine = [r for r in rows if r["run"] == run]
        proto = tables.protocol_of(session, run)
        limit = float((proto.get("alarms") or {}).get("temg_limit_ma", LIMIT_MA))
        stop = float((proto.get("search") or {}).get("stop_ua", 20000)) / 1000
        for i, r in enumerate(mine):
            t = r["threshold_ma"]
            if t is None:
                ax.bar(i, stop, color="white", edgecolor=BASELINE_COLOUR, hatch="//", gid="none")
                ax.text(i, stop, "none", ha="center", va="bottom", fontsize=6.5)
            else:
                ax.bar(i, t, color=FAIL_COLOUR if t < limit else MEASURED_COLOUR, gid="threshold")
                ax.text(i, t, f"{t:.1f}", ha="center", va="bottom", fontsize=6.5)
        ax.axhline(limit, color=FAIL_COLOUR, lw=0.8, ls=":", gid="limit")
        ax.set_xticks(range(len(mine)), [str(r["name"]) for r in mine])
        ax.set_ylim(0, stop * 1.15)
        ax.set_ylabel("mA")
        ax.grid(False, axis="x")
        label(ax, f"run {run} {mine[0]['protocol']}")
    title(fig, "Triggered EMG: each muscle's threshold (red under the alarm limit, dotted)")
    return fig
