"""Serves the hardware model to the sim HAL over a Unix-domain socket in the
unit's folder, in the fixed binary format of boards/sim/simwire.py. One
connection per firmware process; a new connection is a reboot (outputs off).
Also keeps the ground-truth file beside the flash folder up to date."""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
import threading
import time
import traceback
from pathlib import Path

import numpy as np
from stimfw.stim.timeline import COLUMNS

from simunit import groundtruth
from simunit.boardfiles import wire as w
from simunit.model import HardwareModel, ModelError

TRUTH_EVERY_S = 1.0


_REQ = struct.Struct(w.REQ_FMT)
_REP = struct.Struct(w.REP_FMT)


def _recv_exact(conn: socket.socket, n: int) -> bytes | None:
    buf = bytearray(n)
    return bytes(buf) if _recv_into(conn, buf) else None


def _recv_into(conn: socket.socket, buf: bytearray) -> bool:
    """Fill buf; False when the peer closed the link first."""
    n = len(buf)
    got = conn.recv_into(buf, n, socket.MSG_WAITALL)
    if got == n:
        return True
    view = memoryview(buf)
    while got < n:
        k = conn.recv_into(view[got:], n - got)
        if k == 0:
            return False
        got += k
    return True


def _send(conn: socket.socket, head: bytes, payload: bytes | memoryview) -> None:
    """The reply header and its payload in one system call, without joining
    them (a blocking send takes all of it unless a signal cuts it short)."""
    if not len(payload):
        conn.sendall(head)
        return
    sent = conn.sendmsg([head, payload])
    total = len(head) + len(payload)
    if sent < total:
        rest = (bytes(head) + bytes(payload))[sent:]
        conn.sendall(rest)


class ModelServer:
    def __init__(self, model: HardwareModel, path: Path, truth_path: Path | None = None) -> None:
        self.model = model
        self.path = Path(path)
        self.truth_path = truth_path
        self._sock: socket.socket | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self.requests = 0

    def start(self) -> ModelServer:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(str(self.path))
        s.listen(4)
        self._sock = s
        for target, name in ((self._accept, "sim-model"), (self._truth_writer, "sim-truth")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._sock.close()
        for c in list(self._conns):
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self._threads:
            t.join(timeout=2)
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        self.write_truth()

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def write_truth(self) -> None:
        if self.truth_path is not None:
            groundtruth.write(self.model, self.truth_path)

    # --- threads ----------------------------------------------------------------
    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(conn,), name="sim-model-conn", daemon=True)
            self._conns.append(conn)
            t.start()

    def _truth_writer(self) -> None:
        last = None
        while not self._stopping.wait(TRUTH_EVERY_S):
            key = (self.model.pulse_count, self.model.now_us(), self.model.seed, self.model.scenario.name)
            if key != last:
                last = key
                try:
                    self.write_truth()
                except OSError:
                    pass

    def _serve(self, conn: socket.socket) -> None:
        hdr = bytearray(w.REQ_SIZE)
        out: bytes | memoryview
        try:
            while not self._stopping.is_set():
                if not _recv_into(conn, hdr):
                    return
                op, plen, now, a0, a1, a2 = _REQ.unpack(hdr)
                payload = _recv_exact(conn, plen) if plen else b""
                if payload is None:
                    return
                self.requests += 1
                if op != w.OP_HELLO:  # a new boot's clock means nothing yet
                    self.model.observe(now)
                try:
                    value, out = self._dispatch(op, a0, a1, a2, payload)
                    status = w.ST_OK
                except ModelError as e:
                    value, out, status = 0, str(e).encode(), w.ST_ERROR
                except Exception as e:  # a model bug: tell the device, keep serving
                    traceback.print_exc(file=sys.stderr)
                    value, out, status = 0, ("model error: %r" % e).encode(), w.ST_ERROR
                _send(conn, _REP.pack(status, len(out), *self._clock(value)), out)
        except OSError:
            return
        finally:
            conn.close()
            if conn in self._conns:
                self._conns.remove(conn)

    def _clock(self, value: int) -> tuple[int, int, int, int]:
        # now_us, value, now_ms, now_ms_us of a reply: the model's clock as
        # the device's ticks.
        us, ms, frac = self.model.device_ticks(self.model.now_us())
        return us, value, ms, frac

    def _dispatch(self, op: int, a0: int, a1: int, a2: int, payload: bytes) -> tuple[int, bytes | memoryview]:
        m = self.model
        if op == w.OP_HELLO:
            m.boot(a0)
            return (1 if m.clock.realtime else 0), b""
        if op == w.OP_SYNC:
            return 0, b""
        if op == w.OP_SAFETY:
            return m.safety_bits(), b""
        if op == w.OP_OUTPUTS_OFF or op == w.OP_ABORT:
            m.abort()
            return 0, b""
        if op == w.OP_FIRE:
            n = a1
            if len(payload) != n * 4 * len(COLUMNS):
                raise ModelError(f"timeline payload is {len(payload)} bytes, expected {n * 4 * len(COLUMNS)}")
            arr = np.frombuffer(payload, dtype="<i4").reshape(len(COLUMNS), n)
            cols = {name: arr[i].tolist() for i, name in enumerate(COLUMNS)}
            return m.fire(m.unwrap(a0), cols), b""
        if op == w.OP_FIRE_DONE:
            return (1 if m.fire_done() else 0), b""
        if op == w.OP_FIRED:
            return m.fired_count(), b""
        if op == w.OP_MONITOR:
            trace = m.monitor(a0, a1)
            return len(trace) // 2, np.ascontiguousarray(trace).data.cast("B")
        if op == w.OP_ACQUIRE:
            chans = list(payload)
            with m.lock:
                t0 = m.unwrap(a0)
            if a1 > 0:
                t_end = t0 + int(a2 * 1e6 / a1)
                wait = m.clock.wall_wait_us(t_end)
                if wait > 0:
                    time.sleep(wait)
            data = m.acquire(t0, a1, a2, chans)
            return a2, data.data.cast("B")
        if op == w.OP_IMPEDANCE:
            return m.impedance(payload.decode()), b""
        if op == w.OP_WATCHDOG:
            m.watchdog(a0)
            return 0, b""
        if op == w.OP_WATCHDOG_FEED:
            m.feed_watchdog()
            return 0, b""
        if op == w.OP_SIM:
            try:
                req = json.loads(payload)
            except ValueError as e:
                raise ModelError(f"sim request is not JSON: {e}") from None
            if not isinstance(req, dict):
                raise ModelError("sim request must be a JSON object")
            return 0, json.dumps(m.sim(req), default=float).encode()
        raise ModelError(f"unknown op {op}")


def socket_path(folder: Path) -> Path:
    """A socket path in folder, or in a short temporary folder when the
    folder's path is too long for a Unix-domain socket address."""
    p = Path(folder) / "model.sock"
    if len(os.fsencode(str(p))) < 100:
        return p
    import tempfile

    return Path(tempfile.mkdtemp(prefix="stimbox-sim-")) / "model.sock"
