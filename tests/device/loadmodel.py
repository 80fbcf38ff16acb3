# Test-only stand-ins for the stimulation tests under MicroPython: a HAL whose
# clocks the test drives and whose outputs drive resistor loads (the monitor
# samples follow Ohm's law, the output's compliance or current limit, and
# the monitor ADC's scale), and a console backed by bytes. The simulated unit
# proper (boards/sim) replaces both in the end-to-end tests.
import json

from stimfw.hal_api import Hal
from stimfw.link import codec as lc
from stimfw.link import messages as m
from stimfw.stim.timeline import COLUMNS

OPEN = None  # a load of OPEN ohm: no current path


class BytesConsole:
    def __init__(self):
        self.rx = bytearray()
        self.pos = 0
        self.tx = bytearray()
        self._one = bytearray(1)

    def feed(self, data):
        self.rx.extend(data)

    def start(self):
        pass

    def stop(self):
        pass

    def wait(self, timeout_ms):
        return self.pos < len(self.rx)

    def read_byte(self):
        if self.pos >= len(self.rx):
            return None
        self._one[0] = self.rx[self.pos]
        self.pos += 1
        return self._one

    def write(self, data):
        self.tx.extend(data)


class LoadHal(Hal):
    def __init__(self, bd, load_ohm=1000, t0_us=0):
        self.bd = bd
        self.console = BytesConsole()
        self.t_us = t0_us  # the timeline clock (ticks_us), wrapping as a board's
        self.elapsed_us = 0  # since start, unwrapped
        self.wall = 0
        self.interlock = True
        self.estop = False
        self.loads = [load_ohm] * len(bd.OUTPUTS)
        self.rows = None  # snapshot of the timeline being run
        self.start_us = 0
        self.end_us = 0
        self.abort_us = None
        self.fires = []  # (start_us, rows) of every fire
        self.aborts = 0
        self.offs = 0

    # clocks: the test moves them (and idle() jumps); ticks_add and
    # ticks_diff are the contract's, time.ticks_* arithmetic, so a clock
    # started near the ticks period wraps as a board's does
    def ticks_us(self):
        return self.t_us

    def ticks_ms(self):
        return self.elapsed_us // 1000

    def wall_ms(self):
        return self.wall

    def idle(self, timeout_ms, until_us=None):
        # As the simulated unit in fast mode: jump to until_us unless the
        # host has sent something.
        if self.console.wait(0):
            return
        self.wall += timeout_ms
        if until_us is not None:
            d = self.ticks_diff(until_us, self.t_us)
            if d > 0:
                self.t_us = until_us
                self.elapsed_us += d

    # safety
    def interlock_closed(self):
        return self.interlock

    def estop_pressed(self):
        return self.estop

    def outputs_off(self):
        self.offs += 1

    # stimulation
    def fire(self, timeline, start_us):
        tl = timeline
        rows = [[getattr(tl, c)[i] for c in COLUMNS] for i in range(tl.n)]
        self.rows = rows
        self.start_us = start_us
        self.end_us = self.ticks_add(start_us, tl.duration_us)
        self.abort_us = None
        self.fires.append((start_us, rows))

    def fire_done(self):
        return self.abort_us is not None or self.ticks_diff(self.t_us, self.end_us) >= 0

    def abort(self):
        self.aborts += 1
        self.abort_us = self.t_us

    def phase(self, o, amp, load):
        """Delivered (current uA, voltage mV) of one phase into a resistor."""
        if o["kind"] == "CC":
            if load is OPEN:
                return 0, o["compliance"] * (1 if amp > 0 else -1)
            v = amp * load // 1000
            if abs(v) > o["compliance"]:
                v = o["compliance"] * (1 if amp > 0 else -1)
                return v * 1000 // load, v
            return amp, v
        if load is OPEN:
            return 0, amp
        i = amp * 1000 // load
        if abs(i) > o["current_limit"]:
            i = o["current_limit"] * (1 if amp > 0 else -1)
            return i, i * load // 1000
        return i, amp

    def monitor(self, pulse_index, buf):
        r = self.rows[pulse_index]
        o = self.bd.OUTPUTS[r[1]]
        load = self.loads[r[1]]
        per_us = self.bd.MONITOR_RATE_HZ // 1000000 or 1
        us_per = 1000000 // self.bd.MONITOR_RATE_HZ
        n = 0
        # The trace starts MONITOR_PRE_SAMPLES before the scheduled start.
        while n < self.bd.MONITOR_PRE_SAMPLES:
            buf[2 * n] = buf[2 * n + 1] = 0
            n += 1
        for amp, w in ((r[2], r[3]), (0, r[4]), (r[6], r[5])):
            i, v = self.phase(o, amp, load) if amp else (0, 0)
            for _ in range(w // us_per * per_us):
                if n >= len(buf) // 2:
                    return n
                buf[2 * n] = (i + o["mon_ua_lsb"] // 2) // o["mon_ua_lsb"]
                buf[2 * n + 1] = (v + o["mon_mv_lsb"] // 2) // o["mon_mv_lsb"]
                n += 1
        # and runs on past the pulse's end
        end = n + self.bd.MONITOR_PRE_SAMPLES
        while n < end and n < len(buf) // 2:
            buf[2 * n] = buf[2 * n + 1] = 0
            n += 1
        return n


class Host:
    """Frames in, replies and pushes out, over a LoadHal's BytesConsole."""

    def __init__(self, app):
        self.app = app
        self.rid = 0
        self.replies = {}
        self.pushes = []
        self.dec = lc.Decoder(4096, self._frame, None, True)
        self.seen = 0
        self.token = None  # the session token the last ARM answered with

    def _frame(self, f):
        body = json.loads(bytes(f.payload)) if len(f.payload) else {}
        if f.kind == lc.KIND_PUSH:
            self.pushes.append((f.mtype, body))
        else:
            self.replies[f.req_id] = (f.kind == lc.KIND_OK, body)

    def drain(self):
        # Decode what the unit wrote and let it go, so a long run's output
        # does not pile up in the test's own heap.
        tx = self.app.hal.console.tx
        if tx:
            self.dec.feed(bytes(tx))
            tx[:] = b""

    def request(self, mtype, obj=None):
        # As the host client: the session token from ARM goes with every
        # later control request (unless the test gives its own "token").
        if self.token is not None and mtype in (m.MSG_ARM, m.MSG_START, m.MSG_STOP, m.MSG_DISARM,
                                                m.MSG_HEARTBEAT):
            obj = dict(obj or {})
            if "token" not in obj:
                obj["token"] = self.token
        self.rid = self.rid % 60000 + 1
        payload = json.dumps(obj).encode() if obj is not None else b""
        self.app.hal.console.feed(lc.encode_frame(lc.KIND_REQUEST, mtype, self.rid, payload))
        for _ in range(50):
            self.app.step()
            self.drain()
            if self.rid in self.replies:
                good, body = self.replies.pop(self.rid)
                if good and mtype == m.MSG_ARM and isinstance(body, dict) and "token" in body:
                    self.token = body["token"]
                return good, body
        raise AssertionError(f"no reply to request {mtype}")

    def ok(self, mtype, obj=None):
        good, body = self.request(mtype, obj)
        if not good:
            raise AssertionError(f"refused: {body!r}")
        return body

    def steps(self, n):
        for _ in range(n):
            self.app.step()
        self.drain()


def make_app(load_ohm=1000, t0_us=0):
    import board
    from stimfw import app as appmod

    hal = LoadHal(board, load_ohm, t0_us)
    a = appmod.App(hal, board)
    return a, Host(a)
