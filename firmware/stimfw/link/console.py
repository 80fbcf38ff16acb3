# The REPL's stdio console as the link's byte pipe: USB CDC on a board, a
# pseudo-terminal on the simulated unit. Both behave the same way here:
# kbd_intr(-1) turns 0x03 into plain data while the link runs, so the link
# decides what an interrupt means (stop output, then hand back the REPL), and
# the REPL gets Ctrl-C back in stop().
import select
import sys

import micropython


class StdioConsole:
    def __init__(self):
        self._in = sys.stdin.buffer
        self._out = sys.stdout.buffer
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)
        self._one = bytearray(1)
        self._running = False

    def start(self):
        micropython.kbd_intr(-1)
        self._running = True

    def stop(self):
        if self._running:
            self._running = False
            micropython.kbd_intr(3)

    def wait(self, timeout_ms):
        """True when input is waiting; blocks at most timeout_ms."""
        for _obj, ev in self._poll.ipoll(timeout_ms):
            if ev & select.POLLIN:
                return True
        return False

    def read_byte(self):
        # One byte at a time on purpose: after a 0x03 the bytes that follow
        # (mpremote's Ctrl-A) must stay unread for the REPL. A board's stdin
        # read(n) would also block until n bytes arrive.
        if self._in.readinto(self._one) == 1:
            return self._one
        return None

    def write(self, data):
        self._out.write(data)
