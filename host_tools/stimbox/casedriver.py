"""Driving a case on a simulated unit: the case's clock (virtual time from
its start), free-run EMG streaming under everything else, waiting between
runs, and the journal read by sequence number and acknowledged.

The long case (stimbox.longcase) and the whole-case demo (stimbox.demo)
both drive their runs through this.

Virtual time between runs: with free-run streaming, the unit's clock is
left to run (the simulated unit's clock jumps to the next free-run block
whenever the firmware waits), so free-run EMG covers every second of the
case and its speed bounds the case's. The sim request advance_s is not used
then: a jump of the clock past the model's 30 s sample ring leaves free-run
asking for samples that are gone. Without free-run advance_s moves the
clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from simunit.supervisor import SimUnit

from stimbox.client import Push, StimBox, join_parts


class CaseDriver:
    """A started SimUnit (firmware installed) and a StimBox connected to it,
    through a case."""

    def __init__(self, unit: SimUnit, box: StimBox) -> None:
        self.unit = unit
        self.box = box  # (the setter below)
        self.t0_us = unit.model.now_us()
        self.stored = 0  # the last journal seq the host stored
        self.lost = 0  # the unit's count of unacknowledged records overwritten
        self.freerun_channels: list[int] = []
        self.freerun_reply: dict[str, Any] = {}
        self.t_freerun_us = 0
        # Pushes that arrive between runs (free-run EMG above all), as they
        # arrive: a session folder's Recorder.on_push takes them.
        self.on_push: Callable[[Push], None] | None = None

    @property
    def box(self) -> StimBox:
        return self._box

    @box.setter
    def box(self, box: StimBox) -> None:
        """The StimBox the case goes on with (a new one after a host kill).
        Between runs its pushes go to on_push; during a run run_protocol
        takes them (and its recorder stores the free-run ones)."""
        self._box = box
        box.on_push = self._on_push

    def _on_push(self, p: Push) -> None:
        if self.on_push is not None:
            self.on_push(p)

    # --- the case's clock -----------------------------------------------------
    def restart_clock(self) -> None:
        """The case starts now (virtual time 0)."""
        self.t0_us = self.unit.model.now_us()

    def now_s(self) -> float:
        """Virtual seconds since the case started."""
        return (self.unit.model.now_us() - self.t0_us) / 1e6

    def scenario_s(self) -> float:
        """The scenario's own time (what its effects' start_s count)."""
        return float(self.unit.model.scenario_time_s())

    def wait_until(self, at_s: float) -> None:
        """Until the unit's clock reads at_s into the case."""
        lead = at_s - self.now_s()
        if lead <= 0:
            return
        if not self.freerun_channels:
            self.box.sim(advance_s=lead)
            return
        give_up = time.monotonic() + max(60.0, lead)  # at 1x it would take `lead`
        while self.now_s() < at_s:
            if time.monotonic() > give_up:
                raise TimeoutError(f"the unit's clock did not reach {at_s:.0f} s into the case")
            self.box.poll(0.01)
        self.take_pushes()

    def take_pushes(self) -> None:
        """Drop the queue of pushes: each reached its handler as it came."""
        self.box.pushes.clear()

    # --- free-run EMG ----------------------------------------------------------
    def start_freerun(self, channels: list[int], rate_hz: int, block_ms: float,
                      **options: Any) -> dict[str, Any]:
        self.t_freerun_us = self.unit.model.now_us()
        self.freerun_reply = self.box.freerun_start(list(channels), rate_hz=rate_hz,
                                                    block_ms=block_ms, **options)
        self.freerun_channels = list(channels)
        return self.freerun_reply

    def stop_freerun(self) -> dict[str, Any]:
        """Stop free-run; the summary, with the virtual time it covered
        (blocks x block length) and the clock's time since it started."""
        st = self.box.freerun_stop()
        now = self.unit.model.now_us()
        self.freerun_channels = []
        st["covered_s"] = st["blocks"] * float(self.freerun_reply["block_ms"]) / 1000
        st["since_start_s"] = (now - self.t_freerun_us) / 1e6
        return st

    # --- the journal -------------------------------------------------------------
    def collect(self) -> list[dict[str, Any]]:
        """Every record after the last stored one (parts joined), then
        acknowledged: the new records."""
        box = self.box
        page = box.records(self.stored)
        got = list(page.records)
        while page.more:
            page = box.records(page.next)
            got.extend(page.records)
        self.lost = page.lost
        if not got:
            return []
        self.stored = int(got[-1]["seq"])
        box.ack(self.stored)
        return join_parts(got)
