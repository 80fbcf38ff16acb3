"""The D-wave of a run's results: the unit's measurement on the epidural
pairs and the caudal/rostral amplitude ratio. The rostral pair, above the
operated segment, controls for the stimulus and the anaesthesia, so the
ratio is what the cord between the pairs did (ionm.md). A D-wave
protocol's record table lists the rostral pair's component first
(protocols/dwave.toml)."""

from __future__ import annotations

from typing import Any


def summary(recording: dict[str, Any] | None) -> dict[str, Any] | None:
    """{"rostral", "caudal": the components as the unit measured them,
    "ratio": caudal over rostral amplitude (None when either is absent)},
    or None for a recording without a D-wave stream of two components."""
    for st in (recording or {}).get("streams", []):
        comps = st.get("components") or []
        if st.get("stream") == "dwave" and len(comps) == 2:
            rostral, caudal = comps
            a, b = rostral.get("amp_uv"), caudal.get("amp_uv")
            ratio = round(b / a, 3) if a and b is not None else None
            return {"rostral": rostral, "caudal": caudal, "ratio": ratio}
    return None


def component_line(stream: str, c: dict[str, Any]) -> str:
    """One measured component as the CLI prints it."""
    head = f"  {stream:>9}: {c['name']} ch {c['ch']}"
    if c.get("lat_ms") is None:
        return f"{head} absent ({c.get('absent')})"
    noise = c.get("noise_uv")
    return (f"{head} latency {c['lat_ms']:.2f} ms, amplitude {c['amp_uv']:.2f} uV, "
            f"{c.get('sweeps')} sweeps" + ("" if noise is None else f", residual noise {noise:.2f} uV")
            + ("" if c.get("reliable") is not False else " (not reliable)"))


def alarm_line(ev: dict[str, Any]) -> str:
    """One alarm event as the CLI prints it: an average's amplitude or
    latency, an MEP's loss, a step in volts, a tEMG threshold."""
    what = "cleared" if ev.get("cleared") else "ALARM"
    values = ""
    for key, unit in (("uv", "uV"), ("ms", "ms"), ("v", "V")):
        if f"baseline_{key}" in ev:
            values = f": {_num(ev[f'baseline_{key}'])} -> {_num(ev.get(f'value_{key}'))} {unit}"
            break
    if isinstance(ev.get("change_pct"), int | float) and isinstance(ev.get("limit_pct"), int | float):
        values += f" ({ev['change_pct']:+.0f}%, limit {ev['limit_pct']:+.0f}%)"
    if ev.get("loss_uv") is not None:
        values += f", lost below {_num(ev['loss_uv'])} uV"
    if "threshold_ma" in ev:
        values += f": threshold {_num(ev['threshold_ma'])} mA" + (f" (root {ev['root']})" if ev.get("root") else "")
    return f"  {what} {ev.get('alarm')} {ev.get('name')} ch {ev.get('ch')}{values}"


def _num(x: Any) -> str:
    return f"{x:.2f}" if isinstance(x, int | float) else "absent" if x is None else str(x)


def recording_lines(recording: dict[str, Any] | None) -> list[str]:
    """Per recorded stream its components and alarms; for a D-wave, the
    caudal/rostral ratio."""
    out = []
    for st in (recording or {}).get("streams", []):
        for c in st.get("components") or []:
            out.append(component_line(str(st.get("stream")), c))
        for ev in st.get("events") or []:
            out.append(alarm_line(ev))
    d = summary(recording)
    if d is not None and d["ratio"] is not None:
        out.append(f"  D-wave caudal/rostral amplitude ratio {d['ratio']:.2f}")
    return out
