"""A secured fleet: the hub, daemons and clients each with their own key pair; a client that trusts
the hub finds each service's public key in its record; keys also come from PODIUM_* variables."""
from __future__ import annotations

import pytest

from control.bus.daemon import Daemon
from control.bus.echo import EchoService
from control.bus.hub import Hub, HubClient, connect, open_service, wait_for_service
from control.bus.security import FleetKeys, ServerCurve, curve_for_service
from control.errors import AuthenticationFailed, RemoteError, SecurityConfigError


@pytest.fixture
def secured(keyring, tcp_endpoint):
    """A CURVE hub and an echo daemon serving with host-a's keys."""
    hub_keys = keyring.fleet_keys("hub")
    with Hub(tcp_endpoint, curve=ServerCurve(hub_keys.keys, keyring.allow)) as hub, \
            Daemon(EchoService(), "echo:secure", "echo", hub=hub.endpoint,
                   keys=keyring.fleet_keys("host-a"), heartbeat_interval=0.2) as daemon:
        with HubClient(hub.endpoint, keys=keyring.fleet_keys("client")) as client:
            wait_for_service(client, "echo:secure")
        yield hub, daemon


def test_a_client_finds_the_service_key_through_the_trusted_hub(secured, keyring):
    hub, daemon = secured
    client_keys = keyring.fleet_keys("client")
    with HubClient(hub.endpoint, keys=client_keys) as hub_client:
        record = hub_client.lookup("echo:secure")
    assert record["curve_key"] == keyring.fleet_keys("host-a").public_text
    with connect("echo:secure", hub.endpoint, keys=client_keys) as client:
        assert client.call("add", 40, 2) == 42
    with open_service("echo:secure", hub=hub.endpoint, keys=client_keys, reconnect=False) as client:
        assert client.call("add", 1, 2) == 3


def test_keys_come_from_the_environment(secured, keyring, monkeypatch):
    hub, _ = secured
    for name, value in keyring.environ("client").items():
        monkeypatch.setenv(name, value)
    with connect("echo:secure", hub.endpoint) as client:  # no keys passed: PODIUM_KEYS and PODIUM_HUB_KEY
        assert client.call("add", 2, 3) == 5


@pytest.mark.parametrize("who, reason", [
    ("no keys", "requires CurveZMQ keys and this client has none"),
    ("stranger", "refused this client's public key"),
])
def test_the_secured_hub_refuses_outsiders_by_name(secured, keyring, who, reason):
    hub, _ = secured
    keys = None if who == "no keys" else FleetKeys.from_files(keyring.secret("stranger"), keyring.public("hub"))
    with pytest.raises(AuthenticationFailed, match=reason) as refused:
        with HubClient(hub.endpoint, keys=keys, timeout=30) as client:
            client.list()
    assert hub.endpoint in str(refused.value)


def test_a_secured_service_record_needs_client_keys():
    record = {"endpoint": "tcp://10.0.0.2:7000", "curve_key": "x" * 40}
    with pytest.raises(SecurityConfigError, match="service 'sim:a' at tcp://10.0.0.2:7000 requires CurveZMQ"):
        curve_for_service(None, record, "sim:a")
    assert curve_for_service(None, {"endpoint": "tcp://127.0.0.1:1"}, "open") is None


def test_member_keys_name_what_is_missing(keyring):
    with pytest.raises(SecurityConfigError, match="without this member's own key pair"):
        FleetKeys.from_files(None, keyring.public("hub"))
    only_pair = FleetKeys.from_files(keyring.secret("client"))
    with pytest.raises(SecurityConfigError, match="no hub public key"):
        only_pair.hub_curve()
    with pytest.raises(SecurityConfigError, match="needs an allow-list"):
        only_pair.server_curve()
    with pytest.raises(SecurityConfigError, match="holds no secret key"):
        FleetKeys.from_files(keyring.public("client"))
    assert FleetKeys.from_env({}) is None


@pytest.mark.parametrize("key", ["short", "~" * 40])
def test_a_record_with_a_malformed_key_is_refused(secured, keyring, key):
    hub, _ = secured
    with HubClient(hub.endpoint, keys=keyring.fleet_keys("client")) as client:
        with pytest.raises(RemoteError, match="curve_key"):
            client.call("register", "evil", "echo", "tcp://127.0.0.1:1", curve_key=key)


def test_an_address_beyond_loopback_needs_a_service_name(keyring):
    with pytest.raises(SecurityConfigError, match="no public key to check the server against"):
        open_service("tcp://10.0.0.2:7000", keys=keyring.fleet_keys("client"))


def test_a_daemon_takes_its_keys_from_a_serving_environment_only(keyring, monkeypatch, tcp_endpoint):
    """PODIUM_KEYS with PODIUM_ALLOW (what podium up hands a daemon): served with CurveZMQ; a
    learner's environment (no allow-list) leaves an in-process daemon plain."""
    hub_pair = keyring.fleet_keys("hub")
    with Hub(tcp_endpoint, curve=ServerCurve(hub_pair.keys, keyring.allow)) as hub:
        for name, value in keyring.environ("host-b").items():
            monkeypatch.setenv(name, value)
        with Daemon(EchoService(), "echo:env", "echo", hub=hub.endpoint) as daemon:
            assert daemon.record["curve_key"] == keyring.fleet_keys("host-b").public_text
        monkeypatch.delenv("PODIUM_ALLOW")
        with Daemon(EchoService(), "echo:plain", "echo", hub=hub.endpoint) as daemon:
            assert "curve_key" not in daemon.record
