"""Every board folder keeps the board contract: board.py declares what the
host and the firmware read (stimbox.build.BOARD_*_NAMES), and a board with a
hal.py has a Hal that subclasses the HAL contract (stimfw/hal_api.py) and
overrides its calls with compatible signatures, checked on the source and
under the real MicroPython. docs/HAL.md and the contract name the same calls
with the same parameters."""

from __future__ import annotations

import ast
import inspect
import json
import re
from pathlib import Path

import pytest
from mpy import BOTH, FIRMWARE, MCU_HEAP, run_mp_file
from seq_common import run_image
from stimbox import build, usbmatch
from stimbox.errors import BuildError
from stimfw import hal_api

ROOT = Path(__file__).resolve().parents[1]
HAL_DOC = ROOT / "docs" / "HAL.md"
BOARDS = build.boards()
WITH_HAL = [b for b in BOARDS if (build.BOARDS_DIR / b / "hal.py").exists()]
DECLARATIONS_ONLY = [b for b in BOARDS if b not in WITH_HAL]
MPY_ARCHS = {"x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp",
             "xtensa", "xtensawin", "rv32imc", "rv64imc"}

# The contract: every public method of hal_api.Hal, and its attributes.
CONTRACT = {n: f for n, f in vars(hal_api.Hal).items() if not n.startswith("_") and callable(f)}
ATTRS = {n for n, v in vars(hal_api.Hal).items() if not n.startswith("_") and not callable(v)}
SIGS = {n: inspect.signature(f) for n, f in CONTRACT.items()}


def _raises_missing(fn: ast.FunctionDef) -> bool:
    return any(isinstance(s, ast.Raise) and "_missing" in ast.unparse(s) for s in fn.body)


def _contract_ast() -> dict[str, ast.FunctionDef]:
    tree = ast.parse((FIRMWARE / "stimfw" / "hal_api.py").read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Hal")
    return {f.name: f for f in cls.body if isinstance(f, ast.FunctionDef)}


# Calls a board must provide: those the contract leaves to the board (they
# raise NotProvided); the clocks have defaults and sim() is refused by default.
REQUIRED = sorted(n for n, f in _contract_ast().items() if n in CONTRACT and _raises_missing(f))


def board_py(board: str):
    return build.board_module(board)


def hal_class(path: Path, name: str = "Hal") -> tuple[ast.ClassDef, ast.Module]:
    tree = ast.parse(path.read_text())
    cls = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name), None)
    assert cls is not None, f"{path}: no class {name}"
    return cls, tree


def contract_bases(tree: ast.Module) -> set[str]:
    """The local names under which a module imports stimfw.hal_api.Hal."""
    names = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "stimfw.hal_api":
            names |= {a.asname or a.name for a in node.names if a.name == "Hal"}
    return names


def signature_problems(name: str, fn: ast.FunctionDef) -> list[str]:
    """How fn fails to accept every call the contract's signature allows:
    the same positional parameters by name and order, defaults where the
    contract has them, and nothing more that a caller must pass."""
    want = [p for p in SIGS[name].parameters.values() if p.name != "self"]
    args = fn.args
    have = [a.arg for a in args.posonlyargs + args.args][1:]  # without self
    n_defaults = len(args.defaults)
    required_have = len(have) - n_defaults
    problems = []
    if have[: len(want)] != [p.name for p in want] and not (args.vararg and len(have) < len(want)):
        problems.append(f"parameters {have} where the contract has {[p.name for p in want]}")
    for i, p in enumerate(want):
        if p.default is not inspect.Parameter.empty and i < len(have) and i < required_have:
            problems.append(f"{p.name} needs a default (the contract's is {p.default!r})")
    if required_have > len(want):
        problems.append(f"requires {required_have} arguments; the contract passes {len(want)}")
    if any(d is None for d in args.kw_defaults) and args.kwonlyargs:
        problems.append("has required keyword-only parameters")
    return [f"{name}(): {p}" for p in problems]


# --- board.py ------------------------------------------------------------------
def test_there_are_boards_and_the_sim_one_is_buildable() -> None:
    assert "sim" in WITH_HAL and BOARDS == sorted(WITH_HAL + DECLARATIONS_ONLY)


