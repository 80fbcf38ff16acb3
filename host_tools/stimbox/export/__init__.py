"""A session folder's data in other forms: EDF+ (edf.py) for EEG/IONM
viewers, CSV (csv.py) for spreadsheets, and the case's timeline and
measurement tables (timeline.py, tables.py) that the plots and the case
report are drawn from (docs/EXPORT.md)."""

from stimbox.errors import StimBoxError


class ExportError(StimBoxError):
    """A session that cannot be exported as asked (nothing to export, a
    file that cannot be written)."""


__all__ = ["ExportError"]
