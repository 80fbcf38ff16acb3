"""Fixtures: a firmware image built once per session, simulated units started
and stopped per test, and a connected host client."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from simunit.boardfiles import wire  # noqa: E402
from simunit.model import HardwareModel  # noqa: E402
from simunit.modelserver import ModelServer, socket_path  # noqa: E402
from simunit.supervisor import SimUnit  # noqa: E402
from stimbox.build import Image, build_image, install_offline  # noqa: E402
from stimbox.client import StimBox  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_sim_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # Units started by tests never mix with a user's own simulated units.
    monkeypatch.setenv("STIMBOX_SIM_HOME", str(tmp_path_factory.mktemp("simhome")))
    monkeypatch.delenv("STIMBOX_PORT", raising=False)


@pytest.fixture(scope="session")
def firmware_image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    return build_image("sim", tmp_path_factory.mktemp("image") / "sim")


@pytest.fixture
def sim_unit(firmware_image: Image) -> Iterator[SimUnit]:
    """A running simulated unit with the current firmware on its flash."""
    unit = SimUnit()
    install_offline(firmware_image, unit.flash)
    with unit:
        yield unit


@pytest.fixture
def blank_unit() -> Iterator[SimUnit]:
    """A running simulated unit with an empty flash (REPL only)."""
    with SimUnit() as unit:
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
