# Device side of tests/test_dsp_modules.py: impedance pass/fail limits per
# electrode and per pair; prints the check's result as JSON.
import json

from counter_hal import CounterHal
from stimfw.amp import impedance

print(json.dumps(impedance.check(CounterHal(), ["a", "b", "c", "ref"],
                                 pairs=[("a", "ref"), ("b", "ref")])))
