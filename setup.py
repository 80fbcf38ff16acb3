"""Which packages the wheel holds and where each lives in this tree; the
metadata is in pyproject.toml.

Code: the host tools (host_tools/), the firmware (firmware/stimfw) and the
simulated unit (boards/sim/simunit), every subpackage found where it is.
Data the host reads at run time goes in as packages too, mapped from the
folders it is edited in, and is read through stimbox.resources:
protocols/ -> stimbox_protocols, boards/ -> stimbox_boards (one subpackage
per board: board.py, hal.py, simwire.py, *.toml), the loader
(firmware/main.py, boot.py) -> stimbox_loader, and the simulated unit's
scenarios (simunit.scenarios, *.toml).
"""

from pathlib import Path

from setuptools import find_packages, setup

CODE_ROOTS = {"host_tools": "stimbox", "firmware": "stimfw", "boards/sim": "simunit"}
BOARDS = sorted(d.name for d in Path("boards").iterdir() if (d / "board.py").exists())

packages: list[str] = []
package_dir: dict[str, str] = {}
for root, top in CODE_ROOTS.items():
    for pkg in find_packages(root, include=[top, top + ".*"]):
        packages.append(pkg)
        package_dir[pkg] = root + "/" + pkg.replace(".", "/")

data = {"stimbox_protocols": "protocols", "stimbox_boards": "boards", "stimbox_loader": "firmware"}
data.update({f"stimbox_boards.{b}": f"boards/{b}" for b in BOARDS})
data["simunit.scenarios"] = "boards/sim/simunit/scenarios"
packages += list(data)
package_dir.update(data)

setup(
    packages=packages,
    package_dir=package_dir,
    package_data={
        "stimbox_protocols": ["*.toml"],
        **{f"stimbox_boards.{b}": ["*.toml"] for b in BOARDS},
        "simunit.scenarios": ["*.toml"],
    },
)
