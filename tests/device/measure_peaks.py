# Peak finding of stimfw.record.measure on small hand-made waveforms; prints
# one JSON line per case for tests/test_measure_peaks.py.
import json
import sys

sys.path.insert(0, sys.argv[1])
from stimfw.record import measure  # noqa: E402

RATE = 1000  # 1 sample per ms, no pre-trigger part: index = latency in ms
cases = {
    # rising all through the window, the true peak just after it: absent
    "rising": [float(i) for i in range(60)],
    # an interior P37 at 36 ms (25 uV), a larger value (40 uV) at the
    # window's start, N45 at 45 ms
    "edge_higher": [70.0 - i if i <= 30 else (25.0 - 3 * abs(i - 36) if i <= 40 else abs(i - 45) - 5.0)
                    for i in range(60)],
    # a clean P37 at 37 ms, N45 at 45 ms
    "clean": [(-abs(i - 37) + 10.0 if i < 41 else abs(i - 45) - 4.0) for i in range(60)],
}
spec = {"name": "P37/N45", "ch": 2, "win_ms": [[30, 40], [40, 50]]}
for name, w in cases.items():
    print(json.dumps([name, measure.component(w, RATE, 0, spec)]))
