# Hardware abstraction of the simulated unit. The firmware above this layer
# sees the same calls on every board; here they reach the hardware model in
# the simulator process (simunit/model.py) over a Unix-domain socket, in the
# fixed binary format of simwire.py. That is this board's register map and
# DMA: requests are packed into a preallocated header, sample data is read
# straight into the caller's buffer, so the hot calls allocate nothing and
# the model's size never touches the firmware's heap.
#
# Timeline clock. Fast mode (default): virtual time moves only when the
# firmware waits: idle() with a deadline jumps to it when no host input is
# waiting, idle() without one follows the wall clock for as long as it
# really waited, acquire() of samples not yet recorded moves to the end of
# the window, and each clock read costs 1 us (so even a firmware spinning on
# the clock moves on). Every reply from the model carries its clock, never
# behind the device's (the model follows each request's clock first), and
# the device takes it. Real-time mode: the timeline clock is the wall clock.
# The clock is kept as ticks, wrapped at the port's ticks period as a
# board's counter is: on a 32-bit port an unwrapped count would become a
# heap object after 2**30 us and every clock read would allocate. The model
# unwraps what the device sends; a jump of more than a quarter period is
# told to the model at once, so it never falls half a period behind.
# Every call of the contract (stimfw/hal_api.py: units, allocation, timing)
# is overridden here, sim() included.
import json
import os
import socket
import struct
import time

import machine
import simwire as w
from stimfw.hal_api import Hal as Contract
from stimfw.link.console import StdioConsole
from stimfw.stim.timeline import COLUMNS

FEED_EVERY_MS = 50
MAX_CHANNELS = 64  # channels in one acquisition request


