"""The case's trends: per measure (an averaged component of a stream, a
TcMEP muscle), its amplitude and its latency over case time, each point a
run; the baseline (the mean of its baseline averages) dashed, the alarm
criterion drawn where the unit alarms (the protocol's alarm table, or the
unit's defaults: docs/ALARMS.md), and every alarm the unit raised on the
measure marked. Artists carry a gid ("series", "baseline", "threshold",
"alarm")."""

from __future__ import annotations

from typing import Any

from matplotlib.axes import Axes
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
from stimbox.export.timeline import Timeline
from stimbox.store import Session

# The unit's defaults (docs/ALARMS.md) where a protocol's alarm table does not set a criterion.
DEFAULTS = {"ssep_amp_drop_pct": 50.0, "ssep_lat_rise_pct": 10.0, "mep_drop_pct": 80.0,
            "mep_loss_uv": 20.0}

Key = tuple[str, str, str, Any]  # protocol, stream, name, ch


def criteria(session: Session, protocol: str) -> dict[str, float]:
    """The protocol's alarm criteria, defaults filled in."""
    out = dict(DEFAULTS)
    for p in session.protocols.values():
        if p.get("name") == protocol:
            for k, v in ((p.get("protocol") or {}).get("alarms") or {}).items():
                if isinstance(v, int | float):
                    out[k] = float(v)
    return out


def series(rows: list[dict[str, Any]]) -> dict[Key, list[dict[str, Any]]]:
    out: dict[Key, list[dict[str, Any]]] = {}
    for r in rows:
        if r["kind"] in ("component", "mep") and r["t_s"] is not None:
            out.setdefault((str(r["protocol"]), str(r["stream"]), str(r["name"]), r["ch"]), []).append(r)
    return out


def _limits(ax: Axes, kind: str, quantity: str, base: float | None, crit: dict[str, float]) -> None:
    if base is None:
        return
    ax.axhline(base, color=BASELINE_COLOUR, lw=1.0, ls="--", gid="baseline")
    if quantity == "amp_uv":
        drop = crit["mep_drop_pct"] if kind == "mep" else crit["ssep_amp_drop_pct"]
        ax.axhline(base * (1 - drop / 100), color=FAIL_COLOUR, lw=0.8, ls=":", gid="threshold")
        if kind == "mep":
            ax.axhline(crit["mep_loss_uv"], color=FAIL_COLOUR, lw=0.6, ls="-.", gid="threshold")
    elif kind == "component":
        ax.axhline(base * (1 + crit["ssep_lat_rise_pct"] / 100), color=FAIL_COLOUR, lw=0.8, ls=":",
                   gid="threshold")


@styled
def trends_figure(session: Session) -> Figure:
    tl = Timeline(session)
    rows = tables.measurements(session, tl)
    base = {(str(b["protocol"]), str(b["stream"]), str(b["name"]), b["ch"]): b
            for b in tables.baselines(session, rows)}
    alarms = tl.alarms()
    ss = series(rows)
    fig, axes = small_multiples(2 * max(1, len(ss)), 2, (4.6, 1.25), left=0.8, top=0.6)
    for i, (key, rs) in enumerate(ss.items()):
        protocol, stream, name, ch = key
        kind = str(rs[0]["kind"])
        crit = criteria(session, protocol)
        b = base.get(key) or {}
        for ax, quantity, unit in ((axes[2 * i], "amp_uv", "µV"), (axes[2 * i + 1], "lat_ms", "ms")):
            pts = [(float(r["t_s"]), float(r[quantity])) for r in rs if r[quantity] is not None]
            if pts:
                ax.plot(*zip(*pts, strict=True), marker="o", ms=3.5, lw=1.0, color=MEASURED_COLOUR,
                        gid="series")
            _limits(ax, kind, quantity, b.get(quantity), crit)
            for a in alarms:
                if a.get("stream") == stream and a.get("name") == name and a.get("t_s") is not None:
                    value = a.get("value_uv") if quantity == "amp_uv" else a.get("value_ms")
                    if isinstance(value, int | float):
                        ax.plot([a["t_s"]], [value], marker="X", ms=8, color=FAIL_COLOUR, ls="none",
                                gid="alarm")
                    else:
                        ax.axvline(float(a["t_s"]), color=FAIL_COLOUR, lw=1.0, gid="alarm")
            ax.set_ylabel(unit)
            if i == len(ss) - 1:
                ax.set_xlabel("case time, s")
            label(ax, f"{stream} {name} (ch{ch}) {'amplitude' if quantity == 'amp_uv' else 'latency'}")
    # One time axis for every panel: the case, start to end.
    times = [float(r["t_s"]) for r in rows if r["t_s"] is not None] + [tl.end_s()]
    if times:
        lo, hi = min(0.0, min(times)), max(times)
        for ax in axes:
            ax.set_xlim(lo - 0.02 * (hi - lo), hi + 0.02 * (hi - lo))
    title(fig, "Trends: each run's measurement; baseline dashed grey, alarm criterion dotted red, "
               "alarms marked X")
    return fig
