"""What every figure the host draws shares (the validation report's and the
case's): matplotlib's Agg backend through matplotlib.figure.Figure (never
pyplot, so rendering keeps no global state and needs no display), one
compact style, PNG bytes, small multiples laid out by hand."""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Callable
from typing import Any, TypeVar, cast

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure

DPI = 100
PASS_COLOUR = "#1a7f37"
FAIL_COLOUR = "#c62828"
MEASURED_COLOUR = "#1f4e9c"
REQUESTED_COLOUR = "#e08a00"
BASELINE_COLOUR = "#9a9a9a"
BAND_COLOUR = "#d8ecd9"

F = TypeVar("F", bound=Callable[..., Any])


def styled(fn: F) -> F:
    """Draw inside the shared style."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        # Set once for every panel: per-panel tick and grid calls cost more than drawing the data.
        with matplotlib.rc_context({
            "xtick.labelsize": 7, "ytick.labelsize": 7, "axes.labelsize": 8,
            "axes.grid": True, "grid.linewidth": 0.3, "grid.alpha": 0.5, "axes.xmargin": 0.03,
        }):
            return fn(*args, **kwargs)

    return cast(F, wrapper)


def png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def nice(x: float) -> float:
    """The 1, 2 or 5 times a power of ten at or above x."""
    if x <= 0 or not math.isfinite(x):
        return 1.0
    e = 10 ** math.floor(math.log10(x))
    return next(m * e for m in (1, 2, 5, 10) if m * e >= x)


def small_multiples(n: int, cols: int, panel: tuple[float, float], top: float = 0.5,
                    bottom: float = 0.45, left: float = 0.6, right: float = 0.2,
                    sharex: bool = False, wspace: float = 0.25) -> tuple[Figure, list[Axes]]:
    """A figure of n panels laid out by hand: a constrained layout costs
    more than drawing the panels."""
    rows = math.ceil(n / cols)
    w, h = panel[0] * cols + left + right, panel[1] * rows + top + bottom
    fig = Figure(figsize=(w, h))
    axes = fig.subplots(rows, cols, squeeze=False, sharex=sharex, gridspec_kw={
        "left": left / w, "right": 1 - right / w, "top": 1 - top / h, "bottom": bottom / h,
        "wspace": wspace, "hspace": 0.4}).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, list(axes[:n])


def label(ax: Axes, text: str) -> None:
    """A panel's name above its top left corner, placed by hand: a title
    costs a layout pass per panel."""
    if text:
        ax.text(0.0, 1.02, text, transform=ax.transAxes, fontsize=8, fontweight="bold",
                va="bottom", ha="left")


def title(fig: Figure, text: str) -> None:
    fig.suptitle(text, fontsize=10, x=0.01, ha="left", y=0.995, va="top")
