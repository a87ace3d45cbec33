"""No single message may end a server: each fault below was first caused against a real server
(a thread, or a process where the fault was a segfault) over real sockets on 127.0.0.1."""
from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path

import msgpack
import numpy as np
import pytest

import control
from control.bus import rpc, wire
from control.bus.echo import EchoService
from control.bus.hub import Hub, HubClient, Registry
from control.bus.rpc import Client, Server
from control.errors import InternalError, PodiumError, RegistryFull, UnsupportedVersion, WireError
from tests.conftest import free_port
from tests.control.bus.conftest import call_header, raw_dealer, reply_to

ROOT = Path(control.__file__).resolve().parents[1]  # the checkout whose `control` is under test


def packed(**fields) -> bytes:
    return msgpack.packb(call_header(**fields), use_bin_type=True)


@pytest.fixture
def server():
    with Server(EchoService(), f"tcp://127.0.0.1:{free_port()}", name="echo") as srv:
        yield srv


@pytest.fixture
def raw(server):
    with raw_dealer(server.endpoint) as sock:
        yield sock


def still_serves(endpoint: str) -> None:
    with Client(endpoint, timeout=3) as client:
        assert client.call("_podium.ping") == "pong"


# -- fault 1: a header field of the wrong type killed any server, the hub included ----------------
WRONG_TYPES = [
    ("kind", [1]), ("kind", {"a": 1}), ("kind", ("call",)), ("kind", 7), ("kind", b"call"),
    ("v", [1]), ("v", {"v": 1}), ("v", True), ("v", 1.0), ("v", "1"),
    ("id", [1]), ("id", {"id": 1}), ("id", True), ("id", 1.5),
    ("method", ["add"]), ("method", {"m": 1}), ("method", 7), ("method", ""),
    ("deadline", [1.0]), ("deadline", {"d": 1}), ("deadline", True), ("deadline", "soon"),
    ("deadline", float("nan")), ("body", [[1, 2]]),
]


@pytest.mark.parametrize("key, value", WRONG_TYPES, ids=[f"{k}={v!r}" for k, v in WRONG_TYPES])
def test_header_field_of_the_wrong_type_is_refused_and_the_server_serves_on(server, raw, key, value):
    reply = reply_to(raw, [packed(**{key: value})])
    assert reply is not None and reply.kind == wire.ERROR, "the server died or said nothing"
    expected = "UnsupportedVersion" if key == "v" else "WireError"
    assert reply.body["type"] == expected
    assert reply.id == (None if key == "id" else 9)
    still_serves(server.endpoint)


@pytest.mark.parametrize("value", [[1], {"a": 1}])
def test_a_kind_that_is_a_list_or_map_does_not_kill_the_hub(value):
    with Hub(f"tcp://127.0.0.1:{free_port()}", heartbeat_interval=0.2) as hub:
        with raw_dealer(hub.endpoint) as sock:
            reply = reply_to(sock, [packed(kind=value, method="list", body=None)])
            assert reply is not None and reply.body["type"] == "WireError"
            sock.send_multipart([packed(kind=value, id=None, method=None, body=None)])  # one way
        with HubClient(hub.endpoint) as client:
            assert client.list() == []
            assert client.stats()["rejected_malformed"] == 2


# -- fault 2: deeply nested ext values overflowed the C stack (a segfault) ------------------------
SERVE = """
import sys
from control.bus.rpc import Server
from control.bus.echo import EchoService
server = Server(EchoService(), sys.argv[1], name="echo")
print("ready", flush=True)
server.serve_forever()
"""


def nested_tuples(levels: int) -> msgpack.ExtType:
    value = msgpack.ExtType(wire.EXT_TUPLE, msgpack.packb([]))
    for _ in range(levels - 1):
        value = msgpack.ExtType(wire.EXT_TUPLE, msgpack.packb([value]))
    return value


