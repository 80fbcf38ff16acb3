"""The link on a running simulated unit: replies, errors, pushes, bulk."""

from __future__ import annotations

import json
import os

import pytest
from stimbox.client import StimBox
from stimbox.errors import DeviceError, LinkError
from stimfw.link import codec as lc
from stimfw.link import messages as m


def test_echo_carries_every_byte_value(box: StimBox) -> None:
    data = bytes(range(256))
    assert box.echo(data[:200]) == data[:200]
    assert box.echo(data[200:] + b"\x03\x03\x7e\x7d") == data[200:] + b"\x03\x03\x7e\x7d"


def test_every_request_gets_exactly_one_reply_with_its_id(box: StimBox) -> None:
    rids = []
    for mtype, payload in [(m.MSG_PING, b""), (0x6E, b""), (m.MSG_INFO, b"{not json"), (m.MSG_PING, b"")]:
        rid = box.send(mtype, payload)
        f = box.wait_reply(rid, mtype, 2.0)
        rids.append((f.req_id, f.kind))
    first = rids[0][0]
    assert [r for r, _ in rids] == [first, first + 1, first + 2, first + 3]
    assert [k for _, k in rids] == [lc.KIND_OK, lc.KIND_ERROR, lc.KIND_ERROR, lc.KIND_OK]
    # Nothing else is left over: no second reply to any of them.
    box._pump(0.2)
    assert not [f for f in box._frames if f.kind != lc.KIND_PUSH]


def test_unknown_type_and_bad_payload_name_the_problem(box: StimBox) -> None:
    with pytest.raises(DeviceError) as e:
        box.request_raw(0x6E)
    assert e.value.name == "unknown_type" and "110" in e.value.message
    with pytest.raises(DeviceError) as e:
        box.request_raw(m.MSG_PULL, b"[1, 2]")
    assert e.value.name == "bad_payload"
    with pytest.raises(DeviceError) as e:
        box.pull("no_such_object")
    assert e.value.name == "not_found" and "no_such_object" in e.value.message


def test_corrupt_truncated_oversize_frames_and_garbage_are_counted_and_never_act(box: StimBox) -> None:
    before = box.info()["link"]
    good_reboot = lc.encode_frame(lc.KIND_REQUEST, m.MSG_REBOOT, 77, b"")
    corrupt = bytearray(good_reboot)
    corrupt[4] ^= 0x10  # a reboot request with a damaged request id
    truncated = good_reboot[:-4] + b"\x7e"
    oversize = lc.encode_frame(lc.KIND_REQUEST, m.MSG_ECHO, 78, b"e" * 490)
    not_a_request = lc.encode_frame(lc.KIND_OK, m.MSG_REBOOT, 79, b"")
    boots = len([p for p in box.pushes if p.mtype == m.PUSH_BOOT])
    box.transport.write(b"line noise " + bytes(corrupt) + truncated + oversize[:400])
    box.transport.write(oversize[400:] + not_a_request + b"\x00\xff")
    after = box.info()["link"]
    assert after["crc"] == before["crc"] + 1
    assert after["truncated"] == before["truncated"] + 1
    assert after["oversize"] == before["oversize"] + 1
    assert after["unexpected_kind"] == before["unexpected_kind"] + 1
    assert after["garbage_bytes"] == before["garbage_bytes"] + len(b"line noise \x00\xff")
    # None of them acted: the unit did not reboot and answered nothing else.
    assert len([p for p in box.pushes if p.mtype == m.PUSH_BOOT]) == boots
    assert box.info()["uptime_ms"] >= 0


def test_pushes_are_tagged_and_never_taken_for_replies(sim_unit) -> None:
    with StimBox.connect(sim_unit.port) as box:
        rid = box.send(m.MSG_REBOOT)
        reply = box.wait_reply(rid, m.MSG_REBOOT, 2.0)
        assert reply.kind == lc.KIND_OK
        ident = box.wait_boot()
        assert ident["board"] == "sim"
        boot = [p for p in box.pushes if p.mtype == m.PUSH_BOOT]
        assert boot and boot[-1].name == "boot"
        # The boot push carries request id 0 and PUSH kind: wait_reply would
        # never have returned it for request `rid`.
        assert box.ping()["t_ms"] >= 0


def test_bulk_pull_is_complete_and_checked(box: StimBox) -> None:
    from stimfw.link.testpattern import test_pattern

    for size in (0, 1, 1024, 1025, 16384):
        assert box.pull("test_pattern", size=size) == bytes(test_pattern(size))


def test_bulk_wire_efficiency_is_at_least_95_percent(box: StimBox) -> None:
    seen = bytearray()
    read = box.transport.read

    def counting_read(timeout: float) -> bytes:
        data = read(timeout)
        seen.extend(data)
        return data

    box.transport.read = counting_read  # type: ignore[method-assign]
    payload = box.pull("test_pattern", size=16384)
    assert len(payload) / len(seen) >= 0.95, (len(payload), len(seen))


def test_request_too_large_for_the_unit_window_is_refused_on_the_host(box: StimBox) -> None:
    with pytest.raises(LinkError, match="limit|window"):
        box.echo(b"\x7e" * 300)  # 600 bytes once stuffed: over the 512-byte window
    assert box.ping()["t_ms"] >= 0


def test_info_reports_link_counters_and_limits_profile(box: StimBox) -> None:
    info = box.info()
    for key in ("fw", "board", "protocol", "limits", "uptime_ms", "link", "build"):
        assert key in info
    assert info["link"]["frames_ok"] >= 1
    json.dumps(info)


def test_port_vanishing_mid_run_is_a_port_error(sim_unit) -> None:
    from stimbox.errors import PortError

    box = StimBox.connect(sim_unit.port)
    try:
        os.close(box.transport.serial.fd)  # the USB cable is pulled
        with pytest.raises(PortError, match="vanished"):
            box.ping()
    finally:
        box.transport.serial.fd = None


def test_a_request_bigger_than_one_frame_is_staged(box: StimBox) -> None:
    # Any JSON request goes over in chunks that each fit the unit's receive
    # window, then as {"staged": size}; the handler sees the whole object.
    seen = bytearray()
    write = box.transport.write

    def counting_write(data: bytes) -> None:
        assert len(data) <= box.rx_window
        seen.extend(data)
        write(data)

    box.transport.write = counting_write  # type: ignore[method-assign]
    big = {"pad": "n" * 900 + "~" * 300}  # "~" is 0x7e: stuffing doubles it
    assert box.request(m.MSG_PING, big)["t_ms"] >= 0
    assert len(seen) > 1500
    # A stage out of order is refused and leaves nothing half-staged behind.
    with pytest.raises(DeviceError, match="offset"):
        box.request_raw(m.MSG_STAGE, (5).to_bytes(4, "little") + b"xx")
    with pytest.raises(DeviceError, match="staged 0 bytes"):
        box.request_raw(m.MSG_VALIDATE, b'{"staged": 10}')
