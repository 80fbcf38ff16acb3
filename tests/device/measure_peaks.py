# Peak finding of stimfw.record.measure on small hand-made waveforms; prints
# one JSON line per case for tests/test_measure_peaks.py.
import json
import math
import sys

sys.path.insert(0, sys.argv[1])
from stimfw.record import measure  # noqa: E402

RATE = 1000  # 1 sample per ms, no pre-trigger part: index = latency in ms
PAIR = {"name": "P37/N45", "ch": 2, "win_ms": [[30, 40], [40, 50]]}


def gauss(i, mu, sd):
    return math.exp(-0.5 * ((i - mu) / sd) ** 2)


cases = {
    # rising all through the window, the true peak just after it: absent
    "rising": ([float(i) for i in range(60)], PAIR),
    # an interior P37 at 36 ms (25 uV), a larger value (40 uV) at the
    # window's start, N45 at 45 ms
    "edge_higher": ([70.0 - i if i <= 30 else (25.0 - 3 * abs(i - 36) if i <= 40 else abs(i - 45) - 5.0)
                     for i in range(60)], PAIR),
    # a clean P37 at 37 ms, N45 at 45 ms
    "clean": ([(-abs(i - 37) + 10.0 if i < 41 else abs(i - 45) - 4.0) for i in range(60)], PAIR),
    # peaks between samples: P37 at 36.4 ms, N45 at 45.7 ms
    "between": ([10.0 * gauss(i, 36.4, 2.0) - 8.0 * gauss(i, 45.7, 2.5) for i in range(60)], PAIR),
    # a local maximum in the P37 window that lies below the N45 minimum
    "inverted": ([-10.0 - abs(i - 36) if i < 41 else 5.0 + abs(i - 45) for i in range(60)], PAIR),
    # both peaks in one window, the N before the P
    "order": ([8.0 * gauss(i, 45.0, 2.0) - 8.0 * gauss(i, 35.0, 2.0) for i in range(60)],
              {"name": "P37/N45", "ch": 2, "win_ms": [[30, 50], [30, 50]]}),
    # single peaks against the baseline (the first 10 samples before the
    # trigger, here at 0 uV): an N13 below it, and one only above it
    "single": ([0.0] * 10 + [-5.0 * gauss(i, 13.0, 1.5) for i in range(50)],
               {"name": "N13", "ch": 3, "win_ms": [[8, 18]]}),
    "single_wrong_side": ([0.0] * 10 + [5.0 - 2.0 * gauss(i, 13.0, 1.5) for i in range(50)],
                          {"name": "N13", "ch": 3, "win_ms": [[8, 18]]}),
}
for name, (w, spec) in cases.items():
    pre = 10 if name.startswith("single") else 0
    print(json.dumps([name, measure.component(w, RATE, pre, spec)]))
