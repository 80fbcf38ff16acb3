"""A session's figures, named, with the caption the case report gives them,
and written out as PNG files (write_plots)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from stimbox.display.emg import emg_figure
from stimbox.display.figure import DPI
from stimbox.display.mep import mep_figure, mep_trials_figure
from stimbox.display.temg import temg_figure
from stimbox.display.timeline import timeline_figure
from stimbox.display.traces import SPLIT, traces_figure
from stimbox.display.trends import trends_figure
from stimbox.export import ExportError
from stimbox.store import Session


@dataclass
class CaseFigure:
    name: str  # the PNG file's stem
    title: str
    caption: str
    figure: Figure


def averaged_runs(session: Session) -> list[int]:
    return sorted({a.run for a in session.averages if a.split == SPLIT})


def case_figures(session: Session, runs: list[int] | None = None) -> Iterator[CaseFigure]:
    """The timeline, the trends, the TcMEP muscles, free-run EMG and the traces of runs
    (default: every run with averages), each drawn when it is asked for."""
    timeline = timeline_figure(session)
    if timeline is not None:
        yield CaseFigure("timeline", "Case timeline", "Every run by protocol over case time (the "
                         "runs that made a baseline hatched grey), free-run EMG, and the alarms the "
                         "unit raised.", timeline)
    if any(r.get("recording") for r in session.results):
        yield CaseFigure("trends", "Trends", "Amplitude and latency of every measure over the case: "
                         "each point a run, the baseline dashed, the alarm criterion dotted, alarms X.",
                         trends_figure(session))
    mep = mep_figure(session)
    if mep is not None:
        yield CaseFigure("mep_muscles", "TcMEP per muscle",
                         "Each TcMEP run's averaged response per muscle (baseline runs grey), "
                         "the trains that brought a response and their peak-to-peak.", mep)
    trials = mep_trials_figure(session)
    if trials is not None:
        yield CaseFigure("mep_trials", "TcMEP trials", "Each TcMEP train's response per muscle over "
                         "the case: a dot sized by its peak-to-peak, a red x for none.", trials)
    temg = temg_figure(session)
    if temg is not None:
        yield CaseFigure("temg_thresholds", "Triggered EMG", "Each tested screw's threshold per "
                         "muscle against the alarm limit; hatched: no response up to the search's "
                         "highest current.", temg)
    emg = emg_figure(session)
    if emg is not None:
        yield CaseFigure("emg_timeline", "Free-run EMG", "Spikes, bursts and neurotonic trains "
                         "detected per channel over the case, and cumulative train time.", emg)
    for run in averaged_runs(session) if runs is None else runs:
        yield CaseFigure(f"traces_run{run:04d}", f"Run {run}", f"Run {run}: averaged traces per "
                         "channel, the baseline in grey, measured peaks marked with latency and "
                         "amplitude.", traces_figure(session, run))


def write_plots(session: Session, outdir: str | Path) -> list[Path]:
    """Every figure as a PNG in outdir (made if need be)."""
    out = Path(outdir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ExportError(f"cannot create {out}: {e.strerror or e}") from None
    paths = []
    for f in case_figures(session):
        p = out / f"{f.name}.png"
        try:
            f.figure.savefig(p, format="png", dpi=DPI)
        except OSError as e:
            raise ExportError(f"cannot write {p}: {e.strerror or e}") from None
        paths.append(p)
    return paths