@pytest.mark.parametrize("board", BOARDS)
def test_board_py_declares_what_the_host_reads(board: str) -> None:
    mod = board_py(board)
    missing = [n for n in build.BOARD_HOST_NAMES if not hasattr(mod, n)]
    assert not missing, f"boards/{board}/board.py lacks {missing}"
    assert mod.NAME == board
    assert isinstance(mod.DESCRIPTION, str) and mod.DESCRIPTION
    # None: the simulated unit's code is for the MicroPython it runs on
    # (stimbox.build.board_arch); a real board names its architecture.
    assert mod.MPY_ARCH in MPY_ARCHS or (board == "sim" and mod.MPY_ARCH is None)
    assert isinstance(mod.LIMITS_PROFILE, str) and mod.LIMITS_PROFILE
    if mod.MPY_ARCH is not None:
        # A hardware board: found on USB by what its firmware sets
        # (stimbox.usbmatch), never by the ids all MicroPython boards share.
        assert usbmatch.problems(getattr(mod, "USB_MATCH", None)) == []


@pytest.mark.parametrize("board", BOARDS)
def test_every_board_says_whether_it_has_a_calibrator(board: str) -> None:
    cal = board_py(board).CALIBRATOR
    if cal is not None:
        assert set(cal) == {"modes", "waveforms", "max_uv"}
        assert set(cal["modes"]) <= {"signal", "short", "mains"} and cal["modes"]
        assert cal["waveforms"] and 0 < cal["max_uv"] <= 32767 * board_py(board).AMP_UV_PER_LSB


@pytest.mark.parametrize("board", WITH_HAL)
def test_board_py_declares_what_the_firmware_reads(board: str) -> None:
    mod = board_py(board)
    missing = [n for n in build.BOARD_FIRMWARE_NAMES if not hasattr(mod, n)]
    assert not missing, f"boards/{board}/board.py lacks {missing}"
    assert build.declaration_problems(mod) == []
    assert mod.LIMITS["profile"] == mod.LIMITS_PROFILE
    names = [o["name"] for o in mod.OUTPUTS]
    assert len(set(names)) == len(names) and set(mod.LIMITS["outputs"]) == set(names)
    per_output = {k for lim in mod.LIMITS["outputs"].values() for k in lim}
    for o in mod.OUTPUTS:
        need = {"name", "label", "kind", "max", "res", "width_us", "electrodes", "area_cm2",
                "mon_ua_lsb", "mon_mv_lsb", {"CC": "compliance", "CV": "current_limit"}[o["kind"]]}
        assert need <= set(o), f"output {o['name']} lacks {sorted(need - set(o))}"
        assert set(mod.LIMITS["outputs"][o["name"]]) == per_output
    assert mod.AMP_CHANNELS > 0 and set(mod.AMP_RATES_HZ) and mod.AMP_UV_PER_LSB > 0
    assert mod.MONITOR_RATE_HZ > 0 and mod.MONITOR_MAX_SAMPLES > 0 and mod.DSP_ARENA_BYTES >= 0


def test_a_board_without_hal_py_is_declared_but_not_buildable(tmp_path, monkeypatch) -> None:
    fake = tmp_path / "boards" / "plan"
    fake.mkdir(parents=True)
    (fake / "board.py").write_text((build.BOARDS_DIR / "sim" / "board.py").read_text().replace('"sim"', '"plan"', 1))
    monkeypatch.setattr(build, "BOARDS_DIR", tmp_path / "boards")
    assert build.boards() == ["plan"] and build.board_module("plan").NAME == "plan"
    with pytest.raises(BuildError, match="board 'plan' has no hal.py yet"):
        build.build_image("plan", tmp_path / "image")


def test_the_build_refuses_a_board_py_that_lacks_a_name(tmp_path, monkeypatch) -> None:
    fake = tmp_path / "boards" / "half"
    fake.mkdir(parents=True)
    sim = build.BOARDS_DIR / "sim" / "board.py"
    text = re.sub(r"(?m)^AMP_RATES_HZ = .*$", "", sim.read_text()).replace('"sim"', '"half"', 1)
    (fake / "board.py").write_text(text)
    (fake / "hal.py").write_text("")
    monkeypatch.setattr(build, "BOARDS_DIR", tmp_path / "boards")
    with pytest.raises(BuildError, match="does not declare AMP_RATES_HZ"):
        build.build_image("half", tmp_path / "image")


