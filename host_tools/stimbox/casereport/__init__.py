"""The case report: one self-contained HTML file of a session folder."""

from stimbox.casereport.report import render, write_report

__all__ = ["render", "write_report"]
