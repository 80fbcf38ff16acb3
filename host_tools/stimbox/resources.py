"""Where the files the host reads at run time are: the example protocols,
the board folders, the firmware sources, the unit's loader, the simulated
unit's scenarios and boot ROM.

All of them are packages of the installed distribution (setup.py maps the
folders they are edited in onto them), found through importlib.resources,
never through a path into a source tree: an editable install finds them in
the checkout, a wheel in site-packages. They must be plain files on disk,
because mpy-cross and the MicroPython runtime read them by path.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from stimbox.errors import StimBoxError

PROTOCOLS = "stimbox_protocols"
BOARDS = "stimbox_boards"
LOADER = "stimbox_loader"
FIRMWARE = "stimfw"
SIMULATOR = "simunit"


class ResourceError(StimBoxError):
    """A part of the installation the host reads at run time is missing."""


def package_dir(package: str) -> Path:
    """The folder of an installed package, as a real path."""
    try:
        root = files(package)
    except ModuleNotFoundError:
        raise ResourceError(f"the package {package} is not installed; reinstall stimbox") from None
    if not isinstance(root, Path) or not root.is_dir():
        raise ResourceError(f"the package {package} is not a folder on disk ({root}); "
                            "install stimbox unpacked (pip install)")
    return root


def protocols_dir() -> Path:
    """The example protocols, <name>.toml."""
    return package_dir(PROTOCOLS)


def boards_dir() -> Path:
    """One folder per board: board.py, hal.py (boards that can be built),
    validation.toml, phantom.toml and the like."""
    return package_dir(BOARDS)


def board_dir(board: str) -> Path:
    return boards_dir() / board


def firmware_dir() -> Path:
    """The stimfw package, the firmware every board's image compiles."""
    return package_dir(FIRMWARE)


def loader_dir() -> Path:
    """The loader, main.py and boot.py, that a unit keeps as source."""
    return package_dir(LOADER)


def scenarios_dir() -> Path:
    """The simulated unit's scenarios, <name>.toml."""
    return package_dir(SIMULATOR) / "scenarios"


def sim_rom() -> Path:
    """The simulated unit's boot ROM script, run by the MicroPython process."""
    return package_dir(SIMULATOR) / "rom.py"
