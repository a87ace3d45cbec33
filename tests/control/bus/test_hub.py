"""The hub: registration, heartbeat expiry of a killed daemon, and surviving a hub restart."""
from __future__ import annotations

import contextlib
import signal
import sys
import time

import pytest

from control.bus import wire
from control.bus.daemon import Daemon
from control.bus.echo import EchoService
from control.bus.hub import Hub, HubClient, connect, wait_for_service
from control.errors import ServiceNotFound
from tests.conftest import free_port, wait_until
from tests.control.bus.conftest import raw_dealer


def names(hub: HubClient) -> list[str]:
    return [r["name"] for r in hub.list()]


def test_register_lookup_list_and_connect_by_name(hub):
    with Daemon(EchoService(), "echo:a", "echo", hub=hub.endpoint, capabilities={"arrays": True}), \
         Daemon(EchoService(), "sim:b", "sim", hub=hub.endpoint), HubClient(hub.endpoint) as client:
        wait_until(lambda: len(client.list()) == 2)
        record = client.lookup("echo:a")
        assert record["kind"] == "echo" and record["capabilities"] == {"arrays": True}
        assert [r["name"] for r in client.list(kind="sim")] == ["sim:b"]
        with connect("echo:a", hub.endpoint) as echo:
            assert echo.call("add", 1, 2) == 3
        with pytest.raises(ServiceNotFound, match="no live service named 'ghost'"):
            client.lookup("ghost")
        with pytest.raises(ServiceNotFound):
            connect("ghost", hub.endpoint)


def test_stopped_daemon_unregisters_at_once(hub):
    with HubClient(hub.endpoint) as client:
        daemon = Daemon(EchoService(), "echo:bye", "echo", hub=hub.endpoint).start()
        wait_for_service(client, "echo:bye")
        daemon.stop()
        assert "echo:bye" not in names(client)


def test_killed_daemon_leaves_the_list_within_4_s(processes, hub):
    proc = processes.podium("echo", "--name", "echo:doomed", "--hub", hub.endpoint)
    with HubClient(hub.endpoint) as client:
        wait_for_service(client, "echo:doomed", timeout=20)
        processes.kill(proc, signal.SIGKILL)
        killed = time.monotonic()
        wait_until(lambda: "echo:doomed" not in names(client), timeout=6)
        assert time.monotonic() - killed < 4.0


def test_sigterm_stops_daemon_gracefully_and_unregisters(processes, hub):
    proc = processes.podium("echo", "--name", "echo:term", "--hub", hub.endpoint)
    with HubClient(hub.endpoint) as client:
        wait_for_service(client, "echo:term", timeout=20)
        processes.kill(proc, signal.SIGTERM)
        assert proc.returncode == 0
        assert "echo:term" not in names(client)


def test_hub_restart_is_refilled_by_heartbeats(processes, tcp_endpoint):
    hub = Hub(tcp_endpoint).start()
    processes.podium("echo", "--name", "echo:1", "--hub", tcp_endpoint)
    processes.podium("echo", "--name", "echo:2", "--hub", tcp_endpoint)
    with HubClient(tcp_endpoint) as client:
        wait_until(lambda: names(client) == ["echo:1", "echo:2"], timeout=20)
        hub.stop()
        hub = Hub(tcp_endpoint).start()  # a new, empty registry on the same address
        # the daemons registered once, long ago: only their heartbeats (full records) refill it
        wait_until(lambda: names(client) == ["echo:1", "echo:2"], timeout=10)
        with connect("echo:2", tcp_endpoint) as echo:
            assert echo.call("echo", "still here") == "still here"
    hub.stop()


def test_daemon_started_before_the_hub_registers_once_it_is_up(tcp_endpoint):
    with Daemon(EchoService(), "echo:early", "echo", hub=tcp_endpoint):
        time.sleep(1.2)
        with Hub(tcp_endpoint), HubClient(tcp_endpoint) as client:
            wait_for_service(client, "echo:early", timeout=3)


def test_bad_registration_is_refused_with_reason(hub):
    with HubClient(hub.endpoint) as client:
        with pytest.raises(ValueError, match="non-empty string 'endpoint'"):
            client.call("register", "x", "echo", "")
        with pytest.raises(ValueError, match="capabilities"):
            client.call("register", "x", "echo", "tcp://127.0.0.1:1", capabilities=[1])
        assert client.list() == []


STUCK_DAEMON = """
import os, sys, time
from control.bus.daemon import Daemon

class Stuck:
    def hang(self) -> None:
        if sys.argv[3] == "python":
            time.sleep(600)   # a method that will not end when asked to stop
        else:
            os.system("exec sleep 20")   # stuck in C: system() retries its wait on EINTR, so
                                         # Python never gets to run a signal handler

Daemon(Stuck(), "stuck", "echo", hub=sys.argv[1], endpoint=sys.argv[2], stop_grace=float(sys.argv[4])).run()
"""


@contextlib.contextmanager
def stuck_daemon(processes, hub, where: str, grace: float):
    """A daemon (its own process) whose method `hang` is running, stuck in Python or in C."""
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    proc = processes.spawn([sys.executable, "-c", STUCK_DAEMON, hub.endpoint, endpoint, where, str(grace)])
    with HubClient(hub.endpoint) as client:
        wait_for_service(client, "stuck", timeout=20)
    with raw_dealer(endpoint) as sock:
        sock.send_multipart(wire.encode(wire.Message(wire.CALL, 1, method="hang",
                                                      body={"args": [], "kwargs": {}})))
        time.sleep(0.5)   # the call is running
        yield proc


@pytest.mark.parametrize("where", ["python", "c"])
def test_a_daemon_whose_graceful_stop_hangs_still_exits_after_its_grace(processes, hub, where):
    """SIGTERM while a method runs on, in Python or stuck in C: the graceful stop cannot finish,
    and no supervisor may be left to send SIGKILL (PDEATHSIG), so the daemon ends itself once its
    grace is over."""
    with stuck_daemon(processes, hub, where, grace=1.0) as proc:
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = proc.wait(15)
    assert code == 128 + signal.SIGTERM
    assert time.monotonic() - started < 10   # grace 1 s, not the method's 600 s
    assert "exiting without a graceful stop" in proc.stderr.read()


def test_a_second_signal_ends_a_stuck_daemon_at_once(processes, hub):
    with stuck_daemon(processes, hub, "c", grace=60) as proc:
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)   # (not SIGINT: system() ignores it while it waits)
        assert proc.wait(10) == 128 + signal.SIGTERM
    assert "signal again: exiting now" in proc.stderr.read()
