"""Link benchmarks on a simulated unit.

Prints:
- the median request/reply round trip (ping);
- bulk pull throughput, and the same amount of raw bytes written by the
  MicroPython process through the same pseudo-terminal pair and relay (the
  physical limit here), as a ratio (medians of interleaved repeats);
- wire efficiency of bulk transfers (payload bytes / bytes on the wire).

Run: .venv/bin/python bench/bench_link.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("STIMBOX_SIM_HOME", tempfile.mkdtemp(prefix="stimbox-bench-"))

from simunit.ptyrelay import PtyPair, Relay  # noqa: E402
from simunit.supervisor import SimUnit, micropython_executable  # noqa: E402
from stimbox.build import build_image, install_offline  # noqa: E402
from stimbox.client import StimBox  # noqa: E402

PULL_SIZE = 16384
PULLS = 80
PINGS = 300
REPEATS = 3


def raw_copy_rate(total: int) -> float:
    """Bytes/s for MicroPython writing `total` raw bytes through pty+relay+pty."""
    unit, host = PtyPair(), PtyPair()
    relay = Relay(unit, host)
    fd = os.open(host.path, os.O_RDWR | os.O_NOCTTY)
    relay.start()
    time.sleep(0.1)
    code = (
        "import sys\nb = bytes(1024)\nw = sys.stdout.buffer.write\n"
        f"for _ in range({total // 1024}):\n    w(b)\n"
    )
    t0 = time.perf_counter()
    proc = subprocess.Popen([micropython_executable(), "-c", code], stdout=unit.slave)
    got = 0
    while got < total:
        got += len(os.read(fd, 65536))
    dt = time.perf_counter() - t0
    proc.wait()
    os.close(fd)
    relay.stop()
    unit.close()
    host.close()
    return total / dt


def main() -> None:
    image = build_image("sim")
    with SimUnit() as unit:
        install_offline(image, unit.flash)
        with StimBox.connect(unit.port) as box:
            for _ in range(20):
                box.ping()
            rtts = []
            for _ in range(PINGS):
                t = time.perf_counter()
                box.ping()
                rtts.append(time.perf_counter() - t)

            wire = 0
            read = box.transport.read

            def counting(timeout: float) -> bytes:
                nonlocal wire
                data = read(timeout)
                wire += len(data)
                return data

            box.transport.read = counting  # type: ignore[method-assign]
            box.pull("test_pattern", size=PULL_SIZE)  # warm the pattern cache
            wire = 0
            bulks, raws = [], []
            payload = PULL_SIZE * PULLS
            # Interleaved repeats, medians: both figures see the same machine load.
            for _ in range(REPEATS):
                t0 = time.perf_counter()
                for _ in range(PULLS):
                    box.pull("test_pattern", size=PULL_SIZE)
                bulks.append(payload / (time.perf_counter() - t0))
                raws.append(raw_copy_rate(payload))
            efficiency = payload * REPEATS / wire
    bulk = statistics.median(bulks)
    raw = statistics.median(raws)
    print(f"round trip (ping), median of {PINGS}: {statistics.median(rtts) * 1e3:.3f} ms "
          f"(p90 {sorted(rtts)[int(PINGS * 0.9)] * 1e3:.3f} ms)")
    print(f"bulk pull: {bulk / 1e3:.0f} kB/s of payload ({PULLS} x {PULL_SIZE} B)")
    print(f"raw copy through the same pty pair: {raw / 1e3:.0f} kB/s")
    print(f"bulk / raw throughput ratio: {bulk / raw:.3f}")
    print(f"bulk wire efficiency: {efficiency:.4f} (payload bytes / bytes on the wire)")


if __name__ == "__main__":
    sys.exit(main())
