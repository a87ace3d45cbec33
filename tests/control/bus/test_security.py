"""Loopback by default; CurveZMQ Ironhouse when keys are configured."""
from __future__ import annotations

import stat

import pytest
import zmq

from control.bus.echo import EchoService
from control.bus.hub import Hub
from control.bus.rpc import Client, Server
from control.bus.security import ClientCurve, KeyPair, ServerCurve, create_keypair, is_local_endpoint
from control.bus.streams import Publisher
from control.errors import AuthenticationFailed, InsecureBindError, SecurityConfigError


@pytest.mark.parametrize("endpoint, local", [
    ("tcp://127.0.0.1:5000", True), ("tcp://127.3.2.1:1", True), ("tcp://localhost:1", True),
    ("tcp://[::1]:5000", True), ("ipc:///tmp/x", True), ("inproc://x", True),
    ("tcp://0.0.0.0:5000", False), ("tcp://*:5000", False), ("tcp://10.0.0.5:1", False),
    ("tcp://eth0:1", False), ("udp://127.0.0.1:1", False),
])
def test_local_endpoints(endpoint, local):
    assert is_local_endpoint(endpoint) is local


@pytest.mark.parametrize("make", [lambda ep: Server(object(), ep), lambda ep: Hub(ep),
                                  lambda ep: Publisher(ep)])
def test_non_loopback_bind_without_keys_is_refused(make):
    with pytest.raises(InsecureBindError, match="refusing to bind tcp://0.0.0.0:0 without CurveZMQ"):
        make("tcp://0.0.0.0:0")


def test_keys_are_private_files(tmp_path):
    public, secret = create_keypair(tmp_path, "node")
    for path in (public, secret):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    pair = KeyPair.load(secret)
    assert pair.secret and len(pair.public) == 40
    assert KeyPair.load(public).secret is None


def test_bad_key_files_are_named(tmp_path):
    with pytest.raises(SecurityConfigError, match="does not exist"):
        KeyPair.load(tmp_path / "missing.key")
    (tmp_path / "junk.key").write_text("not a certificate")
    public, _ = create_keypair(tmp_path, "srv")
    with pytest.raises(SecurityConfigError, match="holds no secret key"):
        ServerCurve.from_files(public, tmp_path)
    with pytest.raises(SecurityConfigError, match="not a directory"):
        ServerCurve.from_files(tmp_path / "srv.key_secret", tmp_path / "nowhere")


@pytest.fixture
def curve_setup(tmp_path, tcp_endpoint):
    keys, allowed = tmp_path / "keys", tmp_path / "allowed"
    allowed.mkdir()
    _, server_secret = create_keypair(keys, "server")
    good_public, good_secret = create_keypair(keys, "good")
    _, bad_secret = create_keypair(keys, "stranger")
    (allowed / good_public.name).write_bytes(good_public.read_bytes())
    curve = ServerCurve.from_files(server_secret, allowed)
    with Server(EchoService(), tcp_endpoint, name="secure", curve=curve) as server:
        yield server, keys, good_secret, bad_secret


def test_curve_client_with_allowed_key_can_call(curve_setup):
    server, keys, good_secret, _ = curve_setup
    curve = ClientCurve.from_files(good_secret, keys / "server.key")
    with Client(server.endpoint, curve=curve, context=zmq.Context(), timeout=5) as client:
        assert client.call("add", 20, 22) == 42


@pytest.mark.parametrize("who, reason", [
    ("stranger", "refused this client's public key"),
    ("no keys", "requires CurveZMQ keys and this client has none"),
    ("wrong server key", "public key this client was given does not match"),
])
def test_curve_server_refuses_unknown_or_plain_clients(curve_setup, who, reason):
    """A refused handshake is an authentication failure naming the endpoint, reported by the socket
    monitor as soon as the server refuses, not a CallTimeout when the (long) deadline passes."""
    server, keys, good_secret, bad_secret = curve_setup
    curve = {"stranger": lambda: ClientCurve.from_files(bad_secret, keys / "server.key"),
             "no keys": lambda: None,
             "wrong server key": lambda: ClientCurve.from_files(good_secret, keys / "good.key")}[who]()
    with Client(server.endpoint, curve=curve, context=zmq.Context(), timeout=30) as client:
        with pytest.raises(AuthenticationFailed, match=reason) as refused:
            client.call("add", 1, 1)
        assert server.endpoint in str(refused.value)
        with pytest.raises(AuthenticationFailed):  # and again on the next call, on a fresh socket
            client.call("add", 1, 1)


def test_plain_server_takes_plain_client_without_monitor_left_open(tcp_endpoint):
    with Server(EchoService(), tcp_endpoint) as server, Client(server.endpoint, timeout=5) as client:
        assert client.call("add", 1, 2) == 3
        assert client._monitor is None  # the handshake succeeded: the hot path polls one socket
        assert client.call("add", 2, 2) == 4
