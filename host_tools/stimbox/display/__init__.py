"""Figures of the host's data, drawn with matplotlib's Agg backend: the
shared style and page parts (figure.py, html.py) and one module per kind of
case plot (timeline, traces, trends, mep, temg, emg; plots.py names them and writes PNGs).
Each plot is fn(session, ...) -> matplotlib Figure."""

from stimbox.display.emg import emg_figure
from stimbox.display.mep import mep_figure, mep_trials_figure
from stimbox.display.plots import CaseFigure, case_figures, write_plots
from stimbox.display.temg import temg_figure
from stimbox.display.timeline import timeline_figure
from stimbox.display.traces import traces_figure
from stimbox.display.trends import trends_figure

__all__ = ["CaseFigure", "case_figures", "emg_figure", "mep_figure", "mep_trials_figure", "temg_figure", "timeline_figure", "traces_figure", "trends_figure",
           "write_plots"]
