"""The validation report's figures, drawn with matplotlib's Agg backend and
returned as PNG bytes: one pulse per grid cell against the requested pulse
(small multiples, one figure per output), each measured figure's error
against its tolerance band (one figure per group), and the recording chain's
averages against what the calibrator put in.

Drawn as every host figure is (stimbox.display.figure: Figure, never
pyplot; one style; PNG bytes)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from stimbox.display.figure import (
    BAND_COLOUR,
    FAIL_COLOUR,
    MEASURED_COLOUR,
    PASS_COLOUR,
    REQUESTED_COLOUR,
    label,
    nice,
    png,
    small_multiples,
    styled,
    title,
)

# A measured figure this many tolerances off is drawn at the edge, its value written beside.
ERROR_CLIP = 3.0
# Which trace array shows a requested unit, and its scale from that array's unit.
TRACE_UNITS = {
    "mA": ("current_ua", 1e-3),
    "uA": ("current_ua", 1.0),
    "V": ("voltage_mv", 1e-3),
    "mV": ("voltage_mv", 1.0),
}
QUANTITY_MARKERS = ("o", "s", "^", "D", "v", "P", "X")

_NAME = re.compile(r"^(?P<group>[^.]+)\.(?P<subject>[^.]+)\.(?P<quantity>[^@]+)(?:@(?P<cell>.+))?$")


def _grid(n: int, max_cols: int = 3) -> tuple[int, int]:
    cols = min(max_cols, n)
    return math.ceil(n / cols), cols


# --- pulses against the requested pulse ---------------------------------------------
def requested_pulse(req: dict[str, Any], sign: float) -> tuple[list[float], list[float]]:
    """The ideal pulse as set (time in us from the scheduled start, amplitude
    in the requested unit): a rectangle, and for a biphasic pulse whose gap is
    known the opposite rectangle after it. sign is phase 1's polarity."""
    amp = float(req["amp"]) * sign
    w1 = float(req["width_us"])
    t = [0.0, 0.0, w1, w1]
    y = [0.0, amp, amp, 0.0]
    if req.get("shape") == "bi" and req.get("gap_us") is not None:
        t2 = w1 + float(req["gap_us"])
        w2 = float(req.get("width2_us") or w1)
        a2 = -float(req["amp2"]) * sign if req.get("amp2") is not None else -amp
        t += [t2, t2, t2 + w2, t2 + w2]
        y += [0.0, a2, a2, 0.0]
    return t, y


def _trace_values(tr: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, str]:
    unit = str(tr["requested"].get("unit", "mA"))
    if unit not in TRACE_UNITS:
        unit = "mA"
    key, scale = TRACE_UNITS[unit]
    return np.asarray(tr["t_us"], dtype=float), np.asarray(tr[key], dtype=float) * scale, unit


def _phase1_sign(t: np.ndarray, y: np.ndarray, width_us: float) -> float:
    """The polarity the unit delivered phase 1 with (the anode/cathode
    choice is not part of the requested amplitude)."""
    inside = (t >= 0) & (t < width_us)
    s = float(y[inside].sum()) if inside.any() else float(y.sum())
    return -1.0 if s < 0 else 1.0


def _draw_trace(ax: Axes, tr: dict[str, Any]) -> str:
    t, y, unit = _trace_values(tr)
    req = tr["requested"]
    rt, ry = requested_pulse(req, _phase1_sign(t, y, float(req["width_us"])))
    # The requested pulse on top, dashed: where the unit delivers it exactly both stay visible.
    ax.plot(t, y, color=MEASURED_COLOUR, lw=1.4, label="measured")
    ax.plot(rt, ry, color=REQUESTED_COLOUR, lw=1.0, ls="--", label="requested", zorder=3)
    ax.axhline(0, color="#999999", lw=0.5)
    ax.locator_params(nbins=4)
    label(ax, str(tr.get("cell", "")))
    return unit


@styled
def trace_figures(traces: Sequence[dict[str, Any]]) -> list[tuple[str, bytes]]:
    """Per output (in the order the traces come), one figure of its cells."""
    by_subject: dict[str, list[dict[str, Any]]] = {}
    for tr in traces:
        by_subject.setdefault(str(tr.get("subject", "?")), []).append(tr)
    out = []
    for subject, trs in by_subject.items():
        cols = min(3, len(trs))
        fig, axes = small_multiples(len(trs), cols, (3.2, 1.9))
        units = {_draw_trace(ax, tr) for ax, tr in zip(axes, trs, strict=True)}
        for i, ax in enumerate(axes):
            if i % cols == 0:
                ax.set_ylabel(" / ".join(sorted(units)), fontsize=8)
            if i >= len(axes) - cols:
                ax.set_xlabel("µs from the scheduled start", fontsize=8)
        axes[0].legend(fontsize=7, loc="upper right")
        title(fig, f"{subject}: monitor trace of one pulse per cell, against the requested pulse")
        out.append((subject, png(fig)))
    return out


