"""The demo's last words: what the case found, whether it is what the
scenario holds, and where the files are."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stimbox.demo.steps import Demo, alarm_text, chname


@dataclass
class Outcome:
    out: Path
    session: Path
    build: str = ""
    demo: Demo | None = None
    freerun: dict[str, Any] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    failed: str = ""
    interrupted: bool = False
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed and self.demo is not None

    @property
    def exit_code(self) -> int:
        """0; 1 when a step did not come out as it must; 130 after Ctrl-C
        (the command line's codes, docs/CLI.md)."""
        return 130 if self.interrupted else 0 if self.ok else 1

    def as_dict(self) -> dict[str, Any]:
        """What `stimbox demo --json` prints."""
        d = self.demo
        return {
            "ok": self.ok, "failed": self.failed or None, "out": str(self.out),
            "session": str(self.session), "files": [str(f) for f in self.files],
            "build": self.build, "wall_s": round(self.wall_s, 1),
            "runs": d.runs if d else [], "screw_thresholds_ma": d.screws if d else {},
            "screws_flagged": d.flagged if d else [], "scs_laterality": d.laterality if d else None,
            "alarms": d.alarms if d else [],
            "freerun": {k: v for k, v in self.freerun.items() if k not in ("events", "sos")},
        }


def _size(p: Path) -> str:
    n = sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) if p.is_dir() else p.stat().st_size
    return f"{n / 1024:.0f} KB" if n >= 1024 else f"{n} B"


def summary_lines(o: Outcome) -> list[str]:
    lines = ["", "== summary"]
    d = o.demo
    if d is not None:
        lines.append(f"firmware build {o.build[:16]} deployed and verified")
        if d.runs:
            lines.append(f"{len(d.runs)} runs over {d.runs[-1]['end_case_s'] / 60:.1f} min of the simulated "
                         f"unit's clock, which runs fast (the unit's journal and the files keep real time)")
        found = sorted((t, s) for s, t in d.screws.items() if t is not None)
        if found:
            lines.append(f"pedicle screws: lowest threshold {found[0][1]} {found[0][0]:.1f} mA; flagged "
                         f"{', '.join(d.flagged) or 'none'}")
        if d.laterality:
            lines.append(f"SCS lead: {d.laterality}")
        if d.alarms:
            first: dict[str, dict[str, Any]] = {}
            for a in d.alarms:
                first.setdefault(str(a.get("modality")), a)
            lines.append(f"alarms ({len(d.alarms)}), the first of each modality:")
            lines += [f"  case {a['case_s'] / 60:4.1f} min  {alarm_text(a)}" for a in first.values()]
        fr = o.freerun
        if fr:
            per = ", ".join(f"{chname(c)} {fr['spikes'][i]} spikes / {fr['bursts'][i]} bursts / "
                            f"{fr['trains'][i]} trains" for i, c in enumerate(fr.get("channels", [])))
            lines.append(f"free-run EMG: {fr.get('covered_s', 0):.0f} s of the case covered; {per}; "
                         f"cumulative train time {fr.get('train_ms_total', 0) / 1000:.1f} s")
    if o.interrupted:
        lines.append("INTERRUPTED (Ctrl-C): stimulation stopped; the files hold what the case gathered")
    elif o.failed:
        lines.append(f"FAILED: {o.failed}")
    lines.append(f"wall time {o.wall_s:.0f} s")
    lines.append(f"files in {o.out}/:")
    for name, what in (("session", "session folder (stimbox.store; docs/SESSIONS.md)"),
                       ("report.html", "case report: open it in a browser"),
                       ("case.edf", "EDF+ (averages, stimulus and alarm annotations)"),
                       ("csv", "measurements per run, component and muscle"),
                       ("plots", "PNG plots")):
        p = o.out / name
        if p.exists():
            lines.append(f"  {str(p):<32} {what} ({_size(p)})")
    return lines
