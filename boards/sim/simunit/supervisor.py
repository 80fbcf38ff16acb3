"""Runs one simulated unit: the firmware's MicroPython process, its console
wiring, and its reboots.

The process is the real MicroPython Unix port. Whenever it exits (Ctrl-D at
the REPL, machine.soft_reset(), a crash) that is a reboot: the supervisor
prints the board's reboot line and starts it again on the same console, so
the host's port path stays valid for the unit's whole life.
"""

from __future__ import annotations

import os
import signal
import subprocess
import termios
import threading
import time
from pathlib import Path

from stimbox import resources
from stimbox import runtime as mp_runtime

from simunit import registry, romflash, scenarios
from simunit.boardfiles import wire
from simunit.model import HardwareModel
from simunit.modelserver import ModelServer, socket_path
from simunit.ptyrelay import PtyPair, Relay

ROM = resources.sim_rom()

# Heap: the board's, the firmware running from the unit's ROMFS partition
# (simunit/romflash.py; the process's heap is larger by exactly what the
# image takes). On the 64-bit Unix port every object is twice its 32-bit
# size, and the table of interned names grows in steps of 14 KB and more in
# one block: at 320k (88 KB free at boot with the per-trial MEP, D-wave,
# tEMG and alarm code) runs that validate many set-ups back to back could
# find no room for the next step. 384k there.
# Memory tests of the DSP core run at 96k (pyboard-class).
DEFAULT_HEAP = "384k"
# On a 32-bit runtime objects are a board's size. At an RP2040's 192k the
# firmware boots with about 29 KB free, the largest free block about 16 KB
# (micropython-mcu32, bench/bench_memory.py), and the long case and the
# fault bench run there (tests/test_long_case_sim.py, docs/RELIABILITY.md).
# The other simulated-unit tests, which validate and run dozens of set-ups
# back to back on one unit, get 256k: at 192k a test that builds several
# large recording set-ups in a row can find no contiguous block for the next
# (docs/PERFORMANCE.md, Firmware heap).
DEFAULT_HEAP_32 = "256k"

# Markers in the unit's output that say which REPL mode it is in; a soft
# reset keeps the raw REPL, as on a board.
_RAW_MARK = b"raw REPL; CTRL-B to exit"
# What the firmware prints when the host interrupted it (stimfw/app.py): the
# next end of the process is then a reset after an interrupt.
_INTERRUPT_MARK = b"interrupted by the host"
_FRIENDLY_MARK = b"\n>>> "

# The firmware process learns why it booted from this variable.
RESET_CAUSE_ENV = "STIMBOX_SIM_RESET_CAUSE"
# How often the supervisor looks for an expired watchdog.
_WATCH_S = 0.05

# A unit that dies this soon after starting is crash-looping: slow down.
_CRASH_WINDOW_S = 1.0
_CRASH_BACKOFF_S = 1.0


def micropython_executable() -> str:
    """The MicroPython Unix port installed beside this Python: the default runtime."""
    return mp_runtime.default_executable()


def default_heap(rt: mp_runtime.Runtime) -> str:
    """The heap that holds about what an RP2040 does, on this runtime."""
    return DEFAULT_HEAP_32 if rt.bits == 32 else DEFAULT_HEAP


def exit_cause(returncode: int, interrupted: bool) -> str:
    """The reset cause the next boot reads ("cause" or "cause|detail"), from
    how the process ended: what a board's reset controller would record."""
    if returncode in (0, -signal.SIGTERM):
        return "interrupt" if interrupted else "soft"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return f"crash|killed by {name}"
    return f"crash|exit code {returncode}"


