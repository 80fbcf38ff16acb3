"""Session folders: everything a case produced, written as it arrives and
read back by export, plots, the report and the demo (docs/SESSIONS.md)."""

from stimbox.store.folder import SessionFolder, StoreError
from stimbox.store.reader import AverageRef, Session, load_session

__all__ = ["SessionFolder", "StoreError", "AverageRef", "Session", "load_session"]
