# Threshold searches for triggered EMG / direct nerve stimulation and SCS lead
# testing. The logic only decides which amplitude to try next; what a sweep
# evoked comes from a detector (the acquisition/DSP chain: a function of the
# amplitude tried, returning the response amplitude in uV, or one per muscle
# for the SCS walk). Amplitudes are in the output's unit (uA).


def _quantise(a, res):
    return (a + res // 2) // res * res


class ThresholdSearch:
    """mode "step": start, start+step, ... up to stop; the first amplitude
    whose response reaches level_uv is the threshold.
    mode "bisect": try stop, then start, then halve the bracket between the
    highest amplitude without a response and the lowest with one until it is
    no wider than res; the threshold is the bracket's top."""

    def __init__(self, start, stop, step, res, level_uv, mode="step"):
        self.start = start
        self.stop = stop
        self.step = step
        self.res = res
        self.level = level_uv
        self.mode = mode
        self.trace = []  # (amplitude, response uV) in the order tried
        self.threshold = None
        self.done = False
        self.lo = None  # highest amplitude without a response
        self.hi = None  # lowest amplitude with one
        self._next = stop if mode == "bisect" else start

    def next_amp(self):
        return None if self.done else self._next

    def feed(self, response_uv):
        a = self._next
        self.trace.append((a, response_uv))
        hit = response_uv >= self.level
        if self.mode == "step":
            if hit:
                self.threshold = a
                self.done = True
            elif a >= self.stop:
                self.done = True
            else:
                self._next = min(a + self.step, self.stop)
            return
        if hit:
            self.hi = a
        else:
            self.lo = a
        if self.hi is None:  # nothing at stop: no threshold in range
            self.done = True
        elif self.lo is None:
            if a == self.start:  # responds already at start
                self.threshold = a
                self.done = True
            else:
                self._next = self.start
        elif self.hi - self.lo <= self.res:
            self.threshold = self.hi
            self.done = True
        else:
            mid = _quantise((self.lo + self.hi) // 2, self.res)
            if mid <= self.lo or mid >= self.hi:
                mid = self.lo + self.res
            self._next = mid

    def result(self):
        return {"threshold": self.threshold, "found": self.threshold is not None,
                "steps": len(self.trace), "trace": self.trace}


def run_search(search, detector):
    while True:
        a = search.next_amp()
        if a is None:
            return search.result()
        search.feed(detector(a))


def side_of(muscle):
    c = muscle[0].lower()
    return "left" if c == "l" else ("right" if c == "r" else None)


def laterality(thresholds, muscles, margin):
    """'left'/'right' when that side's lowest threshold is lower by more than
    margin, 'bilateral' when both respond within it, 'none' when neither."""
    best = {"left": None, "right": None}
    for k, mu in enumerate(muscles):
        t = thresholds[k]
        side = side_of(mu)
        if side is not None and t is not None and (best[side] is None or t < best[side]):
            best[side] = t
    lt = best["left"]
    rt = best["right"]
    if lt is None and rt is None:
        return "none"
    if rt is None or (lt is not None and lt + margin < rt):
        return "left"
    if lt is None or rt + margin < lt:
        return "right"
    return "bilateral"


def scs_walk(pairs, muscles, start, stop, step, level_uv, detector):
    """Ramp each contact pair from start in steps until every muscle has
    responded or stop; detector(pair_index, amp) -> response uV per muscle.
    Per pair: each muscle's threshold (or None) and the pair's laterality;
    overall: the side most pairs favour."""
    out = []
    votes = {"left": 0, "right": 0, "bilateral": 0, "none": 0}
    for pi, pair in enumerate(pairs):
        th = [None] * len(muscles)
        a = start
        steps = 0
        while True:
            resp = detector(pi, a)
            steps += 1
            for k in range(len(muscles)):
                if th[k] is None and resp[k] >= level_uv:
                    th[k] = a
            if a >= stop or None not in th:
                break
            a = min(a + step, stop)
        lat = laterality(th, muscles, step)
        votes[lat] += 1
        out.append({"pair": pair, "thresholds": th, "laterality": lat, "steps": steps})
    if votes["left"] > votes["right"]:
        overall = "left"
    elif votes["right"] > votes["left"]:
        overall = "right"
    elif votes["left"] or votes["bilateral"]:
        overall = "bilateral"
    else:
        overall = "none"
    return {"pairs": out, "laterality": overall}
