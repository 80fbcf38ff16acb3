"""The scripting API: one call per everyday job on a connected unit, typed
results with numpy arrays whose names carry their units (docs/API.md).

    with StimBox.connect(port) as box:
        run = box.pulses(out="P1", amp_ua=5000, width_us=200, count=10)
        print(run.charge_nc.mean())

The same calls as functions of a box: stimbox.api.pulses(box, ...)."""

from stimbox.api.builders import ProtocolChoiceError
from stimbox.api.helpers import mep, pulses, ssep, threshold
from stimbox.api.results import (
    Alarm,
    Average,
    Component,
    MepResult,
    PulseRun,
    SsepResult,
    ThresholdResult,
)

__all__ = ["Alarm", "Average", "Component", "MepResult", "ProtocolChoiceError", "PulseRun",
           "SsepResult", "ThresholdResult", "mep", "pulses", "ssep", "threshold"]
