# The zero-phase measurement (stimfw.dsp.zerophase) over sweeps from a file
# (parameters: devparams): "src" holds (sweep, channel, sample) int16, taken
# through SweepProcessor.take(). Prints as JSON lines results(), then for
# each component its first sample lo and the zero-phase A+B average and
# plus-minus average (A-B)/2 from lo on, in uV, as results() measured them.
import json

import devparams
from stimfw.dsp.zerophase import Backward
from stimfw.record import measure
from stimfw.record.averager import SweepProcessor

P = devparams.load()


class FileHal:
    def __init__(self, path, n_ch, n):
        self.f = open(path, "rb")
        self.n_ch = n_ch
        self.n = n
        self.k = 0

    def ticks_add(self, a, b):
        return a + b

    def acquire(self, t0_us, rate_hz, channels, buf):
        self.f.seek(2 * self.n * (self.k * self.n_ch + channels[0]))
        self.f.readinto(buf)


cfg = P["cfg"]
p = SweepProcessor(cfg, devparams.Amp(P["amp"]), devparams.backend(P["backend"]))
hal = FileHal(P["src"], len(cfg["channels"]), p.n)
for k in range(P["sweeps"]):
    hal.k = k
    p.take(hal, 1000000, (0,))
print(json.dumps(p.results()))
back = Backward(p.sos, p.chain, p.buf, p.n, p.uv_per_lsb)
for spec in cfg["components"]:
    ci = p.channels.index(spec["ch"])
    lo = max(measure.index(min(w[0] for w in spec["win_ms"]), p.rate_hz, p.pre), 0)
    w = back.run(ci, lo)
    print(json.dumps([lo, [w[i] for i in range(lo, p.n)]]))
    d = back.run(ci, lo, True)
    print(json.dumps([lo, [d[i] for i in range(lo, p.n)]]))
