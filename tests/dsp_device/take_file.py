# SweepProcessor.take() end to end over sweeps from a file (parameters:
# devparams): "src" holds (sweep, channel, sample) int16. Prints as JSON
# lines the sweeps whose take() made progress due, the response amplitudes
# of every sweep, results(), then the A and B waves of every channel.
import json

import devparams
from stimfw.record.averager import SweepProcessor

P = devparams.load()


class FileHal:
    """acquire() serves sweep k's channel from the file, and checks that
    take() asks for one channel at a time from the trigger less pre."""

    def __init__(self, path, n_ch, n, pre_us, t0, period):
        self.f = open(path, "rb")
        self.n_ch = n_ch
        self.n = n
        self.pre_us = pre_us
        self.t0 = t0
        self.period = period

    def ticks_add(self, a, b):
        return a + b

    def acquire(self, t0_us, rate_hz, channels, buf):
        k, r = divmod(t0_us + self.pre_us - self.t0, self.period)
        assert r == 0 and len(channels) == 1 and len(buf) == self.n
        self.f.seek(2 * self.n * (k * self.n_ch + channels[0]))
        self.f.readinto(buf)


cfg = P["cfg"]
n_ch = len(cfg["channels"])
p = SweepProcessor(cfg, devparams.Amp(P["amp"]), devparams.backend(P["backend"]))
hal = FileHal(P["src"], n_ch, p.n, p.pre_us, P["t0"], P["period"])
due = []
pp = []
for k in range(P["sweeps"]):
    p.take(hal, P["t0"] + k * P["period"], (0,))
    pp.append([p.response_pp_uv(c) for c in range(n_ch)])
    if p.progress_due():
        due.append(k)
print(json.dumps(due))
print(json.dumps(pp))
print(json.dumps(p.results()))
for s in (0, 1):
    for c in range(n_ch):
        print(json.dumps(list(p.wave(s, c))))
