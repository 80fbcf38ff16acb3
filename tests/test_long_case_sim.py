"""The long case, short (stimbox.longcase; bench/bench_long_case.py runs it
for hours): 15 virtual minutes of free-run EMG on 2 channels streaming
throughout, median and tibial SSEP every 3 min, TcMEP every 5 min at a new
amplitude each time, a tEMG screw search, and the host killed mid-run and
reconnected. The unit's tick counter starts 60 s before a wrap (2**30 on
the 32-bit runtime, 2**62 on the 64-bit port), so the case crosses it.

Checked against the model: every journal sequence number once, in order,
across the host kill; a result for every run (the killed one ended by the
unit's heartbeat watchdog); pulses delivered == pulses recorded, each run's
indices 0..n-1; free-run covered the whole case; the heap after the
repeated SSEP runs of the second half flat, and the heap never so
fragmented that its largest free block falls too low (CaseReport.verdict)."""

from __future__ import annotations

from collections.abc import Callable

from mpy import executable
from simunit.supervisor import SimUnit
from stimbox.build import Image, install_offline
from stimbox.longcase import CaseConfig, LongCase
from stimbox.runtime import probe

CFG = CaseConfig(duration_s=15 * 60, ssep_sweeps=50, freerun_channels=2, freerun_rate_hz=5000,
                 freerun_block_ms=100, kill_at=0.5)


# The case's heap, a board's heap now that the simulated unit runs the
# firmware from its ROMFS partition (docs/SIMULATOR.md, Heap): on the
# board-like runtime an RP2040's 192k. There the firmware boots with about
# 30 KB free, the largest free block about 17 KB, and over the case the
# largest block never fell below 4.9 KB (docs/PERFORMANCE.md, Long case).
HEAP = {"unix": "400k", "mcu32": "192k"}


def test_a_short_long_case(runtime: str, image_for: Callable[[str], Image]) -> None:
    period = probe(executable(runtime)).ticks_period
    unit = SimUnit(micropython=executable(runtime), ticks_start_us=period - 60_000_000, seed=2,
                   heap=HEAP[runtime])
    install_offline(image_for(runtime), unit.flash)
    with unit:
        rep = LongCase(unit, CFG).run()
    print(rep.summary())
    kinds = [r.kind for r in rep.runs]
    assert kinds.count("ssep") == kinds.count("ssep_tibial") == 5
    assert kinds.count("tcmep") == 3 and kinds.count("temg") == 1
    assert rep.verdict() == []
