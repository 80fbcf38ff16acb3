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


def laterality(thresholds, muscles, margin, rel_pct=20):
    """'left'/'right' when that side's lowest threshold is lower by more than
    margin and by more than rel_pct percent of itself (thresholds a step or
    two apart at the midline are noise, not a side), 'bilateral' when both
    respond within that, 'none' when neither."""
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
    if rt is None:
        return "left"
    if lt is None:
        return "right"
    m = max(margin, min(lt, rt) * rel_pct // 100)
    if lt + m < rt:
        return "left"
    if rt + m < lt:
        return "right"
    return "bilateral"


class Walk:
    """The SCS lead walk, one step at a time: each contact pair is ramped
    from start in steps until every muscle has responded or stop. next()
    says which pair and amplitude to try; feed() takes the response per
    muscle (uV, in the order of `muscles`)."""

    def __init__(self, n_pairs, muscles, start, stop, step, level_uv):
        self.n_pairs = n_pairs
        self.muscles = muscles
        self.start = start
        self.stop = stop
        self.step = step
        self.level = level_uv
        self.pair = 0
        self.amp = start
        self.steps = 0
        self.th = [None] * len(muscles)
        self.out = []

    def next(self):
        """(pair index, amplitude) to try next, or None when done."""
        if self.pair >= self.n_pairs:
            return None
        return self.pair, self.amp

    def feed(self, resp):
        self.steps += 1
        th = self.th
        for k in range(len(th)):
            if th[k] is None and resp[k] >= self.level:
                th[k] = self.amp
        if self.amp >= self.stop or None not in th:
            self.out.append({"thresholds": th, "laterality": laterality(th, self.muscles, self.step),
                             "steps": self.steps})
            self.pair += 1
            self.amp = self.start
            self.steps = 0
            self.th = [None] * len(self.muscles)
        else:
            self.amp = min(self.amp + self.step, self.stop)

    def result(self, pairs):
        votes = {"left": 0, "right": 0, "bilateral": 0, "none": 0}
        out = []
        for k, r in enumerate(self.out):
            votes[r["laterality"]] += 1
            d = dict(r)
            d["pair"] = pairs[k]
            out.append(d)
        # The side most pairs favour; a tie, or bilateral pairs outnumbering
        # either side, reads as bilateral (a lead at the midline).
        lv, rv, bv = votes["left"], votes["right"], votes["bilateral"]
        if lv > rv and lv > bv:
            overall = "left"
        elif rv > lv and rv > bv:
            overall = "right"
        elif lv or rv or bv:
            overall = "bilateral"
        else:
            overall = "none"
        return {"pairs": out, "laterality": overall}


def scs_walk(pairs, muscles, start, stop, step, level_uv, detector):
    """The whole walk with detector(pair_index, amp) -> response uV per
    muscle. Per pair: each muscle's threshold (or None) and the pair's
    laterality; overall: the side most pairs favour."""
    w = Walk(len(pairs), muscles, start, stop, step, level_uv)
    while True:
        nxt = w.next()
        if nxt is None:
            return w.result(pairs)
        w.feed(detector(nxt[0], nxt[1]))
