"""Property-based fuzzing of a live server (and a live hub) over 127.0.0.1: whatever a peer sends,
in any header field, nested however deep, with any frames and any dtype, the server stays alive,
answers a valid call right after, never fails internally, and its memory stays bounded.

Each test runs a few hundred examples (seconds); the whole module stays well under a minute.
"""
from __future__ import annotations

import itertools
import os
from pathlib import Path

import msgpack
import numpy as np
import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from control.bus import wire
from control.bus.echo import EchoService
from control.bus.hub import Hub
from control.bus.rpc import Server
from tests.conftest import free_port

EXAMPLES = int(os.environ.get("PODIUM_FUZZ_EXAMPLES", "500"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=False, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
RSS_LIMIT = 256 * 1024 * 1024  # generous: growth of the whole test process over one test


def rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class Target:
    """A live server and a raw DEALER socket that can send it anything."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.rcvtimeo = 5000
        self.sock.connect(server.endpoint)
        self.ids = itertools.count(10**12)

    def send_then_check_alive(self, frames: list[bytes]) -> list[wire.Message]:
        """Send `frames`, then a valid ping; return what came back before the ping's reply."""
        self.sock.send_multipart(frames)
        ping_id = next(self.ids)
        self.sock.send_multipart(wire.encode(wire.Message(wire.CALL, ping_id, "_podium.ping", None,
                                                          {"args": [], "kwargs": {}})))
        before = []
        while True:
            try:
                reply = wire.decode(self.sock.recv_multipart())
            except zmq.Again:
                raise AssertionError(f"server {self.server.name} stopped answering "
                                     f"(thread alive: {self.server._thread.is_alive()})") from None
            if reply.id == ping_id:
                assert reply.kind == wire.REPLY and reply.body == "pong"
                return before
            before.append(reply)

    def assert_bounded(self, rss_before: int) -> None:
        assert self.server._thread.is_alive()
        assert self.server.stats["internal_errors"] == 0, "a message hit an unforeseen fault"
        assert len(wire._scalar_prefixes) <= 64
        assert len(wire._dtype_cache) <= wire._DTYPE_CACHE_MAX
        assert len(self.server._faults_logged) <= 32
        assert rss() - rss_before < RSS_LIMIT

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module", params=["echo", "hub"])
def target(request):
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    if request.param == "hub":
        hub = Hub(endpoint).start()
        server = hub.server
    else:
        server = Server(EchoService(), endpoint, name="echo").start()
    t = Target(server)
    yield t
    t.close()
    server.stop()


# -- strategies ----------------------------------------------------------------------------------
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.floats(allow_nan=True),
    st.text(max_size=20), st.binary(max_size=20),
    st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=16)),  # msgpack: 0..127
    st.builds(lambda s, n: msgpack.Timestamp(s, n), st.integers(-(2**33), 2**33),
              st.integers(0, 999_999_999)),
)
trees = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=5),
    st.dictionaries(st.one_of(st.text(max_size=8), st.integers(-5, 5)), children, max_size=5),
    st.lists(children, max_size=3).map(
        lambda items: msgpack.ExtType(wire.EXT_TUPLE, msgpack.packb(items, use_bin_type=True))),
), max_leaves=20)

GOOD = {"v": 1, "kind": "call", "id": 7, "method": "echo", "deadline": None,
        "body": {"args": [1], "kwargs": {}}}
KEYS = [*GOOD, "extra", 3]
# Each field: absent, its good value, or anything at all (the interesting values listed too).
field_values = st.one_of(st.just(...), st.just("good"), trees, st.sampled_from(
    [True, False, 1.0, 0, 1, -1, 2**64 - 1, float("nan"), float("inf"), "", "call", "reply", "error",
     "heartbeat", "publish", "_podium.stats", "_podium.describe", "register", "lookup", "list",
     [1], {"a": 1}, {"args": "x"}, {"kwargs": {1: 2}}, {"args": [], "kwargs": {"": 1}}]))


def pack(value) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def header_from(fields: dict) -> dict:
    """A header of GOOD's keys (and two unknown ones) as `fields` draws them: left out (...), the
    good value ("good") or the value drawn."""
    header = {}
    for key in KEYS:
        value = fields.get(key, "good")
        if value is ...:
            continue
        header[key] = GOOD.get(key) if isinstance(value, str) and value == "good" else value
    return header