# --- hal.py on the source ------------------------------------------------------
@pytest.mark.parametrize("board", WITH_HAL)
def test_hal_subclasses_the_contract_and_overrides_with_compatible_signatures(board: str) -> None:
    cls, tree = hal_class(build.BOARDS_DIR / board / "hal.py")
    bases = contract_bases(tree)
    assert bases and any(ast.unparse(b) in bases for b in cls.bases), \
        f"boards/{board}/hal.py: Hal does not subclass stimfw.hal_api.Hal"
    methods = {f.name: f for f in cls.body if isinstance(f, ast.FunctionDef)}
    missing = [n for n in REQUIRED if n not in methods]
    assert not missing, f"boards/{board}/hal.py: Hal does not provide {missing}"
    problems = [p for n, f in methods.items() if n in CONTRACT for p in signature_problems(n, f)]
    assert not problems, "\n".join(problems)
    init = methods.get("__init__")
    # The firmware builds it as Hal() and reads hal.console.
    assert init is None or len(init.args.args) - len(init.args.defaults) == 1
    assert init is not None and any(
        isinstance(t, ast.Attribute) and t.attr == "console"
        for s in ast.walk(init) if isinstance(s, ast.Assign) for t in s.targets)


def test_the_sim_board_overrides_every_call_sim_included() -> None:
    cls, _ = hal_class(build.BOARDS_DIR / "sim" / "hal.py")
    methods = {f.name for f in cls.body if isinstance(f, ast.FunctionDef)}
    assert sorted(set(CONTRACT) - methods) == []


def test_test_hals_subclass_the_contract_with_compatible_signatures() -> None:
    found = []
    for path in sorted((ROOT / "tests" / "device").glob("*.py")):
        tree = ast.parse(path.read_text())
        for cls in (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name.endswith("Hal")):
            found.append(cls.name)
            assert any(ast.unparse(b) in contract_bases(tree) for b in cls.bases), \
                f"{path.name}: {cls.name} does not subclass stimfw.hal_api.Hal"
            problems = [p for f in cls.body if isinstance(f, ast.FunctionDef) and f.name in CONTRACT
                        for p in signature_problems(f.name, f)]
            assert not problems, f"{path.name}: {cls.name}: " + "; ".join(problems)
    assert {"LoadHal", "ClockHal", "BlockHal", "CounterHal"} <= set(found)


def test_signature_check_catches_incompatible_overrides() -> None:
    def fn(src: str) -> ast.FunctionDef:
        node = ast.parse(src).body[0]
        assert isinstance(node, ast.FunctionDef)
        return node

    assert signature_problems("idle", fn("def idle(self, timeout_ms, until_us=None): pass")) == []
    assert signature_problems("fire", fn("def fire(self, *a): pass")) == []
    assert signature_problems("idle", fn("def idle(self, timeout_ms, until_us): pass"))
    assert signature_problems("fire", fn("def fire(self, tl, start_us): pass"))
    assert signature_problems("fire", fn("def fire(self, timeline): pass"))
    assert signature_problems("abort", fn("def abort(self, why): pass"))
    assert signature_problems("abort", fn("def abort(self, why=None): pass")) == []