class Hal(Contract):
    _fed_ms = 0  # wall ms of the last feed sent to the model

    def __init__(self):
        self.console = StdioConsole()
        # A request's header, and room after it for an acquisition's
        # channel list: both go out in one write, so the model is woken once.
        self._req = bytearray(w.REQ_SIZE + MAX_CHANNELS)
        self._rep = bytearray(w.REP_SIZE)
        self._mask = time.ticks_add(0, -1)  # ticks period - 1 (a power of two)
        self._now = 0  # timeline clock, ticks_us (wrapped)
        self._ms = 0  # timeline clock, ticks_ms (wrapped)
        self._msub = 0  # us past _ms, 0..999
        self._unsynced = 0  # us the clock moved since the model last heard it
        self._local = time.ticks_us()  # real-time mode: wall ticks at the last sync
        self.realtime = False
        path = os.getenv(w.ENV_SOCKET)
        if not path:
            raise OSError("sim HAL: no hardware model (%s is not set)" % w.ENV_SOCKET)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # The Unix port takes a raw sockaddr_un: family, path, NUL.
        s.connect(struct.pack("<H", socket.AF_UNIX) + path.encode() + b"\0")
        self._sock = s
        self.realtime = self._call(w.OP_HELLO, self._mask + 1) == 1

    # --- model link -----------------------------------------------------------
    def _send(self, op, a0, a1, a2, plen, inline=0):
        # inline: bytes of payload already placed after the header
        struct.pack_into(w.REQ_FMT, self._req, 0, op, plen, self._virt(), a0, a1, a2)
        self._unsynced = 0
        self._sock.write(self._req, w.REQ_SIZE + inline)

    def _reply(self):
        rep = self._rep
        if self._sock.readinto(rep) != w.REP_SIZE:
            raise OSError("sim HAL: hardware model closed the link")
        # The model's clock, as this device's ticks: never behind ours.
        self._now = self._u(8, 8)
        self._ms = self._u(24, 8)
        self._msub = self._u(32, 8)
        self._local = time.ticks_us()
        if rep[0] != w.ST_OK:
            msg = bytearray(self._u(4, 4))
            self._sock.readinto(msg)
            raise ValueError(msg.decode())
        return self._u(16, 8)

    def _u(self, off, n):
        # Little-endian unsigned from the reply header, without a tuple.
        rep = self._rep
        v = 0
        i = off + n - 1
        while i >= off:
            v = (v << 8) | rep[i]
            i -= 1
        return v

    def _call(self, op, a0=0, a1=0, a2=0):
        self._send(op, a0, a1, a2, 0)
        return self._reply()

    def _payload_len(self):
        return self._u(4, 4)

    # --- clocks -------------------------------------------------------------
    def _advance(self, d):
        # Fast mode: the timeline clock moves on by d us (0 <= d < period/2).
        # ticks_add, not + and &: the sum of two ticks can pass the largest
        # small int on a 32-bit port (2**30 - 1), and a big int allocates.
        self._now = time.ticks_add(self._now, d)
        s = self._msub + d
        if s >= 1000:
            k = s // 1000
            self._ms = time.ticks_add(self._ms, k)
            s -= k * 1000
        self._msub = s
        self._unsynced += d

    def _jump_to(self, t):
        # Fast mode: move the clock on to ticks t, if that is ahead. The
        # model unwraps our ticks near its own clock, so it hears of a long
        # jump before it could fall half a ticks period behind: at most a
        # quarter period goes unheard.
        quarter = self._mask >> 2
        d = time.ticks_diff(t, self._virt())
        if d > 0 and self._unsynced and self._unsynced + d > quarter:
            self._call(w.OP_SYNC)  # the model's reply may move us on
            d = time.ticks_diff(t, self._now)
        if d > 0:
            self._advance(d)
            if self._unsynced > quarter:
                self._call(w.OP_SYNC)

    def _virt(self):
        if self.realtime:
            return time.ticks_add(self._now, time.ticks_diff(time.ticks_us(), self._local))
        self._advance(1)
        return self._now

    def ticks_us(self):
        return self._virt()

    def ticks_ms(self):
        if self.realtime:
            d = self._msub + time.ticks_diff(time.ticks_us(), self._local)
            return time.ticks_add(self._ms, d // 1000)
        self._advance(1)
        return self._ms

    def ticks_diff(self, a, b):
        return time.ticks_diff(a, b)

    def ticks_add(self, t, d):
        return time.ticks_add(t, d)

    def wall_ms(self):
        return time.ticks_ms()

    # --- idle and reset -----------------------------------------------------
    def idle(self, timeout_ms, until_us=None):
        """Wait until host input arrives, timeout_ms passes or (fast mode)
        the timeline clock reaches until_us."""
        if self.console.wait(0):
            return
        if until_us is not None:
            if not self.realtime:
                self._jump_to(until_us)
                return
            d = time.ticks_diff(until_us, self.ticks_us())
            ms = (d + 999) // 1000
            if ms < timeout_ms:
                timeout_ms = ms if ms > 0 else 0
        t = time.ticks_us()
        self.console.wait(timeout_ms)
        if not self.realtime:
            self._advance(time.ticks_diff(time.ticks_us(), t))  # a few ms at most

    # --- watchdog -------------------------------------------------------------
    def start_watchdog(self, timeout_ms):
        self._fed_ms = time.ticks_ms()
        self._call(w.OP_WATCHDOG, timeout_ms)

    def feed_watchdog(self):
        # A board's feed is a register write; here it is a round trip to the
        # model, so feeds closer than FEED_EVERY_MS are coalesced (the
        # watchdog then fires between timeout - FEED_EVERY_MS and timeout
        # after the loop stalled).
        now = time.ticks_ms()
        if time.ticks_diff(now, self._fed_ms) >= FEED_EVERY_MS:
            self._fed_ms = now
            self._call(w.OP_WATCHDOG_FEED)

    def stop_watchdog(self):
        self._call(w.OP_WATCHDOG, 0)
        return True

    def reset(self):
        # On the Unix port this ends the process; the simulator starts it
        # again on the same console, as a board reboots.
        machine.soft_reset()

    def reset_cause(self):
        # The supervisor knows how the last process ended (exit code,
        # signal, soft reset, interrupt) and says so to this boot, as a
        # board's reset controller would: "cause" or "cause|detail".
        c, d = ((os.getenv("STIMBOX_SIM_RESET_CAUSE") or "power_on") + "|").split("|")[:2]
        return c, d or None

    # --- safety -------------------------------------------------------------
    def interlock_closed(self):
        return self._call(w.OP_SAFETY) & w.SAFETY_INTERLOCK != 0

    def estop_pressed(self):
        return self._call(w.OP_SAFETY) & w.SAFETY_ESTOP != 0

    def outputs_off(self):
        """Put every stimulator output in its safe (off, disconnected) state."""
        self._call(w.OP_OUTPUTS_OFF)

    # --- stimulation --------------------------------------------------------
    def fire(self, timeline, start_us):
        """Hand a compiled timeline to the output stage; returns at once."""
        n = timeline.n
        self._send(w.OP_FIRE, start_us, n, timeline.duration_us, 4 * n * len(COLUMNS))
        if n:
            sock = self._sock
            for name in COLUMNS:
                sock.write(getattr(timeline, name), 4 * n)
        self._reply()

    def fire_done(self):
        return self._call(w.OP_FIRE_DONE) == 1

    def abort(self):
        self._call(w.OP_ABORT)

    def fired_count(self):
        """The output stage's pulse counter (the model's, which outlives
        this process as a board's counter outlives a reset)."""
        return self._call(w.OP_FIRED)

    def monitor(self, pulse_index, buf):
        """Current and voltage of one delivered pulse, interleaved int16, into
        buf; returns the samples per trace (0 until the pulse has gone out).
        Scales: board.OUTPUTS[output]["mon_ua_lsb"], ["mon_mv_lsb"]."""
        self._send(w.OP_MONITOR, pulse_index, len(buf) // 2, 0, 0)
        n = self._reply()
        if n:
            self._sock.readinto(buf, 4 * n)
        return n

    # --- acquisition --------------------------------------------------------
    def acquire(self, t0_us, rate_hz, channels, buf):
        """Amplifier samples from t0_us, interleaved by sample, into buf.
        Allocates nothing."""
        nch = len(channels)
        if nch == 0 or nch > MAX_CHANNELS:
            raise ValueError("acquire: 1..%d channels" % MAX_CHANNELS)
        req = self._req
        i = 0
        while i < nch:
            req[w.REQ_SIZE + i] = channels[i]
            i += 1
        ns = len(buf) // nch
        self._send(w.OP_ACQUIRE, t0_us, rate_hz, ns, nch, nch)
        n = self._reply()
        self._sock.readinto(buf, 2 * n * nch)
        return n

    def impedance(self, electrode):
        """Electrode impedance in ohms (1 kHz test signal)."""
        name = electrode.encode()
        self._send(w.OP_IMPEDANCE, 0, 0, 0, len(name))
        self._sock.write(name)
        return self._reply()

    # --- simulated unit only ------------------------------------------------
    def sim(self, request):
        """Sim-only control and ground truth: see docs/SIMULATOR.md."""
        data = json.dumps(request).encode()
        self._send(w.OP_SIM, 0, 0, 0, len(data))
        self._sock.write(data)
        self._reply()
        out = bytearray(self._payload_len())
        self._sock.readinto(out)
        reply = json.loads(out)
        if "stall_ms" in request:
            # Test-only: the main loop stalls in this step (the model noted
            # when); the watchdog and the heartbeat check must cope.
            time.sleep_ms(reply["stall_ms"])
        return reply
