"""The simulated StimBox unit: host-side process supervision, console wiring
and the hardware model that the sim board's HAL talks to."""


class SimError(Exception):
    """A simulated unit cannot start (name taken, no MicroPython)."""