class SimUnit:
    def __init__(
        self,
        name: str | None = None,
        flash: Path | None = None,
        heap: str | None = None,
        env: dict[str, str] | None = None,
        scenario: str = scenarios.DEFAULT,
        seed: int = 0,
        realtime: bool = False,
        micropython: str | os.PathLike[str] | None = None,
        ticks_start_us: int = 0,
        stage: dict[str, dict[str, float]] | None = None,
        amp: dict[int, dict[str, float]] | None = None,
        prefix: str = "sim",
    ) -> None:
        """name: a fixed unit name (SimError if a unit of that name runs);
        None (default): the first free <prefix>N, unique on this machine."""
        # The runtime and the hardware model first: a missing executable or a
        # bad scenario (or stage or amp setting) fails before anything runs.
        self.runtime = mp_runtime.probe(micropython)
        self.model = HardwareModel(scenario=scenario, seed=seed, realtime=realtime, ticks_start_us=ticks_start_us,
                                   stage=stage, amp=amp)
        self.slot = registry.claim(name, prefix)
        self.name = self.slot.name
        self.flash = Path(flash) if flash else self.slot.dir / "flash"
        self.flash.mkdir(parents=True, exist_ok=True)
        # Ground truth lives beside the flash folder, never on it: the
        # firmware cannot read it, tests and phantom validation can.
        self.groundtruth_path = self.flash.parent / (self.flash.name + ".groundtruth.json")
        self.model_server = ModelServer(self.model, socket_path(self.slot.dir), self.groundtruth_path)
        self.heap = heap or default_heap(self.runtime)
        self.extra_env = dict(env or {})
        self._rom_report = self.slot.dir / "rom.json"
        self.unit_pty = PtyPair()
        self.host_pty = PtyPair()
        self.port = self.host_pty.path
        self.relay = Relay(self.unit_pty, self.host_pty, self._watch_output)
        self.boots = 0
        # Why each boot happened, in order ("power_on", "soft", "interrupt",
        # "watchdog", "crash|detail"); the firmware process sees its own in
        # STIMBOX_SIM_RESET_CAUSE.
        self.reset_causes: list[str] = []
        self._raw_mode = False
        self._tail = b""
        # Why the next boot starts (the board's reset cause), and whether the
        # firmware said it was interrupted since the last boot.
        self.reset_cause = "power_on"
        self._interrupted = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._supervise, name="sim-unit", daemon=True)

    # --- life cycle ---------------------------------------------------------
    def start(self) -> SimUnit:
        self.model_server.start()
        self.relay.start()
        self._spawn(raw=False)
        self._thread.start()
        self.slot.publish(
            port=self.port,
            pid=os.getpid(),
            flash=str(self.flash),
            scenario=self.model.scenario.name,
            seed=self.model.seed,
            realtime=self.model.clock.realtime,
            ticks_start_us=self.model.ticks_start_us,
            groundtruth=str(self.groundtruth_path),
            heap=self.heap,
            runtime=self.runtime.as_dict(),
        )
        return self

    def stop(self) -> None:
        self._stopping.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._thread.join(timeout=3)
        self.relay.stop()
        self.model_server.stop()
        self.unit_pty.close()
        self.host_pty.close()
        self.slot.release()

    def __enter__(self) -> SimUnit:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def request_stop(self) -> None:
        """Ask wait() to return; safe from a signal handler."""
        self._stopping.set()

    def wait(self) -> None:
        """Block until stop() is called from another thread or a signal."""
        while not self._stopping.wait(0.5):
            pass

    # --- the MicroPython process ---------------------------------------------
    def _spawn(self, raw: bool) -> None:
        env = dict(os.environ)
        env.update(self.extra_env)
        env["STIMBOX_SIM_FLASH"] = str(self.flash)
        env["STIMBOX_SIM_BOOT"] = "raw" if raw else "normal"
        env["STIMBOX_SIM_UNIT"] = self.name
        env[wire.ENV_SOCKET] = str(self.model_server.path)
        env[RESET_CAUSE_ENV] = self.reset_cause
        self.reset_causes.append(self.reset_cause)
        self._interrupted = False
        # A new boot starts with an empty input queue, as a rebooted board does.
        termios.tcflush(self.unit_pty.slave, termios.TCIFLUSH)
        self.relay.flush_to_unit()
        self._raw_mode = raw
        # The firmware as it is on the flash now (a deploy may have changed
        # it), in the ROMFS partition a board would run it from.
        image = romflash.build(self.flash, self.slot.dir / "rom.img")
        env.update(romflash.env(self.runtime.path, self.heap, image, self._rom_report))
        self._rom_report.unlink(missing_ok=True)
        self._proc = subprocess.Popen(
            [self.runtime.path, "-X", "heapsize=" + romflash.process_heap(self.heap, image), "-i", str(ROM)],
            stdin=self.unit_pty.slave,
            stdout=self.unit_pty.slave,
            stderr=self.unit_pty.slave,
            env=env,
            cwd=str(self.flash),
            start_new_session=True,
        )
        self.boots += 1
        self.started_at = time.monotonic()
        if raw:
            # Re-enter the raw REPL the way the board's reset left it.
            os.write(self.unit_pty.master, b"\x01")

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            proc = self._proc
            assert proc is not None
            watchdog = False
            try:
                proc.wait(timeout=_WATCH_S)
            except subprocess.TimeoutExpired:
                if not self.model.take_watchdog_reset():
                    continue
                # The firmware stopped feeding the watchdog: the model has
                # stopped the outputs; reset the unit, as the hardware would.
                watchdog = True
                proc.kill()
                proc.wait()
            if self._stopping.is_set():
                return
            self.last_exit = proc.returncode
            # Exit 0 (Ctrl-D or soft_reset at the REPL) and SIGTERM from the
            # boot ROM (soft_reset while main.py runs) are soft resets; any
            # other end is a crash, and the board would hard-reset.
            soft = proc.returncode in (0, -signal.SIGTERM) and not watchdog
            self.reset_cause = ("watchdog" if watchdog
                                else exit_cause(proc.returncode, self._interrupted))
            if not soft and not watchdog and time.monotonic() - self.started_at < _CRASH_WINDOW_S:
                time.sleep(_CRASH_BACKOFF_S)
            if soft:
                self.relay.inject_to_host(b"MPY: soft reboot\r\n")
            if watchdog:
                self.relay.inject_to_host(b"StimBox sim: watchdog reset\r\n")
            # A soft reset from the raw REPL comes back in the raw REPL, as on
            # a board; a hard reset (crash, watchdog, power cycle) boots
            # normally and runs main.py.
            self._spawn(raw=self._raw_mode and soft)

    def rom(self) -> dict[str, int] | None:
        """What this boot's ROM mount took and held back (rom.py's report:
        image, image_heap, native, held, free, board_free, residual), or
        None when the flash had no firmware to put there."""
        return romflash.read_report(self._rom_report)

    def crash(self, sig: int = signal.SIGKILL) -> None:
        """Kill the firmware's process as a crash would end it (tests); the
        supervisor starts it again, and the next boot hears why."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(sig)

    def _watch_output(self, data: bytes) -> None:
        buf = self._tail + data
        if _INTERRUPT_MARK in buf:
            self._interrupted = True
        r = buf.rfind(_RAW_MARK)
        f = buf.rfind(_FRIENDLY_MARK)
        if r != -1 or f != -1:
            self._raw_mode = r > f
        self._tail = buf[-32:]
