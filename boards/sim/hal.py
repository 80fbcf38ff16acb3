# Hardware abstraction of the simulated unit. The firmware above this layer
# sees the same calls on every board; here they reach the simulator process.
import time

import machine
from stimfw.console import StdioConsole


class Hal:
    def __init__(self):
        self.console = StdioConsole()

    # --- clocks -------------------------------------------------------------
    def ticks_ms(self):
        return time.ticks_ms()

    def ticks_diff(self, a, b):
        return time.ticks_diff(a, b)

    # --- idle and reset -----------------------------------------------------
    def idle(self, timeout_ms):
        """Wait until host input arrives or timeout_ms passes."""
        self.console.wait(timeout_ms)

    def reset(self):
        # On the Unix port this ends the process; the simulator starts it
        # again on the same console, as a board reboots.
        machine.soft_reset()

    # --- outputs ------------------------------------------------------------
    def outputs_off(self):
        """Put every stimulator output in its safe (off, disconnected) state."""
