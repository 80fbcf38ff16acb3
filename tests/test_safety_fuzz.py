"""Property: no byte stream from the host arms the unit or stimulates. Random
bytes, and well-framed requests of every stimulation type with random
payloads (random hashes included), go through the real link and handlers
on MicroPython with the interlock closed, so only the protocol checks stand
between the stream and the output."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mpy import BOTH
from seq_common import run_image
from stimfw.link import codec as lc
from stimfw.link import messages as m

TYPES = [m.MSG_VALIDATE, m.MSG_PLAN, m.MSG_ARM, m.MSG_START, m.MSG_STOP, m.MSG_DISARM,
         m.MSG_STATUS, m.MSG_RESULT, m.MSG_HEARTBEAT, m.MSG_EVENTS, m.MSG_PING]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=12)
    | st.sampled_from(["tcmep", "ssep", "temg", "scs", "dwave", "E1", "C3", "0" * 64]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["type", "hash", "sites", "amp_ua", "amp_mv", "pulses", "count",
                         "ack", "run", "pairs", "search", "x"]), inner, max_size=5),
    max_leaves=12,
)
frames = st.builds(
    lambda t, rid, obj: lc.encode_frame(lc.KIND_REQUEST, t, rid, json.dumps(obj).encode()),
    st.sampled_from(TYPES), st.integers(0, 65535), st.dictionaries(st.text(max_size=6), json_values)
    | st.builds(dict, type=st.sampled_from(["tcmep", "ssep", "temg", "scs", "dwave"]),
                hash=st.text("0123456789abcdef", min_size=64, max_size=64)),
)
chunk = st.one_of(st.binary(max_size=64), frames,
                  frames.map(lambda f: f[: len(f) // 2]), frames.map(lambda f: bytes(f[1:])))
streams = st.lists(st.lists(chunk, max_size=12).map(b"".join), min_size=12, max_size=12)

# firmware_image follows the runtime parameter; built once per session and only
# read, so sharing it between examples is what is meant.
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                               HealthCheck.data_too_large,
                                                               HealthCheck.function_scoped_fixture])
@given(streams)
@pytest.mark.parametrize("runtime", BOTH)
def test_no_byte_stream_arms_or_stimulates(firmware_image, runtime: str, batch: list[bytes]) -> None:
    (res,) = run_image(firmware_image, "fuzz_streams.py", [b.hex() for b in batch], runtime=runtime)
    for worst, fires, consumed in res:
        assert worst == "IDLE" and fires == 0
        assert consumed


@pytest.mark.parametrize("runtime", BOTH)
def test_the_same_stream_with_the_validated_hash_does_arm(firmware_image, runtime: str) -> None:
    # The fuzz test's harness can see an arm: a validate followed by an arm
    # carrying the hash the unit answered with.
    assert run_image(firmware_image, "fuzz_arm.py", runtime=runtime) == ["ARMED"]


