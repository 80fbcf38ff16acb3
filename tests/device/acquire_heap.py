# Device side of tests/test_dsp_modules.py: after one sweep, 20 sweeps of
# trigger-locked acquisition and processing (filter: data, an SOS table) and
# 20 free-run blocks run as tests/device/hotpath.py proves a hot path. Prints sweeps judged, blocks taken
# and channel sweeps accepted.
from array import array

import devargs
import hotpath
from counter_hal import CounterHal
from stimfw.record.acquisition import Stream
from stimfw.record.averager import SweepProcessor

hal = CounterHal()
p = SweepProcessor({"rate_hz": 5000, "pre_ms": 10, "post_ms": 90, "channels": [0, 1, 2, 3],
                    "sos": devargs.data(), "blank_us": [100, 1500]})
stream = Stream(hal, (0, 1), 10000, 100, array("h", bytearray(400)), 0)


state = [0]


def once():
    p.take(hal, 1000000 + state[0] * 200000, (0,))
    stream.take()
    state[0] += 1


once()
name, most = hotpath.run(once, 20)
print(p.rej.total, stream.count, sum(p.progress()["accepted"]), name, most)
