# Closed-loop stimulation: a threshold search (triggered EMG, direct nerve),
# the SCS lead walk, one pulse per step, or TcMEP threshold tracking, one
# train per step (the walk over a single "pair": each recorded muscle's
# threshold is the first step at which its MEP is present). Each step's
# amplitude depends on
# the response the recording measured for the step before, so the sequencer
# asks respond() for it before it fills the next timeline.
#
# Same interface as compiler.Segmenter: fill(tl) -> start (us from the run's
# start) or None when done, and .first (the run index of the segment's first
# pulse). Every amplitude tried lies between the search's start and stop; the
# limits checked stop, the highest, at validation, and each step's pulse is
# checked against them again before it is put on the timeline: a step the
# limits refuse ends the search, and the result says which limit.
from stimfw.core import errors as err
from stimfw.stim import limits
from stimfw.stim.compiler import add_pulse
from stimfw.stim.protocol import with_amp
from stimfw.stim.search import ThresholdSearch, Walk, max_steps


class Steps:
    CLOSED_LOOP = True
    def __init__(self, spec, bd):
        sr = spec["search"]
        self.spec = spec
        self.bd = bd
        self.streams = spec["streams"]
        self.res = bd.OUTPUTS[self.streams[0]["out"]]["res"]
        self.muscles = spec.get("muscles") or []
        self.n = self.streams[0]["n"]  # pulses per step
        if sr["mode"] == "track":
            rec = self.streams[0]["record"]
            names = (rec.get("mep") or {}).get("muscles")
            self.muscles = names or ["ch%d" % c for c in rec["channels"]]
        if spec["type"] == "scs" or sr["mode"] == "track":
            self.walk = Walk(len(self.streams), self.muscles, sr["start"], sr["stop"],
                             sr["step"], sr["level_uv"])
            self.search = None
            self.detector = None
        else:
            from stimfw.stim.detect import Detector

            self.walk = None
            n = len(self.streams[0]["record"]["channels"])
            self.search = ThresholdSearch(sr["start"], sr["stop"], sr["step"], sr["res"], n,
                                          sr["mode"], self.res, sr["votes"])
            self.detector = Detector(n, sr["level_uv"], sr["noise_k"])
        self.refused = None  # the detail of a step the limits refused
        self.cap = self.max_steps()
        self.first = 0
        self.fired = 0
        self.t = 0  # start of the next step, us from the run's start
        self.stream = 0
        self.waiting = False  # a step went out and its response is not in yet

    def max_steps(self):
        sr = self.spec["search"]
        per = (sr["stop"] - sr["start"]) // sr["step"] + 1
        if self.walk is not None:
            return per * len(self.streams) * self.n
        return max_steps(sr["start"], sr["stop"], sr["step"], sr["res"], self.search.n, sr["mode"],
                         sr["votes"])

    def needs_response(self):
        return self.waiting

    def respond(self, responses_uv, noise_uv=None):
        """The last step's response, and its pre-stimulus noise, per
        recorded channel, in uV."""
        self.waiting = False
        if self.walk is not None:
            self.walk.feed(responses_uv)
        else:
            self.search.feed(self.detector.feed(responses_uv, noise_uv))

    def fill(self, tl):
        tl.clear()
        if self.walk is not None:
            nxt = self.walk.next()
            if nxt is None:
                return None
            i, amp = nxt
        else:
            amp = self.search.next_amp()
            # Never more pulses than the run declared (max_steps bounds
            # the search; this holds it to that whatever the responses).
            if amp is None or self.fired >= self.cap:
                return None
            i = 0
        s = with_amp(self.streams[i], amp, self.res)
        try:
            limits.check_stream(self.bd, s)
        except err.LimitRefused as e:
            if not self.fired:
                raise  # START is refused, naming the limit
            self.refused = e.detail
            return None
        for k in range(self.n):
            add_pulse(tl, k * s["isi"], s)
            tl.tag(k, i, k)
        self.stream = i
        self.first = self.fired
        self.fired += self.n
        self.waiting = True
        start = self.t
        self.t += s["period"]
        return start

    def result(self):
        if self.spec["search"]["mode"] == "track":
            r = self.walk.result([self.streams[0]["label"]])["pairs"][0]
            return {"mode": "track", "muscles": self.muscles, "threshold": r["thresholds"],
                    "steps": r["steps"], "stop": self.spec["search"]["stop"]}
        if self.walk is not None:
            return self.walk.result([s["label"] for s in self.streams])
        r = self.search.result()
        r["levels_uv"] = self.detector.levels()
        r["roots"] = self.spec.get("roots") or []
        r["alarm_ua"] = self.spec["search"]["alarm"]
        if self.refused is not None:
            r["refused"] = self.refused
        return r
