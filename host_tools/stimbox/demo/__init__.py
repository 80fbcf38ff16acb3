"""`stimbox demo` / `make demo`: a whole case on a simulated unit, from an
empty flash to the case report (stimbox.demo.case). The demo's opening
session alone (deploy, info, plan, one SSEP run) is stimbox.demo.quick."""

from stimbox.demo.case import run_demo

__all__ = ["run_demo"]
