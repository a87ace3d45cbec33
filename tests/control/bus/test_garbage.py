"""A server fed garbage answers with an error (or drops and counts), and keeps serving."""
from __future__ import annotations

import random

import msgpack
import numpy as np
import pytest

from control.bus import wire
from control.bus.echo import EchoService
from control.bus.rpc import Client, Server
from control.errors import CallTimeout, MessageTooLarge, WireError
from tests.conftest import wait_until
from tests.control.bus.conftest import call_header, raw_dealer, reply_to

LIMIT = 1 << 20  # 1 MiB for these tests


@pytest.fixture
def server(endpoint):
    with Server(EchoService(), endpoint, name="echo", max_message_bytes=LIMIT) as srv:
        yield srv


@pytest.fixture
def raw(server):
    with raw_dealer(server.endpoint, timeout_ms=2000) as sock:
        yield sock


def still_serves(server) -> None:
    with Client(server.endpoint, timeout=5) as client:
        assert client.call("add", 2, 3) == 5


def header(**fields) -> bytes:
    return msgpack.packb(call_header(**fields))


@pytest.mark.parametrize("frames, error_type, counter", [
    ([header(v=99)], "UnsupportedVersion", "rejected_version"),
    ([header(kind="bogus")], "WireError", "rejected_malformed"),
    ([header(id="x")], "WireError", "rejected_malformed"),  # answered with id None
    ([header(body=[1, 2])], "WireError", None),
    ([header(body={"args": "notalist"})], "WireError", None),
    ([header(body={"args": [], "kwargs": {"k": msgpack.ExtType(1, msgpack.packb([3, "<f4", [1]]))}})],
     "WireError", "rejected_malformed"),
    ([header(method=None)], "WireError", None),
    ([header(body={"args": ["two", 3]})], "TypeError", None),  # wrong argument types
    ([header(method="sample", body={"args": [[-1]]})], "ValueError", None),
])
def test_bad_requests_get_an_error_reply(server, raw, frames, error_type, counter):
    reply = reply_to(raw, frames)
    assert reply is not None and reply.kind == wire.ERROR
    assert reply.id == (None if frames == [header(id="x")] else 9)
    assert reply.body["type"] == error_type and reply.body["message"]
    if counter:
        with Client(server.endpoint) as client:
            assert client.stats()[counter] == 1
    still_serves(server)


def test_random_frames_and_truncated_headers(server, raw):
    rng = random.Random(1234)
    good = wire.encode(wire.Message(wire.CALL, 5, "add", None, {"args": [1, 2], "kwargs": {}}))[0]
    payloads = [[bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 200)))
                 for _ in range(rng.randint(1, 4))] for _ in range(200)]
    payloads += [[good[:n]] for n in range(len(good))]  # every truncation of a valid header
    for frames in payloads:
        raw.send_multipart(frames)
    # Every one was refused and counted (answered where an id could be read); none was run.
    with Client(server.endpoint) as client:
        wait_until(lambda: client.stats().get("rejected_malformed", 0) == len(payloads))
        assert client.stats().get("calls", 0) == 0
    still_serves(server)


def test_oversized_multipart_message_gets_an_error_reply(server, raw):
    half = np.zeros(LIMIT // 2 + 1024, np.uint8)
    frames = wire.encode(wire.Message(wire.CALL, 3, "echo", None, {"args": [[half, half]]}))
    reply = reply_to(raw, frames)
    assert reply.kind == wire.ERROR and reply.id == 3 and reply.body["type"] == "MessageTooLarge"
    with Client(server.endpoint) as client:
        assert client.stats()["rejected_too_large"] == 1
        with pytest.raises(MessageTooLarge, match="exceeds the limit"):
            client.call("echo", [half, half])
    still_serves(server)


def test_oversized_single_frame_is_cut_off_by_zmq_without_harm(server):
    with Client(server.endpoint, timeout=1.0) as client:
        with pytest.raises(CallTimeout):  # zmq drops the peer: no reply can come
            client.call("echo", np.zeros(LIMIT * 2, np.uint8))
        assert client.call("add", 1, 1) == 2  # the same client, reconnected, is served again
    still_serves(server)


def test_reply_the_wire_cannot_carry_is_an_error_not_a_crash(server):
    with Client(server.endpoint) as client:
        with pytest.raises(WireError):
            client.call("sample", [2], dtype="object")
    still_serves(server)
