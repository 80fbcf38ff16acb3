"""Every ```python block of docs/API.md runs as it stands, in a process of
its own, and prints figures that agree with what it asked of the
simulated unit and with the scenario's truth. Each block builds the
firmware and starts a unit of its own, on the default runtime: the
firmware is not what is tested here (test_api_sim.py and the firmware's
own tests are)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).parents[1] / "docs" / "API.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.M | re.S)


def numbers(pattern: str, out: str) -> list[float]:
    """The first group of every match of pattern in out, as numbers."""
    found = [float(m) for m in re.findall(pattern, out)]
    assert found, (pattern, out)
    return found


def check_pulses(out: str) -> None:
    # asked: 10 pulses of 5 mA for 200 us: 1000 nC each, within the sim
    # board's 3 % read-back tolerance (boards/sim/validation.toml)
    assert numbers(r"complete, (\d+) pulses delivered on P1", out) == [10]
    (q,) = numbers(r"charge per pulse (\d+) nC", out)
    assert abs(q - 1000) <= 30
    (total,) = numbers(r"total (\d+) nC", out)
    assert abs(total - 10 * q) <= 10 * 30
    assert "refused by the unit: limit amplitude: value 150000 uA, allowed 0..100000 uA" in out


def check_case(out: str) -> None:
    # The model's median N20 is at 19.5 ms (simunit/physiology.py). At its
    # usual size noise moves it by up to 0.6 ms after 200 sweeps
    # (docs/PERFORMANCE.md), by sqrt(2) more after these 100.
    lat = numbers(r"SSEP [lr]_median N20/P25: latency ([\d.]+) ms", out)
    assert len(lat) == 2 and all(18.5 <= x <= 20.5 for x in lat), lat
    assert numbers(r"(\d+) samples at 5000 Hz, -10\.0\.\.", out) == [350]
    # the average's trough (causally filtered: a little later than the component) where the N20 is
    assert 18.5 <= numbers(r"N20 trough -?[\d.]+ uV at ([\d.]+) ms", out)[0] <= 21
    assert numbers(r"MEP \w+: present in (\d) of 3 trials", out)[0] == 3  # APB_R, the hand
    # L5_L breached at 2.8 mA: L4-L5 and S1-S2 muscles answer below the 8 mA alarm
    ta, ah = (numbers(rf"L_{m} \([LS\d-]+\): threshold ([\d.]+) mA", out)[0] for m in ("TA", "AH"))
    assert 2.5 <= ta < 8 and 2.5 <= ah < 8
    assert len(re.findall(r"^ALARM temg_threshold L_(TA|AH)", out, flags=re.M)) == 2
    runs, pulses, averages = numbers(r"session folder: (\d+) runs", out) + \
        numbers(r"runs, (\d+) pulses", out) + numbers(r"pulses, (\d+) averages of the SSEP", out)
    (steps,) = numbers(r"tEMG (\d+) pulses", out)
    # 100 per side, 3 trains of 5, the search's steps; 2 sites x 3 channels x 3 splits stored
    assert (runs, pulses, averages) == (3, 200 + 15 + steps, 18)


CHECKS = [check_pulses, check_case]


def test_the_doc_has_the_blocks_checked_here() -> None:
    assert len(python_blocks(DOC.read_text())) == len(CHECKS)


@pytest.mark.parametrize("index", range(len(CHECKS)))
def test_api_doc_example_runs(index: int, tmp_path: Path) -> None:
    block = python_blocks(DOC.read_text())[index]
    script = tmp_path / f"example{index}.py"
    script.write_text(block)
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    CHECKS[index](r.stdout)
