"""Console wiring of the simulated unit: two pseudo-terminal pairs and a relay.

The unit's MicroPython process gets the slave of pair A as its console; the
host opens the slave of pair B by path, exactly as it opens a USB CDC port.
The relay copies bytes between the two masters. A single pair cannot be
shared: the host and the unit would read each other's bytes.

Board behaviour the relay reproduces:
- while no host has the port open, the unit's output is dropped, as a USB CDC
  port drops output without a connected host (no DTR);
- neither direction can block the other: each has its own pending buffer, and
  reading from a side stops while the other side's buffer is full, which
  pushes back on the writer the way USB flow control does.
"""

from __future__ import annotations

import errno
import os
import select
import threading
import tty
from collections.abc import Callable

_PENDING_MAX = 64 * 1024
_READ_SIZE = 16 * 1024
_HUP_RECHECK_S = 0.02


class PtyPair:
    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        os.set_blocking(self.master, False)

    def close(self) -> None:
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


class Relay:
    """Copies unit <-> host between two pty masters on a background thread.

    on_device_output(bytes) sees everything the unit writes (the supervisor
    watches it for REPL prompts).
    """

    def __init__(
        self,
        unit: PtyPair,
        host: PtyPair,
        on_device_output: Callable[[bytes], None] | None = None,
    ) -> None:
        self.unit = unit
        self.host = host
        self.on_device_output = on_device_output
        self._to_host = bytearray()
        self._to_unit = bytearray()
        self._lock = threading.Lock()
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="sim-relay", daemon=True)
        self.host_connected = False
        self.dropped_to_host = 0

    def start(self) -> None:
        # The host side's slave is closed by us so that a host closing the
        # port shows up as a hang-up on the master.
        os.close(self.host.slave)
        self.host.slave = -1
        self._thread.start()

    def stop(self) -> None:
        os.write(self._stop_w, b"x")
        self._thread.join(timeout=2)
        os.close(self._stop_r)
        os.close(self._stop_w)

    def inject_to_host(self, data: bytes) -> None:
        """Bytes the 'board' prints itself (a reboot message), not the unit."""
        with self._lock:
            if self.host_connected:
                self._to_host += data
        os.write(self._stop_w, b"w")  # wake the poll loop

    def flush_to_unit(self) -> None:
        """Discard host bytes not yet delivered: a rebooting board loses them."""
        with self._lock:
            self._to_unit.clear()

    def _host_present(self) -> bool:
        # With no slave open, Linux reports POLLHUP on the master.
        p = select.poll()
        p.register(self.host.master, select.POLLIN)
        return not any(ev & select.POLLHUP for _, ev in p.poll(0))

    def _run(self) -> None:
        um, hm = self.unit.master, self.host.master
        while True:
            if not self.host_connected and self._host_present():
                self.host_connected = True
            poller = select.poll()
            poller.register(self._stop_r, select.POLLIN)
            with self._lock:
                want_u = select.POLLIN if len(self._to_host) < _PENDING_MAX else 0
                if self._to_unit:
                    want_u |= select.POLLOUT
                want_h = select.POLLIN if len(self._to_unit) < _PENDING_MAX else 0
                if self._to_host:
                    want_h |= select.POLLOUT
            poller.register(um, want_u)
            if self.host_connected:
                poller.register(hm, want_h)
                timeout = None
            else:
                # Nothing to wait on for the host side; look again shortly.
                timeout = _HUP_RECHECK_S * 1000
            for fd, ev in poller.poll(timeout):
                if fd == self._stop_r:
                    if os.read(self._stop_r, 64).find(b"x") != -1:
                        return
                elif fd == um:
                    self._service_unit(ev)
                elif fd == hm:
                    self._service_host(ev)

    def _read(self, fd: int) -> bytes:
        try:
            return os.read(fd, _READ_SIZE)
        except OSError as e:
            if e.errno not in (errno.EIO, errno.EAGAIN):
                raise
            return b""

    def _write_pending(self, fd: int, pending: bytearray) -> None:
        with self._lock:
            try:
                n = os.write(fd, pending)
            except OSError:  # full (EAGAIN) or the other side went away
                n = 0
            del pending[:n]

    def _service_unit(self, ev: int) -> None:
        if ev & select.POLLIN:
            data = self._read(self.unit.master)
            if data:
                if self.on_device_output is not None:
                    self.on_device_output(data)
                with self._lock:
                    if self.host_connected:
                        self._to_host += data
                    else:
                        self.dropped_to_host += len(data)
        if ev & select.POLLOUT:
            self._write_pending(self.unit.master, self._to_unit)

    def _service_host(self, ev: int) -> None:
        if ev & select.POLLHUP and not ev & select.POLLIN:
            # No host holds the port: drop what was queued for it.
            with self._lock:
                self.host_connected = False
                self.dropped_to_host += len(self._to_host)
                self._to_host.clear()
            return
        if ev & select.POLLIN:
            data = self._read(self.host.master)
            if data:
                with self._lock:
                    self._to_unit += data
        if ev & select.POLLOUT:
            self._write_pending(self.host.master, self._to_host)