@pytest.mark.parametrize("levels", [65, 400, 5000])
def test_deeply_nested_tuples_do_not_crash_a_server_process(levels):
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    proc = subprocess.Popen([sys.executable, "-c", SERVE, endpoint], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        with raw_dealer(endpoint, timeout_ms=5000) as sock:
            # an unknown method: the fault struck while decoding, before any method lookup
            reply = reply_to(sock, [packed(method="no_such_method", body={"args": [nested_tuples(levels)]})])
        time.sleep(0.1)
        assert proc.poll() is None, f"server process died with status {proc.returncode}"
        assert reply is not None and reply.body["type"] == "WireError"
        assert "nested more than" in reply.body["message"]
        still_serves(endpoint)
    finally:
        proc.kill()
        proc.wait(10)


def test_nesting_is_bounded_across_lists_and_tuples_alike():
    ok = []
    for _ in range(wire.MAX_DEPTH - 1):  # the header map is level 1
        ok = [ok]
    wire.decode_tree(wire.encode_tree(ok))
    with pytest.raises(WireError, match="nested more than"):
        wire.decode_tree(wire.encode_tree([ok]))
    mixed = ()
    for i in range(wire.MAX_DEPTH + 1):
        mixed = (mixed,) if i % 2 else [mixed]
    with pytest.raises(WireError, match="nested more than"):
        wire.decode_tree(wire.encode_tree(mixed))
    with pytest.raises(WireError, match="nested more than"):
        wire.encode_tree(nested_tuple_value(wire.MAX_DEPTH + 1))  # senders refuse it too


def nested_tuple_value(levels: int) -> tuple:
    value: tuple = ()
    for _ in range(levels - 1):
        value = (value,)
    return value


def test_total_element_count_is_bounded():
    too_many = msgpack.packb([[] for _ in range(wire.MAX_ELEMENTS // 2 + 1)])
    with pytest.raises(WireError, match="elements"):
        wire.decode_tree([too_many])
    wire.decode_tree([msgpack.packb(list(range(wire.MAX_ELEMENTS - 1)))])


# -- fault 3: scalars of ever new dtypes grew an encoding cache without bound ---------------------
def test_scalars_of_ever_new_dtypes_grow_no_cache(server):
    wire._scalar_prefixes.clear()
    with Client(server.endpoint, timeout=5) as client:
        for n in range(1, 300):  # each a dtype never seen before: S1, S2, ... and U1, U2, ...
            value = np.bytes_(b"x" * n) if n % 2 else np.str_("y" * n)
            assert client.call("echo", value) == value
        assert len(wire._scalar_prefixes) <= 64, "the scalar encoding cache grew with the peer's dtypes"
        for n in range(2, 300):  # datetime multiples: refused (not portable), cached nowhere
            raw_scalar = msgpack.ExtType(wire.EXT_SCALAR, msgpack.packb([f"<M8[{n}s]", bytes(8)]))
            frames = [packed(method="echo", body={"args": [raw_scalar]})]
            reply = answer_once(server.endpoint, frames)
            assert reply.body["type"] == "WireError" and "portable" in reply.body["message"]
        for unit in sorted(wire.DATETIME_UNITS):
            value = np.datetime64(1, unit)
            assert client.call("echo", value) == value
    assert len(wire._scalar_prefixes) <= 64
    assert len(wire._dtype_cache) <= wire._DTYPE_CACHE_MAX
    assert all(dtype.kind in "biufc" for dtype in wire._scalar_prefixes)


def answer_once(endpoint: str, frames) -> wire.Message:
    with raw_dealer(endpoint) as sock:
        reply = reply_to(sock, frames)
    assert reply is not None
    return reply


# -- the header schema ---------------------------------------------------------------------------
@pytest.mark.parametrize("version", [True, 1.0, 2, 0, None, ..., "1", -1])
def test_only_the_int_1_is_version_1(version):
    with pytest.raises(UnsupportedVersion):
        wire.decode([packed(v=version)])


@pytest.mark.parametrize("fields, match", [
    ({"id": None}, "integer id"), ({"id": ...}, "integer id"), ({"method": ...}, "method must"),
    ({"extra": 1}, "unknown header keys"), ({7: 1}, "unknown header keys"),
    ({"kind": "reply", "method": "add"}, "no method or deadline"),
    ({"kind": "reply", "deadline": 5.0}, "no method or deadline"),
    ({"deadline": float("inf")}, "deadline must be a number"),
])
def test_header_schema_is_enforced(fields, match):
    with pytest.raises(WireError, match=match):
        wire.decode([msgpack.packb(call_header(**{k: v for k, v in fields.items() if isinstance(k, str)})
                                   | {k: v for k, v in fields.items() if not isinstance(k, str)})])


def test_a_call_without_a_deadline_is_run(server, raw):
    reply = reply_to(raw, [packed(deadline=...)])
    assert reply.kind == wire.REPLY and reply.body == 3


def test_msgpack_timestamps_are_refused_like_any_unknown_ext(server, raw):
    for ts in (msgpack.Timestamp(5, 0), msgpack.Timestamp(2**33, 7), msgpack.Timestamp(-1, 5)):
        frames = [msgpack.packb(call_header(method="echo", body={"args": [ts]}))]
        reply = reply_to(raw, frames)
        assert reply.body["type"] == "WireError" and "-1" in reply.body["message"]
    # The timestamp's first bytes inside a string are no timestamp.
    reply = reply_to(raw, [packed(method="echo", body={"args": ["\u05ff\xd6\xff"]})])
    assert reply.kind == wire.REPLY
    reply = reply_to(raw, [packed(method="echo", body={"args": [b"\xd6\xff\xd7\xff\xc7\x0c\xff"]})])
    assert reply.kind == wire.REPLY and reply.body == b"\xd6\xff\xd7\xff\xc7\x0c\xff"


@pytest.mark.parametrize("dtype", ["V4", "g", "G", "O", "M8", "M8[2s]", "m8[7ms]", "f4,i4", "(2,)f4",
                                   "S0"])
def test_only_portable_dtypes_travel(dtype):
    with pytest.raises(WireError):
        wire._parse_dtype(dtype)
    if dtype not in ("O", "S0", "(2,)f4"):  # (numpy makes those arrays of another dtype)
        with pytest.raises(WireError, match="portable"):
            wire.encode_tree(np.zeros(2, dtype))


def test_frames_must_match_the_arrays(server, raw):
    arr = wire.encode_tree({"args": [np.arange(1024.0)]})  # beyond INLINE_MAX_BYTES: a frame of its own
    assert len(arr) == 2
    extra = [packed(method="echo", body=msgpack.unpackb(arr[0], ext_hook=msgpack.ExtType))]
    reply = reply_to(raw, [*extra, bytes(arr[1]), b"unreferenced"])
    assert reply.body["type"] == "WireError" and "refer to" in reply.body["message"]
    reply = reply_to(raw, [packed(), *[b""] * (wire.MAX_FRAMES + 1)])
    assert reply.body["type"] == "WireError" and "buffer frames" in reply.body["message"]
    still_serves(server.endpoint)


# -- stats, errors, the serve loop's own net ------------------------------------------------------
def test_stats_list_every_counter_zeros_included(server):
    with Client(server.endpoint) as client:
        stats = client.stats()
    assert set(rpc.STATS) <= set(stats)
    assert all(stats[name] == 0 for name in rpc.STATS if name != "meta_calls")
    with Hub(f"tcp://127.0.0.1:{free_port()}") as hub, HubClient(hub.endpoint) as client:
        assert client.stats()["heartbeat"] == 0


def test_numpy_memory_error_reaches_the_client_as_memory_error(server):
    with Client(server.endpoint, timeout=10) as client:
        with pytest.raises(MemoryError) as info:
            client.call("sample", [2**50], "float64")
    assert info.value.remote_type == "MemoryError"
    still_serves(server.endpoint)


def test_an_unexpected_exception_is_counted_logged_once_answered_and_serving_goes_on(
        server, raw, monkeypatch, caplog):
    def broken(identity, message):
        raise RuntimeError("a bug nobody foresaw")

    monkeypatch.setattr(server, "_handle_call", broken)
    with caplog.at_level(logging.DEBUG, logger="control.bus.rpc"):
        for _ in range(3):
            reply = reply_to(raw, [packed(id=41)])
            assert reply.kind == wire.ERROR and reply.id == 41
            assert reply.body["type"] == "InternalError"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "from peer" in errors[0].getMessage()
    monkeypatch.undo()
    with Client(server.endpoint) as client:
        assert client.stats()["internal_errors"] == 3
        assert client.call("add", 2, 3) == 5
    assert issubclass(InternalError, PodiumError) and issubclass(RegistryFull, PodiumError)


def test_the_hub_registry_is_bounded():
    registry = Registry(max_services=3)
    for i in range(3):
        registry.register(f"svc{i}", "echo", "tcp://127.0.0.1:1")
    with pytest.raises(RegistryFull):
        registry.register("one-too-many", "echo", "tcp://127.0.0.1:1")
    registry.register("svc0", "echo", "tcp://127.0.0.1:2")  # refreshing a known one still works


def test_a_publisher_with_ever_new_topics_grows_no_subscriber_state():
    from control.bus.streams import Publisher, Subscriber
    from tests.conftest import wait_until

    with Publisher(f"tcp://127.0.0.1:{free_port()}") as pub, \
            Subscriber(pub.endpoint, mode="latest", max_topics=8) as sub:
        wait_until(lambda: pub.publish("sync", None) is not None and sub.received > 0)
        for i in range(200):
            pub.publish(f"topic-{i}", i)
        wait_until(lambda: sub.received >= 200)
        assert len(sub._last_seq) <= 8 and len(sub._latest) <= 8
        assert sub.get(timeout=1, topic="topic-199").value == 199
