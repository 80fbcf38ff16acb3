"""CSV files of a session's tables (tables.py), one header line and one row
per measurement, empty cells for what a row has not (docs/EXPORT.md)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stimbox.export import ExportError, tables
from stimbox.export.timeline import Timeline
from stimbox.store import Session

FILES = ("measurements.csv", "mep_trials.csv", "baselines.csv", "alarms.csv", "events.csv")


def _write(path: Path, columns: Sequence[str], rows: list[dict[str, Any]]) -> Path:
    try:
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
    except OSError as e:
        raise ExportError(f"cannot write {path}: {e.strerror or e}") from None
    return path


def write_csv(session: Session, dir_or_file: str | Path) -> list[Path]:
    """A path ending in .csv: the measurements table alone, there. Else a
    folder (made if need be) with every table, FILES."""
    out = Path(dir_or_file)
    tl = Timeline(session)
    meas = tables.measurements(session, tl)
    if out.suffix.lower() == ".csv":
        return [_write(out, tables.MEASUREMENT_COLUMNS, meas)]
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ExportError(f"cannot create {out}: {e.strerror or e}") from None
    return [
        _write(out / FILES[0], tables.MEASUREMENT_COLUMNS, meas),
        _write(out / FILES[1], tables.TRIAL_COLUMNS, tables.mep_trials(session)),
        _write(out / FILES[2], tables.BASELINE_COLUMNS, tables.baselines(session, meas)),
        _write(out / FILES[3], tables.ALARM_COLUMNS, tables.alarms(session, tl)),
        _write(out / FILES[4], tables.EVENT_COLUMNS, tables.events(session, tl)),
    ]
