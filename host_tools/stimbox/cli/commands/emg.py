"""stimbox emg: free-run EMG detections as they come, then the summary."""

from __future__ import annotations

import argparse
import time
from typing import Any

from stimbox.cli import interrupt, output
from stimbox.cli.exitcodes import Interrupted

NAME = "emg"


def add(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="free-run EMG: stream, print detections, then the summary",
                       description="Stream free-run EMG on the unit for --seconds of its clock; "
                       "prints spikes, bursts and neurotonic trains as they are detected, then "
                       "counts and cumulative train time per channel. Ctrl-C stops the stream "
                       "early and still prints the summary.")
    p.add_argument("--seconds", type=float, default=10.0, help="how long to stream (default 10)")
    p.add_argument("--channels", type=int, nargs="+", default=list(range(8, 16)),
                   help="amplifier channels (default 8..15, the muscles)")
    p.add_argument("--rate", type=int, default=10000, help="sample rate, Hz (5000, 10000, 20000)")
    p.add_argument("--block-ms", type=float, default=10, help="block length, ms (default 10)")
    p.add_argument("--band", type=float, nargs=2, metavar=("LOW", "HIGH"), help="band-pass, Hz")
    p.add_argument("--thr-uv", type=float, default=50, help="detection threshold, uV (default 50)")
    p.set_defaults(func=run)
    return p


def _emg_line(e: dict[str, Any]) -> str:
    return (f"{e['t_ms'] / 1000:9.3f} s  ch {e['ch']:>2}  {e['kind']:<5}  {e['dur_ms']:8.1f} ms  "
            f"{e['spikes']:>5} spikes  peak {e['peak_uv']:7.1f} uV")


def run(args: argparse.Namespace) -> int:
    from stimbox.client import Push, StimBox

    done: list[dict[str, Any]] = []
    detections: list[dict[str, Any]] = []

    def show(events: list[dict[str, Any]]) -> None:
        detections.extend(events)
        if not args.json:
            for e in events:
                print(_emg_line(e), flush=True)

    def on_push(p: Push) -> None:
        if p.name != "emg":
            return
        show(p.data["events"])
        if p.data.get("done"):
            done.append(p.data)

    opts: dict[str, Any] = {"thr_uv": args.thr_uv, "duration_ms": int(args.seconds * 1000)}
    if args.band:
        opts["band"] = args.band
    interrupted = False
    with StimBox.connect(args.port) as box, interrupt.first_only():
        box.on_push = on_push
        box.freerun_start(args.channels, args.rate, args.block_ms, **opts)
        try:
            # The unit streams duration_ms of its own clock, then pushes the summary.
            give_up = time.monotonic() + args.seconds + 30
            while not done and time.monotonic() < give_up:
                box.poll(0.2)
        except KeyboardInterrupt:
            interrupted = True
        if not done:
            box.on_push = None
            last = box.freerun_stop()
            show(last["events"])
            done.append(last)
    s = done[0]
    if args.json:
        output.emit_json({"detections": detections, "summary": {k: v for k, v in s.items() if k != "events"},
                          "interrupted": interrupted})
    else:
        print(f"{s['t_ms'] / 1000:.3f} s of free-run EMG, {s['blocks']} blocks, "
              f"{s['dropped']} detections dropped")
        for i, ch in enumerate(s["channels"]):
            print(f"  ch {ch:>2}: {s['spikes'][i]} spikes, {s['bursts'][i]} bursts, {s['trains'][i]} trains, "
                  f"train time {s['train_ms'][i] / 1000:.3f} s")
        print(f"  cumulative train time {s['train_ms_total'] / 1000:.3f} s")
    if interrupted:
        raise Interrupted(f"interrupted: free-run EMG stopped after {s['t_ms'] / 1000:.1f} s of its clock")
    return 0
