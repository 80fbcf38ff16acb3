"""The simulated StimBox unit: host-side process supervision, console wiring
and the hardware model that the sim board's HAL talks to."""
