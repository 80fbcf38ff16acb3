"""Byte transports between the host and a unit.

Transport is the abstract byte pipe the link runs over; SerialTransport is the
one implementation, on pyserial, for a USB CDC port and the simulated unit's
pseudo-terminal alike. Every read has an explicit deadline.
"""

from __future__ import annotations

import abc
import errno
import select
import time

import serial

from stimbox.errors import PortError

# REPL control bytes, for taking control of a unit that is not running the
# firmware (or handing it back). The link never sends these outside frames.
CTRL_A = b"\x01"  # enter raw REPL
CTRL_B = b"\x02"  # leave raw REPL for the friendly REPL
CTRL_C = b"\x03"  # interrupt: the firmware turns outputs off and returns to the REPL
CTRL_D = b"\x04"  # at the friendly REPL: soft reset, which runs main.py again


class Transport(abc.ABC):
    @abc.abstractmethod
    def write(self, data: bytes) -> None: ...

    @abc.abstractmethod
    def read(self, timeout: float) -> bytes:
        """Whatever arrives within timeout seconds (b"" if nothing)."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def read_until(self, marker: bytes, timeout: float) -> bytes:
        """Read until marker appears or timeout passes; returns all bytes read."""
        deadline = time.monotonic() + timeout
        buf = bytearray()
        while marker not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            buf += self.read(min(left, 0.05))
        return bytes(buf)

    def drain(self, quiet: float = 0.05, limit: float = 1.0) -> bytes:
        """Read until the line has been quiet for `quiet` seconds."""
        deadline = time.monotonic() + limit
        buf = bytearray()
        while time.monotonic() < deadline:
            chunk = self.read(quiet)
            if not chunk:
                break
            buf += chunk
        return bytes(buf)


class SerialTransport(Transport):
    def __init__(self, port: str, baudrate: int = 115200) -> None:
        self.port = port
        try:
            # exclusive: a second program on the same unit would steal replies.
            self.serial = serial.Serial(port, baudrate=baudrate, timeout=0, exclusive=True)
        except serial.SerialException as e:
            raise PortError(_describe_open_error(port, e)) from None
        self.serial.reset_input_buffer()
        try:
            self._fd: int | None = self.serial.fileno()
        except (AttributeError, OSError):
            self._fd = None  # no select() on this platform's ports

    def write(self, data: bytes) -> None:
        try:
            self.serial.write(data)
            self.serial.flush()
        except (serial.SerialException, OSError) as e:
            raise PortError(f"{self.port}: port vanished while writing ({e})") from None

    def read(self, timeout: float) -> bytes:
        try:
            if self._fd is not None:
                # Wait with select ourselves: changing pyserial's timeout
                # reconfigures the port (tcsetattr) on every call.
                if not select.select([self._fd], [], [], timeout)[0]:
                    return b""
                return self.serial.read(max(self.serial.in_waiting, 1))
            self.serial.timeout = timeout
            first = self.serial.read(1)
            if not first:
                return b""
            n = self.serial.in_waiting
            return first + self.serial.read(n) if n else first
        except (serial.SerialException, OSError, ValueError) as e:
            raise PortError(f"{self.port}: port vanished while reading ({e})") from None

    def close(self) -> None:
        try:
            self.serial.close()
        except (serial.SerialException, OSError):
            pass


def _describe_open_error(port: str, e: serial.SerialException) -> str:
    code = getattr(e, "errno", None)
    if code == errno.ENOENT:
        return f"{port}: no such port (is the unit plugged in, or the simulator running?)"
    if code in (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK) or "lock" in str(e).lower():
        return f"{port}: port is busy (another program has it open)"
    if code == errno.EACCES:
        return f"{port}: permission denied (is your user in the dialout group?)"
    return f"{port}: cannot open ({e})"
