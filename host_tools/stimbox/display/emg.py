"""Free-run EMG over the case: per channel a row of what the unit detected
(spikes as ticks, bursts as short bars, neurotonic trains as long red bars)
at case time, and below it each channel's cumulative train time. Artists
carry a gid ("spike", "burst", "train", "cumulative")."""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from stimbox.display.figure import FAIL_COLOUR, MEASURED_COLOUR, REQUESTED_COLOUR, styled, title
from stimbox.store import Session

KIND_COLOURS = {"spike": MEASURED_COLOUR, "burst": REQUESTED_COLOUR, "train": FAIL_COLOUR}


def detections(session: Session) -> list[dict[str, Any]]:
    """Every detection with its case time (t_s): a push is stored at the
    case time it arrived, its detections are that far back on the unit's
    free-run clock as their t_ms lies behind the push's."""
    out = []
    for line in session.emg:
        if not isinstance(line.get("t_s"), int | float):
            continue
        for ev in line.get("events") or []:
            back = (float(line.get("t_ms", 0.0)) - float(ev.get("t_ms", 0.0))) / 1000
            out.append(dict(ev, t_s=float(line["t_s"]) - back))
    return out


@styled
def emg_figure(session: Session) -> Figure | None:
    dets = detections(session)
    chans = sorted({int(c) for line in session.emg for c in line.get("channels") or []})
    if not chans:
        return None
    fig = Figure(figsize=(10.0, 0.32 * len(chans) + 2.6))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={
        "height_ratios": [0.32 * len(chans) + 0.3, 1.4], "hspace": 0.15, "left": 0.08, "right": 0.98,
        "top": 1 - 0.45 / fig.get_figheight(), "bottom": 0.4 / fig.get_figheight()})
    for kind, colour in KIND_COLOURS.items():
        ds = [d for d in dets if d.get("kind") == kind and int(d["ch"]) in chans]
        if not ds:
            continue
        ys = [chans.index(int(d["ch"])) for d in ds]
        if kind == "spike":
            top.plot([d["t_s"] for d in ds], ys, ls="none", marker="|", ms=7, color=colour, gid=kind,
                     label=f"{kind} ({len(ds)})")
        else:
            top.barh(ys, [max(float(d.get("dur_ms", 0.0)) / 1000, 0.02) for d in ds],
                     left=[d["t_s"] for d in ds], height=0.6 if kind == "train" else 0.35,
                     color=colour, gid=kind, label=f"{kind} ({len(ds)})")
    top.set_yticks(range(len(chans)), [f"ch{c}" for c in chans])
    top.set_ylim(len(chans) - 0.5, -0.5)
    top.grid(False, axis="y")
    if dets:
        top.legend(fontsize=7, loc="upper right", ncols=3)
    for c in chans:
        trains = sorted((d["t_s"], float(d.get("dur_ms", 0.0)) / 1000) for d in dets
                        if d.get("kind") == "train" and int(d["ch"]) == c)
        t, total = [0.0], [0.0]
        for start, dur in trains:
            t += [start, start + dur]
            total += [total[-1], total[-1] + dur]
        end = max((float(x["t_s"]) for x in session.emg if isinstance(x.get("t_s"), int | float)), default=0.0)
        t.append(max(end, t[-1]))
        total.append(total[-1])
        bottom.plot(t, total, lw=1.0, gid="cumulative", label=f"ch{c}")
    bottom.set_ylabel("train time, s")
    bottom.set_xlabel("case time, s")
    bottom.legend(fontsize=6.5, loc="upper left", ncols=min(len(chans), 8))
    title(fig, "Free-run EMG: detections per channel, and each channel's cumulative train time")
    return fig