# --- errors against tolerance bands -------------------------------------------------
def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return float(v)


def tolerance_fraction(check: dict[str, Any]) -> float | None:
    """How far a measured figure lies from what was requested, in units of
    its tolerance: the band's bounds map to -1 and +1, so |x| <= 1 passes.
    A one-sided band (a maximum, a minimum) maps its bound to +1 or -1 and
    is scaled by the bound's distance from the requested value (or from
    zero). None when the check has no number to place."""
    m = _number(check.get("measured"))
    lo, hi = _number(check.get("lo")), _number(check.get("hi"))
    if m is None or (lo is None and hi is None):
        return None
    r = _number(check.get("requested"))
    if lo is not None and hi is not None:
        centre = r if r is not None and lo <= r <= hi else (lo + hi) / 2
        half = (hi - centre) if m >= centre else (centre - lo)
        return (m - centre) / half if half > 0 else (0.0 if m == centre else math.copysign(math.inf, m - centre))
    if hi is not None:
        ref = r if r is not None and r < hi else 0.0
        scale = abs(hi - ref) or abs(hi) or 1.0
        return 1.0 + (m - hi) / scale
    assert lo is not None
    ref = r if r is not None and r > lo else 0.0
    scale = abs(ref - lo) or abs(lo) or 1.0
    return -1.0 + (m - lo) / scale


def _parts(name: str) -> tuple[str, str, str | None]:
    """subject, quantity, cell of a check name."""
    m = _NAME.match(name)
    if not m:
        return "", name, None
    return m["subject"], m["quantity"], m["cell"]


def _band_span(c: dict[str, Any]) -> tuple[float, float]:
    """The passing stretch of a check's row: -1..+1, open on the side a
    one-sided band leaves unbounded."""
    edge = ERROR_CLIP + 0.2
    lo = -1.0 if _number(c.get("lo")) is not None else -edge
    hi = 1.0 if _number(c.get("hi")) is not None else edge
    return lo, hi


Placed = tuple[str, str, dict[str, Any]]  # row, quantity, check


def _draw_errors(ax: Axes, items: Sequence[Placed], markers: dict[str, str]) -> None:
    rows = list(dict.fromkeys(row for row, _, _ in items))
    # Quantities sharing a row are offset so their markers stay apart.
    quantities = sorted({q for _, q, _ in items})
    step = 0.7 / max(len(quantities), 1)
    ys, xs, shown, colours, bands, qs = [], [], [], [], [], []
    for row, quantity, c in items:
        x = tolerance_fraction(c)
        assert x is not None
        y = float(rows.index(row))
        if len(quantities) > 1:
            y += (quantities.index(quantity) - (len(quantities) - 1) / 2) * step
        ys.append(y)
        xs.append(x)
        shown.append(max(-ERROR_CLIP, min(ERROR_CLIP, x)))
        colours.append(FAIL_COLOUR if c.get("outcome") == "FAIL" else PASS_COLOUR)
        bands.append(_band_span(c))
        qs.append(quantity)
    # A few artists drawn in bulk, not one per check: a report has hundreds of checks.
    h = (step if len(quantities) > 1 else 0.6) / 2
    ax.add_collection(PolyCollection(
        [[(a, y - h), (b, y - h), (b, y + h), (a, y + h)] for (a, b), y in zip(bands, ys, strict=True)],
        facecolors=BAND_COLOUR, edgecolors="none", zorder=0))
    ax.hlines(ys, 0, shown, colors=colours, lw=0.8, alpha=0.6)
    ax.axvline(0, color="#777777", lw=0.6)
    for q in quantities:
        idx = [i for i, qq in enumerate(qs) if qq == q]
        ax.scatter([shown[i] for i in idx], [ys[i] for i in idx], c=[colours[i] for i in idx],
                   marker=markers[q], s=22, zorder=3)
    for x, s, y, colour in zip(xs, shown, ys, colours, strict=True):
        if s != x:
            ax.text(s, y, f"{x:+.3g} ", fontsize=6, color=colour, va="bottom",
                    ha="right" if x > 0 else "left")
    ax.set_yticks(range(len(rows)), rows, fontsize=7)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(-ERROR_CLIP - 0.2, ERROR_CLIP + 0.2)
    ax.set_xticks([-3, -2, -1, 0, 1, 2, 3])
    ax.grid(False, axis="y")