# --- under MicroPython ----------------------------------------------------------
def device_check(runtime: str, board: str | None) -> dict:
    paths: tuple[Path, ...] = (FIRMWARE, build.BOARDS_DIR / board) if board else (FIRMWARE,)
    # A board's port modules (pyb, machine, ...) come from its test fakes,
    # tests/fakes/<port>port, where it has them (stm32_pybv11: stm32port).
    fakes = ROOT / "tests" / "fakes" / (str(board).split("_")[0] + "port")
    heap = MCU_HEAP
    if board and fakes.is_dir():
        paths += (fakes,)
        # Compiled from source with the fakes beside it, the HAL needs more
        # than a board's heap; this is a check of names and signatures (the
        # board's own test measures its heap with the firmware in ROMFS).
        # A board that makes its buffers at import for a big heap (rp2_pico2:
        # 470 KB) gets that, twice over for the 64-bit port's objects.
        heap = f"{max(256, 2 * getattr(build.board_module(str(board)), 'HEAP_BYTES', 0) // 1024)}k"
    calls = {n: len(s.parameters) - 1 for n, s in SIGS.items()}
    out = run_mp_file("device/contract_check.py", runtime=runtime, paths=paths, heap=heap,
                      data={"calls": calls, "board": board is not None})
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("runtime", BOTH)
def test_the_contract_on_micropython_provides_clocks_and_names_what_is_missing(runtime: str) -> None:
    r = device_check(runtime, None)
    assert sorted(r["dir"]) == sorted(set(CONTRACT) | ATTRS)
    for name, (kind, detail) in r["bare"].items():
        if name in REQUIRED:
            # The message names the subclass and the call.
            assert kind == "NotProvided" and detail.startswith(f"Bare does not provide {name}()")
        elif name == "sim":
            assert kind == "Unsupported" and "Bare" in detail and "simulated unit" in detail
        elif name == "idle":
            raise AssertionError("idle has a default")
        elif name == "reset_cause":
            assert (kind, detail) == ("ok", "tuple"), name  # machine.reset_cause(), or unknown
        else:
            assert (kind, detail) == ("ok", "int"), name  # the clocks: time.ticks_*
    assert set(r["bare"]) == set(CONTRACT)


@pytest.mark.parametrize("runtime", BOTH)
@pytest.mark.parametrize("board", WITH_HAL)
def test_each_board_hal_on_micropython_subclasses_and_overrides(board: str, runtime: str) -> None:
    r = device_check(runtime, board)["board"]
    if "import_error" in r:
        pytest.skip(f"boards/{board}/hal.py does not load on the Unix port: {r['import_error']}")
    assert r["subclass"]
    assert set(REQUIRED) <= set(r["overridden"])
    if board == "sim":
        assert sorted(r["overridden"]) == sorted(CONTRACT)


def test_a_unit_without_sim_answers_a_sim_request_unsupported(firmware_image) -> None:
    from stimfw.link import messages as m

    (r,) = run_image(firmware_image, "sim_request.py")
    assert r[0] is False and r[1]["code"] == m.ERR_UNSUPPORTED, r


def test_notprovided_and_unsupported_are_distinct() -> None:
    # The link turns Unsupported into an "unsupported" reply; NotProvided is a
    # board bug and must not be mistaken for it.
    assert issubclass(hal_api.NotProvided, NotImplementedError)
    assert not issubclass(hal_api.NotProvided, hal_api.Unsupported)
    assert not issubclass(hal_api.Unsupported, hal_api.NotProvided)


# --- docs/HAL.md ------------------------------------------------------------------
CALL = re.compile(r"`([a-z_]+)\(([^)`]*)\)`")


def doc_calls() -> dict[str, str]:
    """The calls docs/HAL.md defines, `name(params)`: in the first cell of a
    table row, or opening a paragraph."""
    calls = {}
    for line in HAL_DOC.read_text().splitlines():
        if line.startswith("| `"):
            defining = line.split("|")[1]
        elif line.startswith("`"):
            defining = line[: line.index("`", 1) + 1]
        else:
            continue
        for m in CALL.finditer(defining):
            calls[m.group(1)] = m.group(2).replace(" ", "")
    return calls


def test_docs_name_every_call_of_the_contract_and_no_other() -> None:
    doc = doc_calls()
    assert sorted(doc) == sorted(CONTRACT)
    for name, params in doc.items():
        want = str(SIGS[name]).strip("()").replace(" ", "").removeprefix("self").lstrip(",")
        assert params == want, f"docs/HAL.md has {name}({params}); the contract {name}({want})"
    text = HAL_DOC.read_text()
    mentioned = {m.group(1) for m in CALL.finditer(text)}  # in prose too
    assert mentioned <= set(CONTRACT), mentioned - set(CONTRACT)
    for attr in ATTRS:
        assert f"`{attr}`" in text
    assert "stimfw/hal_api.py" in text
