"""RemotePhone over a real daemon: strict conformance, errors keeping their class, garbage refused
while the daemon keeps serving, a killed daemon as a clear error."""
from __future__ import annotations

import contextlib

import numpy as np
import pytest

from control import RemotePhone
from control.bus.daemon import Daemon
from control.bus.hub import HubClient, wait_for_service
from control.bus.rpc import Client
from control.errors import CallTimeout, RemoteError, ServiceNotFound
from control.phone import DeviceClosed, DeviceError, InvalidAction, JSONAction, PhoneService, check_phone


@contextlib.contextmanager
def served(hub, device, name: str = "toy:0"):
    with Daemon(PhoneService(device), name, "phone", hub=hub.endpoint):
        with HubClient(hub.endpoint) as client:
            wait_for_service(client, name)
        yield


def test_a_remote_phone_passes_the_strict_conformance_check(hub, toy):
    with served(hub, toy):
        remote = RemotePhone("toy:0", hub=hub.endpoint)
        report = check_phone(remote, strict=True)
    assert report.unsupported == {} and len(report.performed) == 13
    assert toy.log.count("click") >= 1 and not toy.closed  # closing the client leaves the phone


def test_the_remote_phone_and_the_local_one_agree(hub, toy):
    with served(hub, toy):
        with RemotePhone("toy:0", hub=hub.endpoint) as remote:
            remote_obs = remote.reset()
            local_obs = toy.observe()
            assert np.array_equal(remote_obs.screenshot, local_obs.screenshot)
            assert remote_obs.elements == local_obs.elements and remote.current_app() == "toy.launcher"
            remote.act(JSONAction("click", index=0))        # the 'Notes' icon
            assert remote.current_app() == "toy.notes" == toy.current_app()
            remote.act('{"action_type": "input_text", "text": "milk"}')
            assert remote.observe().elements[0].text == "milk"
            assert remote.spec["kind"] == "ToyPhone"


def test_remote_invalid_actions_are_invalid_action_here(hub, toy):
    with served(hub, toy), RemotePhone("toy:0", hub=hub.endpoint) as remote:
        remote.reset()
        with pytest.raises(InvalidAction, match="index 7 is out of range") as info:
            remote.act({"action_type": "click", "index": 7})     # checked by the phone, remotely
        assert isinstance(info.value, RemoteError)
        with pytest.raises(InvalidAction, match="unknown action_type"):
            remote.act({"action_type": "fly"})                    # checked here, before sending
        assert toy.log == []


@pytest.mark.parametrize("payload", [None, 5, "click", [1, 2], {"action_type": 3}, {"action_type": ["click"]},
                                     {"action_type": "click", "index": "many"}, {"x": np.zeros(3)}])
def test_garbage_actions_sent_raw_are_refused_and_the_daemon_keeps_serving(hub, toy, payload):
    with served(hub, toy), HubClient(hub.endpoint) as hub_client:
        endpoint = hub_client.lookup("toy:0")["endpoint"]
        with Client(endpoint, timeout=5) as raw:
            with pytest.raises(InvalidAction):
                raw.call("act", payload)
            assert raw.call("current_app") == "toy.launcher"
    assert toy.log == []


def test_a_service_that_is_not_a_phone_is_refused_by_name(hub):
    from control.bus.echo import EchoService

    with Daemon(EchoService(), "echo:0", "echo", hub=hub.endpoint), HubClient(hub.endpoint) as client:
        wait_for_service(client, "echo:0")
        with pytest.raises(DeviceError, match="echo:0 is not a phone daemon: it lacks act, current_app"):
            RemotePhone("echo:0", hub=hub.endpoint)


def test_a_dead_daemon_is_a_call_timeout_and_a_closed_phone_says_so(hub, toy):
    daemon = Daemon(PhoneService(toy), "toy:0", "phone", hub=hub.endpoint).start()
    with HubClient(hub.endpoint) as client:
        wait_for_service(client, "toy:0")
    remote = RemotePhone("toy:0", hub=hub.endpoint, timeout=1.0)
    remote.observe()
    daemon.stop()   # it unregisters on the way out: the retry's lookup finds no 'toy:0'
    with pytest.raises((CallTimeout, ServiceNotFound), match="toy:0"):
        remote.observe()
    remote.close()
    with pytest.raises(DeviceClosed):
        remote.observe()
