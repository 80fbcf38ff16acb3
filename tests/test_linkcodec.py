"""The link codec: one module, the same behaviour under CPython and MicroPython."""

from __future__ import annotations

import json
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mpy import BOTH, run_mp_file
from stimfw.link import codec as lc


def decode_all(data: bytes, max_payload: int = 4096) -> tuple[list[lc.Frame], lc.Decoder, int]:
    frames: list[lc.Frame] = []
    intr = []
    d = lc.Decoder(max_payload, frames.append, lambda: intr.append(1), copy_payload=True)
    d.feed(data)
    return frames, d, len(intr)


payloads = st.binary(max_size=2000)


@given(kind=st.integers(1, 5), mtype=st.integers(0, 255), rid=st.integers(0, 0xFFFF), payload=payloads)
def test_round_trip(kind: int, mtype: int, rid: int, payload: bytes) -> None:
    wire = lc.encode_frame(kind, mtype, rid, payload)
    frames, d, intr = decode_all(wire)
    assert [(f.kind, f.mtype, f.req_id, f.payload) for f in frames] == [(kind, mtype, rid, payload)]
    assert intr == 0 and d.garbage == 0


@given(payload=payloads)
def test_reserved_bytes_never_on_the_wire_inside_frames(payload: bytes) -> None:
    wire = lc.encode_frame(lc.KIND_OK, 1, 1, payload)
    inner = wire[1:-1]
    assert b"\x03" not in wire  # Ctrl-C stays an interrupt, always
    assert b"\x7e" not in inner


@given(payload=payloads, pos=st.integers(min_value=0), flip=st.integers(1, 255))
def test_a_damaged_frame_never_reaches_the_handler(payload: bytes, pos: int, flip: int) -> None:
    good = lc.encode_frame(lc.KIND_REQUEST, 9, 7, payload)
    bad = bytearray(good)
    i = 1 + pos % (len(bad) - 2)  # inside the frame
    bad[i] ^= flip
    frames, d, _ = decode_all(bytes(bad) + good)
    # The damaged frame is dropped (or, when the damage only split it, counted
    # as garbage); the good one that follows always arrives, exactly once.
    assert frames[-1].payload == payload
    assert len([f for f in frames if f.req_id == 7 and f.mtype == 9]) >= 1
    assert all(f.payload == payload and f.kind == lc.KIND_REQUEST for f in frames)
    assert len(frames) == 1
    assert sum(d.drops) + d.garbage > 0


@given(junk=st.binary(max_size=300), payload=payloads)
def test_garbage_between_frames_is_counted_and_skipped(junk: bytes, payload: bytes) -> None:
    wire = junk + lc.encode_frame(lc.KIND_PUSH, 0x81, 0, payload) + junk
    frames, d, intr = decode_all(wire)
    assert frames and frames[-1].payload == payload
    # Any Ctrl-C in the junk is reported as an interrupt; nothing else is.
    assert (intr > 0) == (b"\x03" in junk)


def test_truncated_oversize_version_and_escape_errors_are_counted() -> None:
    good = lc.encode_frame(lc.KIND_REQUEST, 1, 1, b"hello")
    truncated = good[:-3] + b"\x7e"
    oversize = lc.encode_frame(lc.KIND_REQUEST, 1, 2, b"x" * 200)
    hdr = struct.pack("<BBBHH", 2, 1, 1, 3, 0)
    body = bytearray()
    lc.stuff_into(body.extend, hdr + struct.pack("<I", lc.crc32(hdr) & 0xFFFFFFFF))
    wrong_version = b"\x7e" + bytes(body) + b"\x7e"
    bad_escape = b"\x7e\x7d\x41\x7e"
    frames, d, _ = decode_all(truncated + oversize + wrong_version + bad_escape + good, 100)
    assert [f.req_id for f in frames] == [1]
    c = d.counters()
    assert c["truncated"] == 1 and c["oversize"] == 1 and c["version"] == 1
    assert c["bad_escape"] == 1 and c["frames_ok"] == 1


def test_interrupt_byte_aborts_a_frame_in_progress() -> None:
    good = lc.encode_frame(lc.KIND_REQUEST, 1, 5, b"abc")
    frames, d, intr = decode_all(good[:5] + b"\x03" + good)
    assert intr == 1
    assert [f.req_id for f in frames] == [5]


def test_write_frame_with_prefix_and_range_equals_whole_payload() -> None:
    out = bytearray()
    data = bytes(range(256)) * 4
    lc.write_frame(out.extend, lc.KIND_DATA, 4, 3, data, b"PFX", 10, 700)
    frames, _, _ = decode_all(bytes(out))
    assert frames[0].payload == b"PFX" + data[10:700]


@pytest.mark.parametrize("runtime", BOTH)
def test_micropython_and_cpython_agree_byte_for_byte(runtime: str) -> None:
    # Frames encoded by each runtime decode identically in the other.
    cases = [(1, 2, 3, b""), (2, 0x81, 0, bytes(range(256))), (5, 4, 65535, b"\x03\x7d\x7e" * 50)]
    host_wire = [lc.encode_frame(*c).hex() for c in cases]
    out = run_mp_file("device/codec_agree.py", runtime=runtime, data={
        "cases": [[k, t, r, list(p)] for k, t, r, p in cases], "host": host_wire})
    res = json.loads(out.strip().splitlines()[-1])
    assert res["mp_wire"] == host_wire
    assert res["decoded"] == [[k, t, r, list(p)] for k, t, r, p in cases]


@pytest.mark.parametrize("runtime", BOTH)
def test_device_decoder_allocates_nothing_per_byte(runtime: str) -> None:
    out = run_mp_file("device/codec_heap.py", runtime=runtime)
    assert "frames 1" in out
