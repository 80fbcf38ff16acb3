"""Deploying with the real mpremote CLI: identical steps for board and sim,
atomic switch, verified build, and a unit that survives a broken deploy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from images import older_build
from simunit.supervisor import SimUnit
from stimbox import deploy as dp
from stimbox.build import Image, board_module, boards, install_offline
from stimbox.client import StimBox

STIMBOX = str(Path(sys.executable).with_name("stimbox"))


def test_cli_deploy_to_a_running_unit_then_talk_to_the_new_firmware(sim_unit: SimUnit) -> None:
    with StimBox.connect(sim_unit.port) as box:
        old = box.info()["build"]
    r = subprocess.run(
        [STIMBOX, "deploy", "--port", sim_unit.port],
        capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "build hash verified" in r.stdout
    with StimBox.connect(sim_unit.port) as box:
        info = box.info()
    assert info["build_ok"]
    assert info["firmware"]["slot"].endswith(info["build"][:12])
    assert r.stdout.split()[2] == info["build"][:12]
    assert old == info["build"]  # same sources, same build: deploys are reproducible


def test_deploy_to_a_blank_unit_finds_the_board_and_boots(blank_unit: SimUnit) -> None:
    report = dp.deploy(blank_unit.port)
    assert report.board == "sim" and report.previous is None
    assert report.arch == blank_unit.runtime.mpy_arch  # from its registry entry
    with StimBox.connect(blank_unit.port) as box:
        assert box.info()["build"] == report.build


def test_a_deploy_cut_after_upload_leaves_the_previous_firmware(
    tmp_path: Path, firmware_image: Image, new_unit
) -> None:
    new = firmware_image
    old = older_build(tmp_path, new.arch)
    assert old.build != new.build
    with new_unit() as unit:
        install_offline(old, unit.flash)
        with StimBox.connect(unit.port) as box:
            box.reboot()
        dp.upload(unit.port, new)  # ... and the cable is pulled here
        with StimBox.connect(unit.port) as box:  # power cycle / reconnect
            info = box.info()
        assert info["build"] == old.build and info["fw"] == "0.0.9-old"
        # Finishing the deploy later works from that state.
        dp.switch(unit.port, new)
        assert dp.reboot_and_verify(unit.port, new)["build"] == new.build
        assert (unit.flash / "fw" / "previous").read_text().strip() == old.slot


def test_a_broken_active_slot_falls_back_to_the_previous_one(
    tmp_path: Path, firmware_image: Image, new_unit
) -> None:
    new = firmware_image
    old = older_build(tmp_path, new.arch)
    with new_unit() as unit:
        install_offline(old, unit.flash)
        install_offline(new, unit.flash)
        # Flash corruption in the new slot: its main module no longer loads.
        (unit.flash / "fw" / new.slot / "stimfw" / "app.mpy").write_bytes(b"\x00garbage")
        with StimBox.connect(unit.port) as box:
            box.reboot_from_repl()
            info = box.info()
        assert info["build"] == old.build


def test_no_runnable_firmware_leaves_a_usable_repl(firmware_image: Image, new_unit) -> None:
    new = firmware_image
    with new_unit() as unit:
        install_offline(new, unit.flash)
        (unit.flash / "fw" / new.slot / "stimfw" / "app.mpy").unlink()
        out = dp.mpremote(unit.port, "exec", "print(6 * 7)", timeout=20)
        assert out.strip() == "42"


def test_the_arch_of_a_sim_unit_missing_from_the_registry_is_asked_of_it(
    blank_unit: SimUnit, monkeypatch: pytest.MonkeyPatch
) -> None:
    want = blank_unit.runtime.mpy_arch
    asked: list[tuple[str, ...]] = []
    real = dp.mpremote

    def spy(port: str, *args: str, **kw: float) -> str:
        asked.append(args)
        return real(port, *args, **kw)

    monkeypatch.setattr(dp, "mpremote", spy)
    assert dp.unit_arch(blank_unit.port, "sim") == want and asked == []
    hardware = next(b for b in boards() if board_module(b).MPY_ARCH is not None)
    assert dp.unit_arch(blank_unit.port, hardware) == board_module(hardware).MPY_ARCH  # a board says its own
    blank_unit.slot.publish(port=blank_unit.port)  # an entry without the runtime
    assert dp.unit_arch(blank_unit.port, "sim") == want
    assert len(asked) == 1 and "_mpy" in asked[0][1]


def test_wrong_board_is_a_clear_error(sim_unit: SimUnit) -> None:
    with pytest.raises(Exception, match="unknown board 'nosuch'"):
        dp.deploy(sim_unit.port, board="nosuch")


def test_deploy_to_a_missing_port_is_one_line() -> None:
    r = subprocess.run([STIMBOX, "deploy", "--port", "/dev/ttyNOPE0"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 3
    assert r.stderr.count("\n") == 1 and "no such port" in r.stderr
