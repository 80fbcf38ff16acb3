# Device side of tests/test_heap_storage_mp.py: a run's results kept as JSON
# text in the recorder's buffer reserved at boot, and a result longer than
# that in a block of its own; and the refusal of a protocol with more
# measurements than the baseline table keeps. Prints JSON: what results()
# gave back for each, whether the reserved buffer held it, and the refusal.
import json

import board
from stimfw.core.errors import LimitRefused
from stimfw.record import recording
from stimfw.record.recording import Recorder
from stimfw.stim import protocol

rec = Recorder(None, board, lambda t, d: None, None)
out = {}
small = {"run": 7, "streams": [{"snr": [1.5, None], "stream": "l_median"}], "complete": True}
big = {"run": 8, "streams": [{"pad": "x" * recording.RESULTS_BYTES}]}
for name, res in (("small", small), ("big", big), ("again", small)):
    rec.run = res["run"]
    rec._keep(res)
    out[name] = {"back": rec.results(res["run"]), "other": rec.results(res["run"] + 1),
                 "reserved": rec._results is rec.results_buf,
                 "buf": len(rec.results_buf)}

comps = [{"name": "C%d" % i, "ch": 1, "win_ms": [[15, 25], [20, 35]]}
         for i in range(recording.BASELINE_MEASURES + 1)]
wire = {"type": "ssep", "count": 10, "rate_hz": 4.7, "sites": [
    {"site": "l_median", "out": "P1", "amp_ua": 25000, "width_us": 200,
     "record": {"channels": [1, 3], "rate_hz": 5000, "pre_ms": 10, "post_ms": 60,
                "band": [30, 1000], "components": comps}}]}
try:
    rec.check(protocol.normalise(wire, board))
    out["refused"] = None
except LimitRefused as e:
    out["refused"] = e.detail
wire["sites"][0]["record"]["components"] = comps[:-1]
rec.check(protocol.normalise(wire, board))  # at the bound: taken
out["max"] = recording.BASELINE_MEASURES
print(json.dumps(out))
