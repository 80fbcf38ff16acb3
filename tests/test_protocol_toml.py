"""Protocol files: every example loads, is accepted by the device's checks and
compiles; broken files name the file, the key and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest
from mpy import BOTH
from seq_common import BOARD, run_image
from stimbox.protocols import ProtocolFileError, examples, from_dict, load
from stimfw.stim import limits, protocol


def test_an_example_for_every_modality() -> None:
    types = set()
    for p in examples():
        wire = load(p, BOARD)
        assert p.stem.split("_")[0] == wire["type"]  # ssep_tibial is an ssep
        types.add(wire["type"])
        assert load(p.stem) == wire  # a bare name finds protocols/<name>.toml
    assert types == set(protocol.TYPES)


@pytest.mark.parametrize("runtime", BOTH)
def test_examples_are_accepted_on_the_device_with_the_host_hash(firmware_image, runtime: str) -> None:
    wires = [load(p, BOARD) for p in examples()]
    got = run_image(firmware_image, "protocol_checks.py", wires, runtime=runtime)
    for wire, (h, n) in zip(wires, got, strict=True):
        spec = protocol.normalise(wire, BOARD)
        assert limits.check(spec, BOARD)["pulses"] == n
        assert h == protocol.spec_hash(spec, BOARD.LIMITS["profile"])


@pytest.mark.parametrize(
    "text, key, problem",
    [
        ('type = "tcmep"\npulses = \n', "", "not valid TOML"),
        ('type = "tcmep"\nwhen = 2024-01-01\n', "when", "date values"),
        ('type = "tcmep"\npulse = 5\n', "pulse", "unknown key"),
        ('type = "tcmep"\npulses = "five"\n', "pulses", "must be an integer"),
        ('type = "tcmep"\namp_ua = 5000\n', "amp_ua", "constant voltage: give amp_mv"),
        ('name = "x"\n', "type", "missing"),
        ('type = "ssep"\n[[sites]]\nsite = "l_median"\nout = "P7"\n', "sites.0.out", "no output"),
        ('type = "scs"\npairs = [["E0", "E0"]]\n', "anode", "anode and cathode"),
        ('type = "tcmep"\nname = "' + "x" * 4100 + '"\n', "", "over the unit's 4096"),
        ('type = "temg"\nrate_hz = nan\n', "rate_hz", "nan"),
    ],
)
def test_broken_files_name_file_key_and_problem(tmp_path: Path, text: str, key: str,
                                                problem: str) -> None:
    f = tmp_path / "broken.toml"
    f.write_text(text)
    with pytest.raises(ProtocolFileError) as e:
        load(f, BOARD)
    assert e.value.file == str(f) and e.value.key == key
    assert problem in e.value.problem
    assert str(f) in str(e.value)


def test_missing_file_and_binary_file(tmp_path: Path) -> None:
    with pytest.raises(ProtocolFileError, match="cannot read"):
        load(tmp_path / "nope.toml")
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ProtocolFileError, match="not UTF-8"):
        load(tmp_path / "bin.toml")


def test_python_api_dicts_get_the_same_checks() -> None:
    assert from_dict({"type": "dwave"}, BOARD) == {"type": "dwave"}
    with pytest.raises(ProtocolFileError) as e:
        from_dict({"type": "dwave", "pulses": 2}, BOARD)
    assert e.value.key == "pulses" and e.value.file == "<protocol>"
