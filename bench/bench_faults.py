"""Faults and attacks on the simulated unit, each tried N times, counted
against the hardware model's truth. Prints one Markdown table row per fault
(the rows of docs/RELIABILITY.md):

    fault | tries | passes | lost pulses | event gaps | notes

"lost pulses": pulses the model delivered minus pulses in per-pulse records
the unit's journal still hands out afterwards (read by a host through
records(), then acknowledged; a pulse the boot journalled from the output
stage's count, flagged unverified, counts as recorded, and the notes say how
many there were); "event gaps": records missing from the
journal's sequence (every try's records must continue the last try's
sequence number by number, across every reboot). A try passes when the unit
is reachable and idle afterwards, the fault's own rule held, and nothing was
lost.

    .venv/bin/python bench/bench_faults.py [-n N] [--runtime unix|mcu32] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from images import older_build  # noqa: E402
from mpy import HAVE_MCU32, RUNTIMES  # noqa: E402
from simunit.supervisor import SimUnit  # noqa: E402
from stimbox import protocols  # noqa: E402
from stimbox.build import Image, board_module, build_image, install_offline  # noqa: E402
from stimbox.client import StimBox  # noqa: E402
from stimbox.errors import DeviceError  # noqa: E402
from stimbox.runtime import probe  # noqa: E402
from stimfw.link import codec as lc  # noqa: E402
from stimfw.link import messages as m  # noqa: E402

BOARD = board_module("sim")
PULSES_BEFORE_FAULT = 30  # a run is well under way when the fault hits


@dataclass
class Row:
    fault: str
    command: str
    tries: int = 0
    passes: int = 0
    lost: int = 0
    gaps: int = 0
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        notes = "; ".join(dict.fromkeys(self.notes))
        return (f"| {self.fault} | `{self.command}` | {self.tries} | {self.passes} | "
                f"{self.lost} | {self.gaps} | {notes} |")


def ssep(count: int) -> dict[str, Any]:
    p = protocols.load("ssep", BOARD)
    p["count"] = count
    return p


class Ledger:
    """What a host that keeps the unit's journal has seen: the model's pulse
    count and the journal's sequence number at the last settle()."""

    def __init__(self, unit: SimUnit) -> None:
        self.unit = unit
        self.delivered = unit.model.pulse_count
        self.last_seq: int | None = None

    def settle(self, box: StimBox) -> tuple[int, int, list[dict[str, Any]]]:
        """Read every record not yet acknowledged, acknowledge them; returns
        (pulses lost, sequence numbers missing, the records)."""
        wait_idle(box)
        # From where this host stopped reading, not from the unit's acknowledged
        # seq: another host may have acknowledged while no session held the unit.
        records = box.all_records(self.last_seq)
        page = box.records(self.last_seq)
        seqs = [r["seq"] for r in records]
        first = self.last_seq + 1 if self.last_seq is not None else (seqs[0] if seqs else 1)
        expect = list(range(first, first + len(seqs)))
        gaps = page.lost + (0 if seqs == expect else max(1, (seqs[-1] - first + 1) - len(seqs)))
        journal = sum(len(r["amp"]) for r in records if r["type"] == "pulses")
        now = self.unit.model.pulse_count
        lost = (now - self.delivered) - journal
        self.delivered = now
        if seqs:
            self.last_seq = seqs[-1]
            box.ack(seqs[-1])
        return lost, gaps, records


def unverified(records: list[dict[str, Any]]) -> int:
    """Pulses journalled at boot from the output stage's count (fired, never read back)."""
    return sum(1 for r in records if r["type"] == "pulses" for q in r["q_nc"] if q is None)


def closed_by(records: list[dict[str, Any]], cause: str) -> bool:
    """The interrupted run's books were closed at the next boot, naming the cause."""
    return [r.get("outcome") for r in records if r["type"] == "result"] == [cause]


def wait_idle(box: StimBox, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        st = box.status()
        if st["state"] == "IDLE":
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"unit not idle: {st['state']}")
        box.poll(0.1)


