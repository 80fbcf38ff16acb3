"""Fixtures: a firmware image built once per session per runtime, simulated
units started and stopped per test, and a connected host client.

Every simulated-unit fixture runs on both MicroPython runtimes (the `runtime`
fixture, "unix" and "mcu32"; see mpy.py): the PyPI Unix port and the
board-like 32-bit float32 one, skipped with a reason where it is absent. A
test parametrizing "runtime" itself overrides the fixture."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from mpy import BOTH, executable  # noqa: E402
from simunit.boardfiles import wire  # noqa: E402
from simunit.model import HardwareModel  # noqa: E402
from simunit.modelserver import ModelServer, socket_path  # noqa: E402
from simunit.supervisor import SimUnit  # noqa: E402
from stimbox.build import Image, build_image, install_offline  # noqa: E402
from stimbox.client import StimBox  # noqa: E402
from stimbox.runtime import probe  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_sim_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # Units started by tests never mix with a user's own simulated units.
    monkeypatch.setenv("STIMBOX_SIM_HOME", str(tmp_path_factory.mktemp("simhome")))
    monkeypatch.delenv("STIMBOX_PORT", raising=False)


# Test modules whose firmware-image code is written for the PyPI port alone
# (their run_mp calls and mpy-cross architecture are fixed to it): there the
# runtime fixture stays "unix" instead of running on both.
PYPI_PORT_ONLY = ("test_dsp_",)


def _parametrizes_runtime(metafunc: pytest.Metafunc) -> bool:
    for mark in metafunc.definition.iter_markers(name="parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", ())
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        if "runtime" in names:
            return True
    return False


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Every test that uses the runtime fixture (directly or through
    # firmware_image, sim_unit, box, blank_unit, new_unit) runs on both
    # runtimes, unless it parametrizes "runtime" itself.
    if "runtime" not in metafunc.fixturenames or _parametrizes_runtime(metafunc):
        return
    if metafunc.module.__name__.startswith(PYPI_PORT_ONLY):
        return
    metafunc.parametrize("runtime", BOTH, indirect=True)


@pytest.fixture
def runtime(request: pytest.FixtureRequest) -> str:
    """The MicroPython runtime a simulated unit runs on: "unix" or "mcu32"."""
    return str(getattr(request, "param", "unix"))


@pytest.fixture(scope="session")
def image_for(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Image]:
    """image_for(runtime): the firmware built for that runtime's .mpy
    architecture, once per session."""
    images: dict[str, Image] = {}

    def get(runtime: str) -> Image:
        if runtime not in images:
            arch = probe(executable(runtime)).mpy_arch
            images[runtime] = build_image("sim", tmp_path_factory.mktemp("image") / runtime, arch=arch)
        return images[runtime]

    return get


@pytest.fixture
def firmware_image(runtime: str, image_for: Callable[[str], Image]) -> Image:
    """The firmware built for the test's runtime."""
    return image_for(runtime)


@pytest.fixture
def new_unit(runtime: str) -> Callable[..., SimUnit]:
    """SimUnit(**kw) on the test's runtime (not started)."""

    def make(**kw: Any) -> SimUnit:
        return SimUnit(micropython=executable(runtime), **kw)

    return make


@pytest.fixture
def sim_unit(firmware_image: Image, new_unit: Callable[..., SimUnit]) -> Iterator[SimUnit]:
    """A running simulated unit with the current firmware on its flash."""
    unit = new_unit()
    install_offline(firmware_image, unit.flash)
    with unit:
        yield unit


@pytest.fixture
def blank_unit(new_unit: Callable[..., SimUnit]) -> Iterator[SimUnit]:
    """A running simulated unit with an empty flash (REPL only)."""
    with new_unit() as unit:
        yield unit


@pytest.fixture
def box(sim_unit: SimUnit) -> Iterator[StimBox]:
    with StimBox.connect(sim_unit.port) as b:
        yield b


@pytest.fixture
def sim_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModelServer]:
    """A hardware model served on its socket, with the socket's path in the
    environment, so firmware code run under micropython can build the sim Hal."""
    server = ModelServer(HardwareModel(seed=1), socket_path(tmp_path), tmp_path / "groundtruth.json")
    monkeypatch.setenv(wire.ENV_SOCKET, str(server.path))
    with server:
        yield server


@pytest.fixture(scope="session")
def case(image_for: Callable[[str], Image], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One short case stored in a session folder (case_folder.py), made once
    for the export, plot and report tests, which read it and never write it.
    On the PyPI port alone: those tests are of host code."""
    from case_folder import run_case

    with pytest.MonkeyPatch.context() as mp:
        # Its own sim home: the per-test one is not set up yet for a session fixture.
        mp.setenv("STIMBOX_SIM_HOME", str(tmp_path_factory.mktemp("case-simhome")))
        mp.delenv("STIMBOX_PORT", raising=False)
        return run_case(image_for("unix"), executable("unix"), tmp_path_factory.mktemp("case") / "session")
