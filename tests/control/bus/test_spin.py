"""A client's busy-wait for fast replies (rpc.ReplySpin): when it spins, that it stops for slow
services and comes back for fast ones, that it never eats a message, and how it is configured."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import zmq

from control.bus.rpc import (
    DEFAULT_SPIN,
    MAX_SPIN,
    SPIN_ENV,
    Client,
    ReplySpin,
    Server,
    default_spin,
    request_each,
    usable_cpus,
)
from control.errors import CallTimeout, InvalidOption

FAST, SLOW = DEFAULT_SPIN / 4, DEFAULT_SPIN * 50


def windows(spin: ReplySpin, waited: float, calls: int) -> list[float]:
    """The window of each of `calls` calls that then waited `waited` for their reply."""
    out = []
    for _ in range(calls):
        window = spin.next_window()
        out.append(window)
        spin.observe(waited, window)
    return out


def test_a_new_client_spins_and_keeps_spinning_for_fast_replies():
    spin = ReplySpin(cpus=2)
    assert windows(spin, FAST, 50) == [DEFAULT_SPIN] * 50


def test_a_slow_service_stops_the_spinning_then_is_probed_every_sixteenth_call():
    spin = ReplySpin(cpus=2)
    first = windows(spin, SLOW, 3)
    assert first == [DEFAULT_SPIN] * 3 and not spin.spinning
    later = windows(spin, SLOW, 4 * ReplySpin.PROBE_EVERY)
    spun = [i for i, window in enumerate(later, 1) if window]
    assert spun == [ReplySpin.PROBE_EVERY * k for k in (1, 2, 3, 4)]


def test_spinning_comes_back_when_the_service_gets_fast_again():
    spin = ReplySpin(cpus=2)
    windows(spin, SLOW, 10)
    assert not spin.spinning
    # Blocked calls wait longer than they would have spinning (the wake-up): only probes tell.
    for _ in range(2 * ReplySpin.PROBE_EVERY):
        window = spin.next_window()
        spin.observe(FAST if window else DEFAULT_SPIN * 1.5, window)
        if spin.spinning:
            break
    assert spin.spinning


def test_one_slow_reply_among_fast_ones_does_not_stop_the_spinning():
    spin = ReplySpin(cpus=2)
    windows(spin, FAST, 20)
    windows(spin, SLOW, 1)
    assert spin.spinning
    assert windows(spin, FAST, 5) == [DEFAULT_SPIN] * 5


def test_no_spinning_with_a_zero_limit_or_on_one_cpu():
    assert windows(ReplySpin(0, cpus=2), FAST, 40) == [0.0] * 40
    assert windows(ReplySpin(cpus=1), FAST, 40) == [0.0] * 40


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="os.sched_setaffinity is Linux only")
def test_a_process_confined_to_one_cpu_never_spins():
    code = ("import os; os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]}); "
            "from control.bus.rpc import ReplySpin; print(ReplySpin().limit)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__)))))
    assert out.returncode == 0, out.stderr
    assert float(out.stdout) == 0.0


@pytest.mark.parametrize("limit", [-1e-6, float("nan"), 0.5])
def test_an_unusable_limit_is_refused_by_name(limit):
    with pytest.raises(InvalidOption, match="spin must be from 0 to 0.01 seconds"):
        ReplySpin(limit)


@pytest.mark.parametrize(("text", "seconds"), [("0", 0.0), ("50", 50e-6), ("1000", 1e-3),
                                               ("", DEFAULT_SPIN)])
def test_the_environment_sets_the_default(monkeypatch, text, seconds):
    monkeypatch.setenv(SPIN_ENV, text)
    assert default_spin() == pytest.approx(seconds)
    expected = seconds if usable_cpus() > 1 else 0.0
    assert Client("tcp://127.0.0.1:1").reply_spin.limit == pytest.approx(expected)
    assert Client("tcp://127.0.0.1:1", spin=0).reply_spin.limit == 0.0  # an explicit spin wins


@pytest.mark.parametrize("text", ["fast", "-5", "nan", "2e6", "10001"])
def test_an_unreadable_environment_setting_is_refused_naming_the_variable(monkeypatch, text):
    monkeypatch.setenv(SPIN_ENV, text)
    with pytest.raises(InvalidOption, match=SPIN_ENV):
        Client("tcp://127.0.0.1:1")


def test_waiting_never_takes_the_message_it_waits_for():
    context = zmq.Context.instance()
    receiver, sender = context.socket(zmq.PAIR), context.socket(zmq.PAIR)
    try:
        receiver.bind("inproc://spin-test")
        sender.connect("inproc://spin-test")
        spin = ReplySpin(cpus=2)
        spin.wait(receiver, 0.005)  # nothing comes: the window passes and nothing is lost
        sender.send(b"reply")
        start = time.monotonic()
        spin.wait(receiver, 3600.0)  # ends at the message, not after the window
        assert time.monotonic() - start < 60
        assert receiver.recv(zmq.NOBLOCK) == b"reply"
    finally:
        receiver.close(linger=0)
        sender.close(linger=0)


class Service:
    def fast(self, n: int) -> int:
        return n + 1

    def slow(self, n: int) -> int:
        time.sleep(0.02)
        return n + 1


def test_no_spin_outlasts_the_deadline():
    context = zmq.Context.instance()
    sock = context.socket(zmq.PAIR)
    try:
        sock.bind("inproc://spin-deadline")
        start = time.monotonic()
        ReplySpin(cpus=2).wait(sock, 3600.0, deadline=time.time() + 0.01)
        assert time.monotonic() - start < 60
    finally:
        sock.close(linger=0)


def test_a_client_spins_for_a_fast_service_and_ends_each_spin_at_its_reply(endpoint):
    with Server(Service(), endpoint, name="spun") as server, Client(server.endpoint) as client:
        client.reply_spin = ReplySpin(MAX_SPIN, cpus=2)  # as on any machine of two or more CPUs
        assert [client.call("fast", i) for i in range(20)] == list(range(1, 21))
        assert client.reply_spin.spinning


def test_a_call_times_out_at_its_deadline_while_spinning(tcp_endpoint):
    with Client(tcp_endpoint, timeout=0.002) as client:  # nobody serves there
        client.reply_spin = ReplySpin(MAX_SPIN, cpus=2)
        start = time.monotonic()
        with pytest.raises(CallTimeout):
            client.call("fast", 1)
        assert time.monotonic() - start < 5


def test_request_each_keeps_the_spin_of_fast_services(endpoint, tcp_endpoint):
    with Server(Service(), endpoint, name="one") as one, Server(Service(), tcp_endpoint, name="two") as two, \
            Client(one.endpoint) as first, Client(two.endpoint) as second:
        for client in (first, second):
            client.reply_spin = ReplySpin(MAX_SPIN, cpus=2)
        for i in range(10):
            assert request_each([(first, "fast", {"n": i}), (second, "fast", {"n": -i})]) == [i + 1, 1 - i]
        assert first.reply_spin.spinning and second.reply_spin.spinning


def test_a_client_stops_spinning_for_a_slow_service_and_its_answers_stay_right(endpoint):
    with Server(Service(), endpoint, name="spun") as server, Client(server.endpoint) as client:
        client.reply_spin = ReplySpin(0.001, cpus=2)
        assert [client.call("slow", i) for i in range(5)] == [1, 2, 3, 4, 5]
        assert not client.reply_spin.spinning
        assert client.call("fast", 9) == 10