def start_run(box: StimBox, unit: SimUnit, count: int = 300, pulses: int = PULSES_BEFORE_FAULT) -> int:
    """Start an SSEP and keep it going until the model delivered `pulses`."""
    box.arm(box.check_protocol(ssep(count))["hash"])
    run = box.start()
    target = unit.model.pulse_count + pulses
    deadline = time.monotonic() + 30
    while unit.model.pulse_count < target:
        if time.monotonic() > deadline:
            raise TimeoutError("run did not get going")
        box.poll(0.05)
        box.heartbeat()
    return run


@contextmanager
def unit_with(image: Image, micropython: str, **kw: Any) -> Iterator[SimUnit]:
    # The board-like runtime at an RP2040's heap, the firmware from ROMFS.
    if micropython == RUNTIMES.get("mcu32"):
        kw.setdefault("heap", "192k")
    unit = SimUnit(micropython=micropython, **kw)
    install_offline(image, unit.flash)
    with unit:
        yield unit


def tally(row: Row, ok: bool, lost: int = 0, gaps: int = 0, note: str | None = None) -> None:
    row.tries += 1
    row.lost += max(0, lost)
    row.gaps += gaps
    row.passes += int(ok and lost == 0 and gaps == 0)
    if note:
        row.notes.append(note)


def attempt(row: Row, fn: Callable[[], tuple[bool, int, int, str | None]]) -> None:
    try:
        tally(row, *fn())
    except Exception as e:  # a fault that breaks the bench's host is a failed try
        tally(row, False, note=f"{type(e).__name__}: {e}"[:120])


# --- the faults ---------------------------------------------------------------

