"""Finding USB units: a port is a StimBox when a board's USB_MATCH claims it
(the strings its firmware sets, or an id of its own), never for the
VID:PID that every stock MicroPython board of a port shares."""

from __future__ import annotations

import pytest
from serial.tools.list_ports_common import ListPortInfo
from stimbox import build, discovery, usbmatch

HARDWARE = [b for b in build.boards() if build.board_module(b).MPY_ARCH is not None]


def port(device: str, vid: int | None = None, pid: int | None = None, product: str | None = None,
         serial: str | None = None, manufacturer: str | None = None) -> ListPortInfo:
    p = ListPortInfo(device)
    p.vid, p.pid, p.product, p.serial_number, p.manufacturer = vid, pid, product, serial, manufacturer
    return p


# What stock MicroPython enumerates as (lsusb / pyserial on Linux).
STOCK_RP2 = dict(vid=0x2E8A, pid=0x0005, product="Board in FS mode", manufacturer="MicroPython")
STOCK_PYB = dict(vid=0xF055, pid=0x9800, product="Pyboard Virtual Comm Port in FS Mode",
                 manufacturer="MicroPython")


def test_every_hardware_board_declares_a_usb_match_that_is_not_a_bare_micropython_id() -> None:
    assert HARDWARE, "no hardware board"
    declared = discovery.usb_matches()
    for board in HARDWARE:
        match = build.board_module(board).USB_MATCH
        assert usbmatch.problems(match) == [], board
        assert declared[board] == match
    assert "sim" not in declared  # found through its registry entry instead


@pytest.mark.parametrize("board", HARDWARE)
def test_a_unit_is_found_by_what_its_board_declares_and_a_stock_board_is_not(board: str) -> None:
    match = build.board_module(board).USB_MATCH
    stock = STOCK_PYB if board.startswith("stm32") else STOCK_RP2
    # The unit: the stock ids unless the board declares its own, and its strings.
    ours = dict(stock, **{k: v for k, v in match.items() if k in usbmatch.IDS})
    for key in usbmatch.STRINGS:
        if key in match:
            ours[key] = str(match[key]).rstrip("*") + ("0042" if str(match[key]).endswith("*") else "")
    ports = [
        port("/dev/ttyS0"),  # no USB
        port("/dev/ttyUSB0", vid=0x0403, pid=0x6001, product="FT232R USB UART"),  # a USB cable
        port("/dev/ttyACM0", **STOCK_RP2),  # a stock Pico on the desk
        port("/dev/ttyACM1", **STOCK_PYB),  # a stock pyboard
        port("/dev/ttyACM2", **ours),
    ]
    found = discovery.match_usb(ports, discovery.usb_matches())
    assert [p for p, _ in found] == ["/dev/ttyACM2"]
    what = found[0][1]
    assert board in what and f"USB {ours['vid']:04x}:{ours['pid']:04x}" in what


def test_a_match_needs_every_key_it_declares() -> None:
    declared = {"a": {"product": "StimBox", "vid": 0xF055}, "b": {"serial": "SB-*"},
                "c": {"vid": 0x1209, "pid": 0x5B1E}}
    ports = [
        port("/dev/ttyACM0", vid=0x2E8A, pid=0x0005, product="StimBox"),  # a: wrong vid
        port("/dev/ttyACM1", vid=0xF055, pid=0x9800, product="StimBox"),  # a
        port("/dev/ttyACM2", vid=0x2E8A, pid=0x0005, serial="SB-0007"),  # b: prefix
        port("/dev/ttyACM3", vid=0x2E8A, pid=0x0005, serial="XSB-0007"),  # nobody
        port("/dev/ttyACM4", vid=0x1209, pid=0x5B1E),  # c
        port("/dev/ttyACM5", vid=0x1209, pid=0x5B1F, product="StimBox"),  # nobody
    ]
    found = dict(discovery.match_usb(ports, declared))
    assert sorted(found) == ["/dev/ttyACM1", "/dev/ttyACM2", "/dev/ttyACM4"]
    assert found["/dev/ttyACM1"] == "a board, USB f055:9800 product 'StimBox'"
    assert found["/dev/ttyACM2"] == "b board, USB 2e8a:0005 serial 'SB-0007'"
    assert found["/dev/ttyACM4"] == "c board, USB 1209:5b1e"


def test_boards_that_share_a_product_string_are_one_port_naming_both() -> None:
    declared = {"rp2_x": {"product": "StimBox"}, "stm32_y": {"product": "StimBox"}}
    found = discovery.match_usb([port("/dev/ttyACM0", vid=0x2E8A, pid=0x0005, product="StimBox")], declared)
    assert found == [("/dev/ttyACM0", "rp2_x or stm32_y board, USB 2e8a:0005 product 'StimBox'")]


@pytest.mark.parametrize("match,problem", [
    ({"vid": 0x2E8A, "pid": 0x0005}, "alone claims every board running MicroPython on rp2"),
    ({"vid": 0xF055, "pid": 0x9800}, "alone claims every board running MicroPython on pyboard"),
    ({"vid": 0x1209}, "needs both vid and pid"),
    ({"product": ""}, "USB_MATCH['product'] must be a non-empty string"),
    ({"product": "StimBox", "pid": 0x10000}, "USB_MATCH['pid'] must be a 16-bit int"),
    ({"prodcut": "StimBox"}, "unknown key(s) ['prodcut']"),
    (((0x2E8A, 0x0005),), "USB_MATCH must be a non-empty dict"),
    ({}, "USB_MATCH must be a non-empty dict"),
])
def test_a_usb_match_that_claims_too_much_or_is_malformed_is_refused(match: object, problem: str) -> None:
    found = usbmatch.problems(match)
    assert len(found) == 1 and problem in found[0], found


def test_the_build_refuses_a_hardware_board_without_its_declarations(tmp_path, monkeypatch) -> None:
    from stimbox.errors import BuildError

    fake = tmp_path / "boards" / "bare"
    fake.mkdir(parents=True)
    sim = (build.BOARDS_DIR / "sim" / "board.py").read_text()
    text = sim.replace('"sim"', '"bare"', 1).replace("MPY_ARCH = None", 'MPY_ARCH = "armv7emsp"')
    (fake / "board.py").write_text(text)
    (fake / "hal.py").write_text("")
    monkeypatch.setattr(build, "BOARDS_DIR", tmp_path / "boards")
    with pytest.raises(BuildError, match="does not declare USB_MATCH, HEAP_BYTES, TICKS_PERIOD"):
        build.build_image("bare", tmp_path / "image")
    (fake / "board.py").write_text(
        text + '\nUSB_MATCH = {"vid": 0x2E8A, "pid": 0x0005}\nHEAP_BYTES = 0\nTICKS_PERIOD = 10**9\n')
    with pytest.raises(BuildError) as e:
        build.build_image("bare", tmp_path / "image")
    assert str(e.value).count("\n") == 0
    for part in ("2e8a:0005 alone claims every board", "HEAP_BYTES must be a positive int, not 0",
                 "TICKS_PERIOD must be a power of two"):
        assert part in str(e.value)
