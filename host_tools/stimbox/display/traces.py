"""A run's averaged traces: per recorded stream a panel, its channels
stacked one under the next as an evoked-potential display shows them, the
stream's baseline (the mean of the averages the unit took as its baseline)
in grey behind, and each measured component marked at its peaks and
labelled with latency and amplitude (a TcMEP muscle: its trials' median
onset and the peak-to-peak). Artists carry a gid ("trace", "baseline",
"peak") so what was drawn can be counted."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
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
from stimbox.export import tables
from stimbox.store import AverageRef, Session

SPLIT = "ab"


def baseline_runs(session: Session, rows: list[dict[str, Any]] | None = None) -> dict[tuple[str, str], list[int]]:
    """(protocol, stream) -> the runs whose averages made its baseline."""
    out: dict[tuple[str, str], list[int]] = {}
    for b in tables.baselines(session, rows):
        out.setdefault((str(b["protocol"]), str(b["stream"])), [int(r) for r in str(b["runs"]).split()])
    return out


def _baseline_wave(session: Session, runs: list[int], stream: str, ch: int) -> np.ndarray | None:
    waves = [a.load() for a in session.averages
             if a.run in runs and a.stream == stream and a.channel == ch and a.split == SPLIT]
    if not waves or len({len(w) for w in waves}) != 1:
        return None
    return np.mean(np.stack(waves), axis=0)


def _peak_marks(ax: Axes, t: np.ndarray, shown: np.ndarray, row: dict[str, Any]) -> int:
    """Marks at a measure's latencies on its trace as shown, one label for them; the
    number of measures marked (1 or 0)."""
    measured = [float(v) for v in (row.get("lat_ms"), row.get("lat2_ms")) if isinstance(v, int | float)]
    lats = measured
    if row.get("kind") == "mep" and isinstance(row.get("train_ms"), int | float):
        # The label gives the onset as the unit counts it, from the train's
        # last pulse; the trace's time counts from its first.
        lats = [v + float(row["train_ms"]) for v in measured]
    if not lats:
        return 0
    ys = [float(np.interp(lat, t, shown)) for lat in lats]
    colour = FAIL_COLOUR if row.get("kind") == "mep" and not row.get("present") else MEASURED_COLOUR
    ax.plot(lats, ys, ls="none", marker="v", ms=5, color=colour, gid="peak")
    amp = row.get("amp_uv")
    amp_text = "—" if amp is None else f"{amp:.3g} µV{' pp' if row['kind'] == 'mep' else ''}"
    lat_text = " / ".join(f"{v:.1f}" for v in measured)
    ax.annotate(f"{row['name']} {lat_text} ms, {amp_text}", (lats[-1], ys[-1]),
                xytext=(4, 4), textcoords="offset points", fontsize=6.5, color=colour, gid="peak")
    return 1


@styled
def traces_figure(session: Session, run: int) -> Figure:
    avs = [a for a in session.averages if a.run == run and a.split == SPLIT]
    streams: dict[str, list[AverageRef]] = {}
    for a in sorted(avs, key=lambda a: (a.stream, a.channel)):
        streams.setdefault(a.stream, []).append(a)
    rows = tables.measurements(session)
    mine = [r for r in rows if r["run"] == run]
    protocol = str(mine[0]["protocol"]) if mine else str((session.runs.get(str(run)) or {}).get("name"))
    base_runs = baseline_runs(session, rows)
    n = max(1, len(streams))
    height = max(len(v) for v in streams.values()) if streams else 1
    fig, axes = small_multiples(n, min(n, 2), (5.0, 0.55 * height + 0.8), left=0.9)
    for ax, (stream, refs) in zip(axes, streams.items(), strict=False):
        # A gain per channel, as an evoked-potential display sets it: a
        # cortical response of a few uV sits beside a peripheral one of hundreds.
        used = base_runs.get((protocol, stream), [])
        used = [] if run in used else used  # a run that is part of the baseline is drawn without one
        scales = []
        for i, a in enumerate(refs):
            t, wave = a.t_ms(), a.load()
            base = _baseline_wave(session, used, stream, a.channel) if used else None
            if base is not None and len(base) != len(wave):
                base = None
            peak = max(float(np.max(np.abs(wave))), float(np.max(np.abs(base))) if base is not None else 0.0)
            scale = nice(peak)
            scales.append(scale)
            off = -float(i)

            def y(w: np.ndarray, scale: float = scale, off: float = off) -> np.ndarray:
                return np.asarray(w, dtype=float) / (2.2 * scale) + off

            if base is not None:
                ax.plot(t, y(base), color=BASELINE_COLOUR, lw=1.0, gid="baseline",
                        label="baseline" if i == 0 else None)
            ax.plot(t, y(wave), color=MEASURED_COLOUR, lw=1.2, gid="trace",
                    label=f"run {run}" if i == 0 else None)
            for r in mine:
                if r["stream"] == stream and r["ch"] == a.channel and r["kind"] in ("component", "mep"):
                    _peak_marks(ax, t, y(wave), r)
        ax.axvline(0, color="#777777", lw=0.6)
        ax.set_yticks([-float(i) for i in range(len(refs))],
                      [f"ch{a.channel}\n±{s:g} µV" for a, s in zip(refs, scales, strict=True)])
        ax.set_ylim(-(len(refs) - 0.4), 0.7)
        ax.grid(False, axis="y")
        ax.set_xlabel("ms from the stimulus")
        ax.legend(fontsize=6.5, loc="upper right")
        label(ax, stream)
    title(fig, f"Run {run} {protocol}: averaged traces, baseline in grey")
    return fig