def _panels(checks: Sequence[dict[str, Any]]) -> dict[str, list[Placed]]:
    """A group's checks by panel: per subject with a row per cell where the
    checks have cells (the output grid), else one panel with a row per subject."""
    parts = [(_parts(str(c["name"])), c) for c in checks]
    cells = any(cell is not None for (_, _, cell), _ in parts)
    panels: dict[str, list[Placed]] = {}
    for (subject, quantity, cell), c in parts:
        subject = subject or str(c.get("subject", ""))
        if cells:
            panels.setdefault(subject, []).append((cell or quantity, quantity, c))
        else:
            panels.setdefault("", []).append((subject, quantity, c))
    return panels


@styled
def error_figures(checks: Iterable[dict[str, Any]]) -> list[tuple[str, bytes]]:
    """Per group that has numbers to place, one figure of each measured
    figure's error in units of its tolerance, the passing band shaded."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for c in checks:
        if c.get("outcome") != "SKIP" and tolerance_fraction(c) is not None:
            groups.setdefault(str(c.get("group", "")), []).append(c)
    out = []
    for group, cs in groups.items():
        panels = _panels(cs)
        quantities = sorted({q for items in panels.values() for _, q, _ in items})
        markers = {q: QUANTITY_MARKERS[i % len(QUANTITY_MARKERS)] for i, q in enumerate(quantities)}
        heights = [len({row for row, _, _ in items}) for items in panels.values()]
        rows, cols = _grid(len(panels), 2)
        row_h = [max(heights[i * cols:(i + 1) * cols]) for i in range(rows)]
        inches = [0.22 * h + 0.45 for h in row_h]
        top, bottom, gap = 0.55, 0.55, 0.5  # inches: room for titles, tick labels, panel names
        height = sum(inches) + top + bottom + gap * (rows - 1)
        width = 10.4 if cols > 1 else 7.0
        fig = Figure(figsize=(width, height))
        axes = fig.subplots(rows, cols, squeeze=False, gridspec_kw={
            "height_ratios": inches, "hspace": gap * rows / sum(inches), "wspace": 0.25,
            "left": 1.0 / width, "right": 1 - 0.2 / width, "top": 1 - top / height,
            "bottom": bottom / height}).ravel()
        for ax, (name, items) in zip(axes, panels.items(), strict=False):
            _draw_errors(ax, items, markers)
            label(ax, name)
        for ax in axes[len(panels):]:
            ax.set_visible(False)
        handles = [axes[0].scatter([], [], marker=markers[q], c="#555555", s=22) for q in quantities]
        fig.legend(handles, quantities, loc="upper right", ncols=len(quantities), fontsize=7,
                   frameon=False, bbox_to_anchor=(1, 1 - 0.05 / height))
        fig.text(0.5, 0.06 / height, "error in units of the tolerance (shaded: within tolerance)",
                 ha="center", va="bottom", fontsize=8)
        title(fig, f"{group}: measured against tolerance")
        out.append((group, png(fig)))
    return out


# --- recording chain ------------------------------------------------------------------
@styled
def averages_figure(averages: Sequence[dict[str, Any]]) -> bytes | None:
    """The recording chain's averages, measured against expected, stacked one
    channel under the next as an evoked-potential display shows them (one
    panel for all: a board has up to eighteen channels)."""
    if not averages:
        return None
    peak = max(float(np.max(np.abs(np.asarray(av[k], dtype=float))))
               for av in averages for k in ("measured_uv", "expected_uv")
               if av.get(k) is not None and len(av[k]))
    step = nice(2.2 * peak)
    n = len(averages)
    fig, (ax,) = small_multiples(1, 1, (9.0, 0.5 * n + 0.6), left=0.9)
    for i, av in enumerate(averages):
        t = np.asarray(av["t_ms"], dtype=float)
        off = -i * step
        if av.get("expected_uv") is not None:
            ax.plot(t, np.asarray(av["expected_uv"], dtype=float) + off, color=REQUESTED_COLOUR,
                    lw=1.0, ls="--", label="expected" if i == 0 else None, zorder=3)
        ax.plot(t, np.asarray(av["measured_uv"], dtype=float) + off, color=MEASURED_COLOUR, lw=1.4,
                label="measured" if i == 0 else None)
    ax.set_yticks([-i * step for i in range(n)], [str(av.get("subject", "")) for av in averages],
                  fontsize=7)
    ax.set_ylim(-(n - 0.4) * step, 0.6 * step)
    ax.grid(False, axis="y")
    ax.set_xlabel("ms from the stimulus", fontsize=8)
    ax.set_ylabel(f"channels, {step:g} µV apart", fontsize=8)
    ax.legend(fontsize=7, loc="upper right")
    title(fig, "recording chain: averaged response to the calibrator, measured against expected")
    return png(fig)