header_fields = st.fixed_dictionaries({}, optional={k: field_values for k in KEYS}).map(header_from)


@FUZZ
@given(header_fields)
def _fuzz_header_fields(target, header):
    replies = target.send_then_check_alive([pack(header)])
    for reply in replies:  # a call gets one answer; a one-way message none
        assert reply.kind in (wire.REPLY, wire.ERROR)
        if reply.kind == wire.ERROR:
            assert set(reply.body) == {"type", "message", "traceback"}


def test_every_header_field_of_every_type_and_value(target):
    before = rss()
    _fuzz_header_fields(target)
    target.assert_bounded(before)


def nested(kinds: list[str]) -> msgpack.ExtType | list | dict:
    value: object = 1
    for kind in kinds:
        if kind == "tuple":
            value = msgpack.ExtType(wire.EXT_TUPLE, pack([value]))
        elif kind == "list":
            value = [value]
        else:
            value = {"k": value}
    return value


@FUZZ
@given(st.lists(st.sampled_from(["tuple", "list", "map"]), min_size=1, max_size=400),
       st.sampled_from(["echo", "no_such_method"]))
def _fuzz_nesting(target, kinds, method):
    frames = [pack({**GOOD, "method": method, "body": {"args": [nested(kinds)], "kwargs": {}}})]
    (reply,) = target.send_then_check_alive(frames)
    depth = len(kinds) + 3  # header map, body map, args list
    if depth > wire.MAX_DEPTH:
        assert reply.kind == wire.ERROR and reply.body["type"] == "WireError"
    elif method == "echo" and target.server.name == "echo":
        assert reply.kind == wire.REPLY


def test_nesting_of_lists_maps_and_tuples(target):
    before = rss()
    _fuzz_nesting(target)
    target.assert_bounded(before)


DTYPE_CHARS = "?bBhHiIlLqQpPefdgFDGSaUVOMmc"
dtype_strings = st.one_of(
    st.builds(lambda order, char, size, unit: f"{order}{char}{size}{unit}",
              st.sampled_from(["<", ">", "|", "=", ""]), st.sampled_from(DTYPE_CHARS),
              st.sampled_from(["", "0", "1", "2", "4", "8", "10", "16", "32"]),
              st.sampled_from(["", "[s]", "[ns]", "[7ms]", "[generic]", "[D]", "[Y]", "[2h]"])),
    st.text(max_size=24),
    st.sampled_from(["f4,i4", "(2,)f4", "O", "V8", "float32", "longdouble", "M8[as]", "U1",
                     "S" * 30]),
)


@FUZZ
@given(dtype_strings, st.binary(max_size=64), st.lists(st.integers(-1, 4), max_size=3),
       st.integers(-1, 3), st.integers(0, 4), st.booleans())
def _fuzz_arrays_and_frames(target, dtype, raw, shape, index, extra_frames, as_scalar):
    if as_scalar:
        arg = msgpack.ExtType(wire.EXT_SCALAR, pack([dtype, raw]))
        buffers = [raw] * extra_frames
    else:
        arg = msgpack.ExtType(wire.EXT_NDARRAY, pack([index, dtype, shape]))
        buffers = [raw] * max(extra_frames, 1)
    frames = [pack({**GOOD, "body": {"args": [arg], "kwargs": {}}}), *buffers]
    (reply,) = target.send_then_check_alive(frames)
    if reply.kind == wire.REPLY and target.server.name == "echo":
        value = reply.body
        assert isinstance(value, (np.ndarray, np.generic))
        wire._check_dtype(value.dtype)  # whatever was accepted is portable


def test_arrays_scalars_dtypes_and_frame_counts(target):
    before = rss()
    _fuzz_arrays_and_frames(target)
    target.assert_bounded(before)


@FUZZ
@given(st.lists(st.binary(max_size=64), min_size=1, max_size=6))
def _fuzz_raw_frames(target, frames):
    target.send_then_check_alive(frames)


def test_raw_bytes_in_any_number_of_frames(target):
    before = rss()
    _fuzz_raw_frames(target)
    target.assert_bounded(before)
