# Threshold searches for triggered EMG / direct nerve stimulation and SCS lead
# testing. The logic only decides which amplitude to try next; what a sweep
# evoked comes from the acquisition/DSP chain (which muscles responded, for
# the tEMG search; the response per muscle in uV, for the SCS walk).
# Amplitudes are in the output's unit (uA).


class ThresholdSearch:
    """A threshold per muscle, from a low current up; never the top first.

    Ramp: start, then up by step ("step") or doubling ("bisect") to stop.
    A muscle silent at a ramp current is silent there; one that responds is
    fired at the same current again, and a response counts only when `need`
    of at most 2 * need - 1 pulses there evoke it (a lone twitch or noise
    spike is not a threshold). After a confirmed response the bracket
    between that muscle's highest silent and lowest responding current is
    bisected until it is no wider than res, each bisection current decided
    by the same vote (silence too: near threshold a response comes and
    goes, and a one-sided rule would bias the threshold), and the bracket's
    bottom, if one silent ramp pulse set it, is voted on too; then the ramp
    goes on for the muscles that have not responded yet. A muscle's
    threshold is the top of its bracket: the lowest current at which it
    responded.

    feed() takes the muscles that responded to the last pulse as a bitmask
    (bit k: muscle k); what counts as a response is the detector's
    business (stimfw.stim.detect). Amplitudes are multiples of q, the
    output's resolution. All state is made here, so a step allocates
    nothing but the trace entry."""

    def __init__(self, start, stop, step, res, n_muscles=1, mode="step", q=10, need=2):
        self.start = start
        self.stop = stop
        self.step = step
        self.res = res
        self.q = q
        self.need = need  # responses (or silences) that decide a current
        self.mode = mode
        self.n = n_muscles
        # Amplitude and bitmask of the muscles that responded, per pulse in
        # the order fired, flat: a pair as a tuple would cost a heap object
        # each, and a search fires dozens.
        self.trace = []
        # Per muscle: highest current it was silent at (0: none yet) and
        # lowest at which a response was confirmed (0: none yet).
        self.lo = [0] * n_muscles
        self.hi = [0] * n_muscles
        # Muscles whose lo a vote decided; a lo from one silent ramp pulse
        # is tried again by a vote before its bracket counts as closed.
        self.sure = 0
        self.ramp = start  # the ramp's current, the highest fired so far
        self.refining = False  # _next is a bisection current, not the ramp's
        self.voting = -1  # muscles undecided at _next (-1: none fired there yet)
        self.hits = [0] * n_muscles  # responses of each at _next
        self.fired_at = 0  # pulses fired at _next
        self.done = False
        self._next = start

    def next_amp(self):
        return None if self.done else self._next

    def _open(self, k, a):
        """Whether amplitude a tells anything about muscle k."""
        lo = self.lo[k]
        return (a > lo or (a == lo and not self.sure & (1 << k))) and (not self.hi[k] or a < self.hi[k])

    def _below(self, a):
        """The ramp current before a (0: none)."""
        if a <= self.start:
            return 0
        return max(a - self.step, self.start) if self.mode == "step" else max(a // 2, self.start)

    def feed(self, bits):
        a = self._next
        self.trace.append(a)
        self.trace.append(bits)
        lo = self.lo
        hi = self.hi
        hits = self.hits
        if self.voting < 0:
            self.voting = 0
            for k in range(self.n):
                hits[k] = 0
                if self._open(k, a):
                    self.voting |= 1 << k
        self.fired_at += 1
        n = self.fired_at
        for k in range(self.n):
            m = 1 << k
            if not self.voting & m:
                continue
            if bits & m:
                hits[k] += 1
            h = hits[k]
            if h >= self.need:
                hi[k] = a
                if a == lo[k]:  # its single silent ramp pulse was chance
                    lo[k] = self._below(a)
            elif n - h >= self.need:
                lo[k] = a
                self.sure |= m
            elif h == 0 and not self.refining:
                lo[k] = a
                self.sure &= ~m
            else:
                continue
            self.voting &= ~m
        if self.voting:
            return  # the same current once more
        self.voting = -1
        self.fired_at = 0
        nxt = self._refine()
        self.refining = nxt is not None
        if nxt is None:
            nxt = self._climb()
        if nxt is None:
            self.done = True
        else:
            self._next = nxt

    def _refine(self):
        """The middle of the first bracket still wider than res, or None."""
        for k in range(self.n):
            h = self.hi[k]
            lo = self.lo[k]
            if h and lo and h - lo > self.res:
                q = self.q
                mid = (lo + h) // 2 // q * q
                if mid <= lo:
                    mid = lo + q
                return mid
        for k in range(self.n):
            lo = self.lo[k]
            if self.hi[k] and lo and not self.sure & (1 << k):
                return lo
        return None

    def _climb(self):
        """The ramp's next current while a muscle has not responded, or None."""
        if self.ramp >= self.stop or 0 not in self.hi:
            return None
        a = self.ramp + self.step if self.mode == "step" else self.ramp * 2
        self.ramp = min(a, self.stop)
        return self.ramp

    def thresholds(self):
        return [h or None for h in self.hi]

    def result(self):
        th = self.thresholds()
        found = [t for t in th if t is not None]
        return {"threshold": min(found) if found else None, "found": bool(found),
                "thresholds": th, "steps": len(self.trace) // 2, "trace": self.trace}


def max_steps(start, stop, step, res, n_muscles, mode, need=2):
    """Most pulses a ThresholdSearch can fire: a full vote at each ramp
    current and each bisection, and per muscle a bisection more for the
    rounding to the output's resolution and a vote on its bracket's bottom
    at each ramp current it may fall back through."""
    if mode == "step":
        ramp = (stop - start + step - 1) // step + 1
        span = step
    else:
        ramp = 1
        a = start
        while a < stop:
            a *= 2
            ramp += 1
        span = max(stop // 2, start)
    halvings = 0
    while span > res:
        span = (span + 1) // 2
        halvings += 1
    return (2 * need - 1) * (ramp + n_muscles * (halvings + 1 + ramp))


def run_search(search, detector, level_uv):
    """The whole search with detector(amp) -> response uV per muscle (a
    list), against one fixed level."""
    while True:
        a = search.next_amp()
        if a is None:
            return search.result()
        bits = 0
        for k, r in enumerate(detector(a)):
            if r >= level_uv:
                bits |= 1 << k
        search.feed(bits)


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
