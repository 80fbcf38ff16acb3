"""The case plots of a session folder a short simulated case wrote
(case_folder.py), checked by what they draw (artists tagged with a gid)
against what the unit reported during the case."""

from __future__ import annotations

from pathlib import Path

import pytest
from case_folder import MEP_CHANNELS, MUSCLES, Case
from matplotlib.figure import Figure
from PIL import Image
from stimbox.display import (
    emg_figure,
    mep_figure,
    mep_trials_figure,
    temg_figure,
    timeline_figure,
    traces_figure,
    trends_figure,
    write_plots,
)
from stimbox.store import Session, load_session


@pytest.fixture(scope="module")
def session(case: Case) -> Session:
    return load_session(case.path)


def artists(fig: Figure, gid: str) -> list:
    return [a for ax in fig.axes for a in [*ax.lines, *ax.texts, *ax.patches, *ax.collections]
            if a.get_gid() == gid]


def measured(case: Case, run: int) -> int:
    """Components with a latency, and muscles with an onset in any trial, in the unit's result."""
    r = next(r for r in case.runs if r.run == run)
    n = 0
    for s in r.recording["streams"]:
        n += sum(1 for c in s["components"] if c.get("lat_ms") is not None)
        if s.get("mep"):
            n += len({m["ch"] for t in r.meps for m in t["muscles"] if m["present"]})
    return n


# A baseline SSEP, its second average, the tEMG search (no baseline), TcMEP
# after the loss, the SSEP last.
@pytest.mark.parametrize("k, baseline", [(0, False), (1, False), (4, False), (5, True), (7, True)])
def test_traces_draw_every_channel_the_baseline_and_the_measured_peaks(session: Session, case: Case,
                                                                       k: int, baseline: bool) -> None:
    r = case.runs[k]
    fig = traces_figure(session, r.run)
    channels = sum(len(s["channels"]) for s in r.recording["streams"])
    assert len(artists(fig, "trace")) == channels
    # The first two SSEP runs made its baseline (the unit says so: pending,
    # then set from the first): drawn without one; a later run has it on every channel.
    assert [s["baseline_state"] for s in case.runs[1].recording["streams"]] == ["set", "set"]
    assert {s["baseline_run"] for s in case.runs[1].recording["streams"]} == {case.runs[0].run}
    assert len(artists(fig, "baseline")) == (channels if baseline else 0)
    labels = [a for a in artists(fig, "peak") if hasattr(a, "get_text")]
    assert len(labels) == measured(case, r.run)
    if k == 5:  # the legs are gone: only the arm's MEP is labelled
        assert [t.get_text().split()[0] for t in labels] == ["APB_R"]


def test_trends_mark_each_alarm_on_its_measure(session: Session, case: Case) -> None:
    fig = trends_figure(session)
    series = artists(fig, "series")
    components = {(s["stream"], c["name"]) for r in case.runs for s in r.recording["streams"]
                  for c in s["components"]}
    assert len(series) == 2 * (len(components) + len(MUSCLES))  # amplitude and latency of each
    # The TcMEP amplitude points: one per TcMEP run; the legs at 0 after the loss.
    tcmep_runs = [r for r in case.runs if r.meps]
    marks = artists(fig, "alarm")
    xs = [m for m in marks if hasattr(m, "get_marker") and m.get_marker() == "X"]
    assert len(xs) == len(case.alarms)
    assert sorted(float(m.get_ydata()[0]) for m in xs) == sorted(a["value_uv"] for a in case.alarms)
    amp = [s for s in series if len(s.get_xdata()) == len(tcmep_runs) and 0.0 in list(s.get_ydata())]
    assert len(amp) == len(case.alarms)  # the lost legs' amplitudes reach 0
    assert artists(fig, "threshold") and artists(fig, "baseline")


def test_mep_rows_per_muscle_and_run(session: Session, case: Case) -> None:
    fig = mep_figure(session)
    assert fig is not None
    tcmep_runs = [r for r in case.runs if r.meps]
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == len(MUSCLES)
    base = [r for r in tcmep_runs if r.recording["streams"][0]["baseline_state"] == "pending"]
    drawn = artists(fig, "baseline_run") + artists(fig, "run")
    assert len(drawn) == len(MUSCLES) * len(tcmep_runs)
    assert len(artists(fig, "baseline_run")) == len(MUSCLES) * (len(base) + 1)  # pending, then the one that set it
    # An onset mark per muscle and run with a response in any of its trains.
    onsets = sum(1 for r in tcmep_runs for ch in MEP_CHANNELS
                 if any(m["present"] for t in r.meps for m in t["muscles"] if m["ch"] == ch))
    assert len(artists(fig, "onset")) == onsets


def test_emg_timeline_draws_every_burst_the_unit_counted(session: Session, case: Case) -> None:
    fig = emg_figure(session)
    assert fig is not None
    bursts = artists(fig, "burst")
    counted = sum(sum(s["bursts"]) for s in case.freerun)
    assert counted > 0 and len(bursts) == counted
    assert len(artists(fig, "cumulative")) == len(MEP_CHANNELS)


def test_timeline_has_every_run_and_alarm(session: Session, case: Case) -> None:
    fig = timeline_figure(session)
    assert fig is not None
    assert len(artists(fig, "run")) == len(case.runs)
    assert len(artists(fig, "alarm")) == len(case.alarms)


def test_write_plots(session: Session, case: Case, tmp_path: Path) -> None:
    paths = write_plots(session, tmp_path / "plots")
    names = [p.stem for p in paths]
    assert names == ["timeline", "trends", "mep_muscles", "mep_trials", "temg_thresholds", "emg_timeline",
                     *[f"traces_run{r.run:04d}" for r in case.runs]]
    for p in paths:
        with Image.open(p) as im:
            assert im.format == "PNG" and im.width >= 400 and im.height >= 200


def test_mep_trial_raster_has_every_train_of_every_muscle(session: Session, case: Case) -> None:
    fig = mep_trials_figure(session)
    assert fig is not None
    pushed = [m for r in case.runs for t in r.meps for m in t["muscles"]]
    (present,) = artists(fig, "present")
    (absent,) = artists(fig, "absent")
    assert len(present.get_offsets()) == sum(1 for m in pushed if m["present"])
    assert len(absent.get_offsets()) == sum(1 for m in pushed if not m["present"])
    # After the insult no leg muscle responds in any train (the scenario's loss).
    after = [r for r in case.runs if r.meps][-2:]
    assert all(not m["present"] for r in after for t in r.meps for m in t["muscles"] if m["name"] != "APB_R")


def test_temg_bars_are_the_searchs_thresholds(session: Session, case: Case) -> None:
    (r,) = [r for r in case.runs if r.summary.get("search")]
    want = r.summary["search"]["thresholds"]
    fig = temg_figure(session)
    assert fig is not None
    bars = [b.get_height() for b in artists(fig, "threshold")]
    assert bars == [t / 1000 for t in want if t is not None]
    assert len(artists(fig, "none")) == sum(1 for t in want if t is None)
    (limit,) = artists(fig, "limit")
    assert list(limit.get_ydata()) == [8.0, 8.0]
