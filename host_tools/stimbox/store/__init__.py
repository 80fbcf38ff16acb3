"""Session folders: everything a case produced, written as it arrives and
read back by export, plots, the report and the demo (docs/SESSIONS.md)."""

from stimbox.store.folder import SessionFolder, StoreError
from stimbox.store.pull import PullReport, pull_session
from stimbox.store.reader import AverageRef, Session, load_session
from stimbox.store.recorder import Recorder

__all__ = ["SessionFolder", "StoreError", "AverageRef", "Session", "load_session", "Recorder",
           "PullReport", "pull_session"]
