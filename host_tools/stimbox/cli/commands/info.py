"""stimbox info: what the unit runs."""

from __future__ import annotations

import argparse

from stimbox.cli import output

NAME = "info"


def add(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="show what the unit runs", description="Show firmware, board, "
                       "protocol version, limits profile, MicroPython runtime, DSP backend, uptime "
                       "and link error counters.")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from stimbox.client import StimBox

    with StimBox.connect(args.port) as box:
        info = box.info()
    if args.json:
        output.emit_json(info)
        return 0
    link = info.get("link", {})
    errors = {k: v for k, v in link.items() if k != "frames_ok" and v}
    rows = [
        ("port", info["port"]),
        ("board", info["board"]),
        ("firmware", info["fw"]),
        ("build", f"{info['build']} ({'intact' if info['build_ok'] else 'FILES CHANGED'})"),
        ("protocol", info["protocol"]),
        ("limits", info.get("limits")),
        ("runtime", output.runtime_text(info["runtime"]) if "runtime" in info else "?"),
        ("dsp", info.get("dsp_backend", "?")
         + (f" ({info['dsp_backend_reason']})" if info.get("dsp_backend_reason") else "")),
        ("uptime", f"{info['uptime_ms'] / 1000:.1f} s"),
        ("heap", f"{info['heap_used']} used, {info['heap_free']} free"),
        ("link", f"{link.get('frames_ok', 0)} frames ok; errors: {errors or 'none'}"),
    ]
    for k, v in rows:
        print(f"{k:>9}  {v}")
    return 0