def fuzz_chunk(rng: random.Random) -> tuple[bytes, int]:
    """Random bytes (never 0x03: that is the interrupt, a row of its own) or
    a request frame of a random type with a random JSON payload, whole, cut
    or shifted. Returns the bytes and the frames in them."""
    kind = rng.randrange(4)
    if kind == 0:
        return bytes(rng.choice([x for x in range(256) if x != 3]) for _ in range(rng.randrange(1, 64))), 0
    types = [m.MSG_VALIDATE, m.MSG_PLAN, m.MSG_ARM, m.MSG_START, m.MSG_STOP, m.MSG_DISARM,
             m.MSG_STATUS, m.MSG_RESULT, m.MSG_HEARTBEAT, m.MSG_EVENTS, m.MSG_RECORDS, m.MSG_PING]
    obj: dict[str, Any] = rng.choice([
        {"type": rng.choice(["ssep", "tcmep", "temg", "scs"]),
         "hash": "".join(rng.choice("0123456789abcdef") for _ in range(64))},
        {"token": f"{rng.getrandbits(32):08x}", "run": rng.randrange(-5, 5)},
        {"since": rng.randrange(-3, 10**6), "ack": rng.randrange(-3, 10**6)},
        {"sites": [{"amp_ua": rng.randrange(-10**6, 10**6)}], "count": rng.randrange(-9, 10**5)},
    ])
    frame = lc.encode_frame(lc.KIND_REQUEST, rng.choice(types), rng.randrange(65536), json.dumps(obj).encode())
    return [frame, frame[: len(frame) // 2], frame[1:]][kind - 1], 1


def fault_fuzz(row: Row, image: Image, mp: str, tries: int, frames: int) -> None:
    with unit_with(image, mp) as unit, StimBox.connect(unit.port) as box:
        led = Ledger(unit)
        led.settle(box)
        sent = 0
        for t in range(tries):
            def one(t: int = t) -> tuple[bool, int, int, str | None]:
                nonlocal sent
                rng = random.Random(t)
                before = unit.model.pulse_count
                for _ in range(frames):
                    data, n = fuzz_chunk(rng)
                    sent += n
                    box.transport.write(data)
                box.transport.write(b"\x7e")  # close whatever frame is open
                box.transport.drain(0.5)
                box.ping()
                fired = unit.model.pulse_count - before
                st = box.status()
                # ... and the unit still runs a protocol, every pulse journalled.
                run = box.check_protocol(ssep(20))
                box.arm(run["hash"])
                box.start()
                wait_idle(box)
                lost, gaps, _ = led.settle(box)
                return fired == 0 and st["state"] == "IDLE", lost, gaps, None
            attempt(row, one)
        row.notes.append(f"{sent} request frames among the bytes, none stimulated")


HOST_SCRIPT = """
import sys
from stimbox import protocols
from stimbox.build import board_module
from stimbox.client import StimBox
from stimbox.session import run_protocol
p = protocols.load("ssep", board_module("sim"))
p["count"] = 300
with StimBox.connect(sys.argv[1]) as box:
    run_protocol(box, p)
"""


def fault_host_kill(row: Row, image: Image, mp: str, tries: int) -> None:
    with unit_with(image, mp) as unit:
        with StimBox.connect(unit.port) as box:
            led = Ledger(unit)
            led.settle(box)
        for _ in range(tries):
            def one() -> tuple[bool, int, int, str | None]:
                target = unit.model.pulse_count + PULSES_BEFORE_FAULT
                host = subprocess.Popen([sys.executable, "-c", HOST_SCRIPT, unit.port],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                deadline = time.monotonic() + 30
                while unit.model.pulse_count < target and time.monotonic() < deadline:
                    time.sleep(0.01)
                host.send_signal(signal.SIGKILL)
                host.wait()
                delivered_at_kill = unit.model.pulse_count
                with StimBox.connect(unit.port) as box:  # a new host
                    lost, gaps, recs = led.settle(box)
                results = [r for r in recs if r["type"] == "result"]
                ok = (delivered_at_kill >= target and len(results) == 1
                      and results[0]["outcome"] == "heartbeat_lost")
                return ok, lost, gaps, None
            attempt(row, one)


def fault_port_close(row: Row, image: Image, mp: str, tries: int) -> None:
    with unit_with(image, mp) as unit:
        with StimBox.connect(unit.port) as box:
            led = Ledger(unit)
            led.settle(box)
        for _ in range(tries):
            def one() -> tuple[bool, int, int, str | None]:
                box = StimBox.connect(unit.port)
                start_run(box, unit)
                box.close()
                time.sleep(0.2)
                with StimBox.connect(unit.port) as again:
                    lost, gaps, recs = led.settle(again)
                outcomes = [r["outcome"] for r in recs if r["type"] == "result"]
                return outcomes == ["heartbeat_lost"], lost, gaps, None
            attempt(row, one)


def fault_second_host(row: Row, image: Image, mp: str, tries: int) -> None:
    with unit_with(image, mp) as unit, StimBox.connect(unit.port) as owner:
        led = Ledger(unit)
        led.settle(owner)
        for _ in range(tries):
            def one() -> tuple[bool, int, int, str | None]:
                start_run(owner, unit)
                refused = 0
                other = StimBox(owner.transport)  # a second program on the port: no token
                h = other.check_protocol(ssep(5))["hash"]
                for act in (lambda: other.arm(h), other.start, other.heartbeat, other.disarm):
                    try:
                        act()
                    except DeviceError as e:
                        refused += e.name == "not_owner"
                other.stop()
                stopped = unit.model.pulse_count
                time.sleep(0.2)
                late = unit.model.pulse_count - stopped
                owner.disarm()
                lost, gaps, recs = led.settle(owner)
                outcomes = [r["outcome"] for r in recs if r["type"] == "result"]
                return refused == 4 and outcomes == ["stop_command"] and late == 0, lost, gaps, None
            attempt(row, one)


def fault_interrupt(row: Row, image: Image, mp: str, tries: int) -> None:
    with unit_with(image, mp) as unit, StimBox.connect(unit.port) as box:
        led = Ledger(unit)
        led.settle(box)
        for _ in range(tries):
            def one() -> tuple[bool, int, int, str | None]:
                start_run(box, unit)
                box.transport.write(b"\x03")
                time.sleep(0.3)
                box.reboot_from_repl()
                lost, gaps, recs = led.settle(box)
                boot = [r for r in recs if r["type"] == "event" and r["kind"] == "boot"]
                ok = bool(boot) and boot[-1]["cause"] == "interrupt" and closed_by(recs, "interrupted")
                return ok and unverified(recs) == 0, lost, gaps, None
            attempt(row, one)


def fault_crash(row: Row, image: Image, mp: str, tries: int) -> None:
    with unit_with(image, mp) as unit, StimBox.connect(unit.port) as box:
        led = Ledger(unit)
        led.settle(box)
        added = 0
        for _ in range(tries):
            def one() -> tuple[bool, int, int, str | None]:
                nonlocal added
                start_run(box, unit)
                unit.crash()
                box.wait_boot()
                lost, gaps, recs = led.settle(box)
                added += unverified(recs)
                boot = [r for r in recs if r["type"] == "event" and r["kind"] == "boot"]
                ok = bool(boot) and boot[-1]["cause"] == "crash" and closed_by(recs, "crash")
                return ok, lost, gaps, None
            attempt(row, one)
        row.notes.append(f"{added} pulses journalled at boot from the output stage's count")


def fault_stall(row: Row, image: Image, mp: str, tries: int) -> None:
    # The watchdog runs on wall time: a real-time unit.
    with unit_with(image, mp, realtime=True) as unit, StimBox.connect(unit.port) as box:
        led = Ledger(unit)
        led.settle(box)
        added = 0
        for _ in range(tries):
            def one() -> tuple[bool, int, int, str | None]:
                nonlocal added
                start_run(box, unit, count=400, pulses=4)
                expiries = unit.model.wdt_expiries
                box.send(m.MSG_SIM, json.dumps({"stall_ms": BOARD.WATCHDOG_MS + 2000}).encode())
                box.wait_boot(timeout=15)
                lost, gaps, recs = led.settle(box)
                added += unverified(recs)
                boot = [r for r in recs if r["type"] == "event" and r["kind"] == "boot"]
                ok = (unit.model.wdt_expiries == expiries + 1 and unit.reset_causes[-1] == "watchdog"
                      and bool(boot) and boot[-1]["cause"] == "watchdog" and closed_by(recs, "watchdog"))
                return ok, lost, gaps, None
            attempt(row, one)
        row.notes.append(f"{added} pulses journalled at boot from the output stage's count")


def fault_small_heap(row: Row, image: Image, mp: str, tries: int, heaps: list[str]) -> None:
    for t in range(tries):
        heap = heaps[t % len(heaps)]

        def one(heap: str = heap) -> tuple[bool, int, int, str | None]:
            with unit_with(image, mp, heap=heap) as unit, StimBox.connect(unit.port) as box:
                led = Ledger(unit)
                led.settle(box)
                p = protocols.load("tcmep", BOARD)
                p["count"] = 3
                p["record"] = {"channels": list(range(8, 16)), "rate_hz": 10000, "pre_ms": 5,
                               "post_ms": 200, "band": [10, 1500], "blank_us": [100, 2000], "split": True}
                how = "ran"
                try:
                    box.arm(box.check_protocol(p)["hash"])
                    box.start()
                    wait_idle(box)
                except DeviceError as e:
                    how = f"refused ({str(e)[:60]})"
                box.ping()
                lost, gaps, recs = led.settle(box)
                kinds = {r["kind"] for r in recs if r["type"] == "event"}
                if "firmware_fault" in kinds:
                    how = "faulted"
                return box.status()["state"] == "IDLE", lost, gaps, f"{heap}: {how}"
        attempt(row, one)


def fault_deploy_cut(row: Row, new: Image, mp: str, tries: int, seed: int) -> None:
    rng = random.Random(seed)
    stimbox = str(Path(sys.executable).with_name("stimbox"))
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as tmp:
        old = older_build(Path(tmp), new.arch)
        # How long a whole deploy takes here: the cut falls anywhere in it.
        full = None
        for _ in range(tries):
            def one() -> tuple[bool, int, int, str | None]:
                nonlocal full
                with unit_with(old, mp) as unit:
                    with StimBox.connect(unit.port) as box:
                        box.info()
                    t0 = time.monotonic()
                    proc = subprocess.Popen([stimbox, "deploy", "--port", unit.port], start_new_session=True,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    if full is None:
                        proc.wait(timeout=300)
                        full = time.monotonic() - t0
                        cut = full
                    else:
                        cut = rng.uniform(0, full)
                        try:
                            proc.wait(timeout=cut)
                        except subprocess.TimeoutExpired:
                            os.killpg(proc.pid, signal.SIGKILL)  # the cable is pulled
                            proc.wait()
                    unit.crash()  # ... and the unit is power-cycled
                    time.sleep(0.5)
                    try:
                        box = StimBox.connect(unit.port)
                    except Exception as e:
                        return False, 0, 0, f"cut at {cut:.1f} s: {e}"[:120]
                    with box:
                        info = box.info()
                        led = Ledger(unit)
                        led.settle(box)
                        r = box.check_protocol(ssep(10))
                        box.arm(r["hash"])
                        box.start()
                        lost, gaps, _ = led.settle(box)
                    which = {old.build: "old", new.build: "new"}.get(info["build"])
                    return (which is not None and info["build_ok"], lost, gaps,
                            None if which else f"cut at {cut:.1f} s: build {info['build'][:12]}")
            attempt(row, one)
        row.notes.append(f"cut uniformly in 0-{full or 0:.0f} s of a whole deploy (the first try: uncut)")


FAULTS = ["fuzz", "host_kill", "port_close", "second_host", "interrupt", "crash", "stall",
          "small_heap", "deploy_cut"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("-n", type=int, default=3, help="tries per fault (default 3)")
    ap.add_argument("--frames", type=int, default=200, help="fuzz chunks per try (default 200)")
    ap.add_argument("--runtime", choices=sorted(RUNTIMES), default="unix")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", nargs="*", choices=FAULTS, default=FAULTS)
    a = ap.parse_args(argv)
    if a.runtime == "mcu32" and not HAVE_MCU32:
        print("mcu32 runtime not found", file=sys.stderr)
        return 2
    mp = RUNTIMES[a.runtime]
    rt = probe(mp)
    os.environ.setdefault("STIMBOX_SIM_HOME", tempfile.mkdtemp(prefix="bench-faults-home-"))
    with tempfile.TemporaryDirectory(prefix="bench-faults-img-") as tmp:
        image = build_image("sim", Path(tmp) / "image", arch=rt.mpy_arch)
        cmd = f"bench/bench_faults.py -n {a.n} --runtime {a.runtime}"
        heaps = {"unix": ["272k", "288k"], "mcu32": ["176k", "184k"]}[a.runtime]
        plan: dict[str, tuple[str, Callable[[Row], None]]] = {
            "fuzz": (f"fuzzed bytes and frames, {a.frames} chunks a try",
                     lambda r: fault_fuzz(r, image, mp, a.n, a.frames)),
            "host_kill": ("host process killed (SIGKILL) mid-run", lambda r: fault_host_kill(r, image, mp, a.n)),
            "port_close": ("port closed mid-run", lambda r: fault_port_close(r, image, mp, a.n)),
            "second_host": ("second host during a run", lambda r: fault_second_host(r, image, mp, a.n)),
            "interrupt": ("0x03 mid-run", lambda r: fault_interrupt(r, image, mp, a.n)),
            "crash": ("firmware killed mid-run (SimUnit.crash)", lambda r: fault_crash(r, image, mp, a.n)),
            "stall": ("main loop stalled mid-run (watchdog reset)", lambda r: fault_stall(r, image, mp, a.n)),
            "small_heap": ("heap too small for a run's set-up",
                           lambda r: fault_small_heap(r, image, mp, a.n, heaps)),
            "deploy_cut": ("deploy cut at a random point",
                           lambda r: fault_deploy_cut(r, image, mp, a.n, a.seed)),
        }
        print(f"# {time.strftime('%Y-%m-%d')} runtime {a.runtime} ({rt.path})\n")
        print("| fault | command | tries | passes | lost pulses | event gaps | notes |")
        print("|---|---|---|---|---|---|---|")
        for name in a.only:
            title, fn = plan[name]
            row = Row(title, f"{cmd} --only {name}")
            t0 = time.monotonic()
            fn(row)
            row.notes.append(f"{time.monotonic() - t0:.0f} s")
            print(row.line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
