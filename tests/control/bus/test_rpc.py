"""RPC over tcp and ipc: calls, remote errors, concurrency, deadlines, retries, a killed server."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from control.bus.rpc import Client, Server, idempotent
from control.errors import CallTimeout, RemoteError, UnknownMethod
from tests.conftest import wait_until


class AppError(Exception):
    pass


class Counter:
    def __init__(self) -> None:
        self.value = 0
        self.seen: list[object] = []
        self.slow_calls = 0

    def add(self, n: int = 1) -> int:
        self.value += n
        return self.value

    def record(self, item: object) -> int:
        self.seen.append(item)
        return len(self.seen)

    def scale(self, arr: np.ndarray, factor: float = 2.0) -> np.ndarray:
        return arr * factor

    def fail(self, kind: str) -> None:
        if kind == "value":
            raise ValueError("bad value 7")
        if kind == "key":
            raise KeyError("missing")
        raise AppError("custom failure")

    def sleep(self, seconds: float) -> str:
        time.sleep(seconds)
        return "slept"

    @idempotent
    def slow_once(self) -> int:
        """Slow the first time only: a retry after a timeout then succeeds."""
        self.slow_calls += 1
        if self.slow_calls == 1:
            time.sleep(1.5)
        return self.slow_calls

    def unencodable(self) -> object:
        return {1, 2}


@pytest.fixture
def served(endpoint):
    target = Counter()
    with Server(target, endpoint, name="counter") as server:
        yield target, server


def test_calls_with_args_kwargs_and_arrays(served):
    _, server = served
    with Client(server.endpoint, service="counter") as client:
        assert client.call("add") == 1
        assert client.call("add", n=5) == 6
        out = client.call("scale", np.arange(6, dtype=np.float32).reshape(2, 3), factor=0.5)
        np.testing.assert_array_equal(out, np.arange(6, dtype=np.float32).reshape(2, 3) * 0.5)
        assert client.ping()


def test_proxy_and_describe(served):
    _, server = served
    with Client(server.endpoint, service="counter") as client:
        proxy = client.proxy()
        assert proxy.add(n=2) == 2
        assert "slow_once" in dir(proxy)
        assert client.describe()["methods"]["slow_once"]["idempotent"] is True
        with pytest.raises(UnknownMethod):
            _ = proxy.nothing_here


def test_remote_exceptions_keep_type_and_message(served):
    _, server = served
    with Client(server.endpoint, service="counter") as client:
        with pytest.raises(ValueError, match="bad value 7") as info:
            client.call("fail", "value")
        assert isinstance(info.value, RemoteError)
        assert info.value.remote_type == "ValueError" and info.value.method == "fail"
        assert "raise ValueError" in info.value.remote_traceback
        with pytest.raises(KeyError):
            client.call("fail", "key")
        with pytest.raises(RemoteError) as custom:
            client.call("fail", "custom")
        assert custom.value.remote_type.endswith("AppError")
        with pytest.raises(UnknownMethod, match="has no method 'nope'.*add"):
            client.call("nope")
        with pytest.raises(TypeError):
            client.call("add", 1, 2, 3)  # wrong arity
        with pytest.raises(RemoteError, match="cannot carry"):
            client.call("unencodable")
        assert client.call("add") == 1  # still serving


def test_many_clients_at_once(served):
    target, server = served
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            with Client(server.endpoint) as client:
                for i in range(100):
                    out = client.call("scale", np.full(4, k * 1000 + i, np.int64), factor=1)
                    assert out.tolist() == [k * 1000 + i] * 4
                    client.call("record", k)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sorted(set(target.seen)) == list(range(8)) and len(target.seen) == 800


def test_one_client_shared_by_threads(served):
    _, server = served
    client = Client(server.endpoint)
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.extend(client.call("add") for _ in range(50)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == list(range(1, 201))
    client.close()


def test_timeout_names_service_and_method_and_next_call_is_not_confused(served):
    _, server = served
    with Client(server.endpoint, service="counter", timeout=0.3) as client:
        start = time.monotonic()
        with pytest.raises(CallTimeout, match="counter.sleep"):
            client.call("sleep", 1.0)
        assert time.monotonic() - start < 0.3 + 0.5
        # The late "slept" reply must never be taken for this call's answer.
        assert client.request("add", timeout=5) == 1


def test_non_idempotent_call_is_not_retried(served):
    target, server = served
    with Client(server.endpoint, timeout=1.0, retries=2) as client:
        with pytest.raises(CallTimeout):
            client.request("slow_once", idempotent=False)
    wait_until(lambda: target.slow_calls == 1)
    time.sleep(0.8)
    assert target.slow_calls == 1


def test_idempotent_call_is_retried_after_timeout(served):
    target, server = served
    with Client(server.endpoint, timeout=1.0, retries=2) as client:
        client.describe()  # learns that slow_once is idempotent
        assert client.call("slow_once") == 2
    assert target.slow_calls == 2


def test_call_queued_past_its_deadline_is_not_run(served):
    target, server = served
    blocker = Client(server.endpoint, timeout=5)
    thread = threading.Thread(target=blocker.call, args=("sleep", 1.5))
    thread.start()
    time.sleep(0.2)
    with Client(server.endpoint, timeout=0.3) as late:
        with pytest.raises(CallTimeout):
            late.call("record", "too late")
    thread.join(5)
    with Client(server.endpoint) as client:
        stats = client.stats()
    assert target.seen == [] and stats["expired"] == 1
    blocker.close()


def test_killed_server_times_out_within_deadline_then_recovers(processes, endpoint, tcp_endpoint):
    # The echo daemon is a real process; its hub address need not answer.
    args = ("echo", "--bind", endpoint, "--hub", tcp_endpoint)
    proc = processes.podium(*args)
    client = Client(endpoint, service="echo", timeout=10)
    assert client.call("echo", "up") == "up"
    processes.kill(proc)
    client.timeout = 1.0
    start = time.monotonic()
    with pytest.raises(CallTimeout, match="echo.echo"):
        client.call("echo", "anyone?")
    assert time.monotonic() - start < 1.0 + 0.5
    processes.podium(*args)
    client.timeout = 10
    assert client.call("echo", "back") == "back"
    client.close()


class Meeting:
    """Answers only when the other service is inside the same call: proof that calls overlap."""

    def __init__(self, barrier: threading.Barrier) -> None:
        self.barrier = barrier

    def meet(self, name: str) -> str:
        self.barrier.wait()
        return name

    def fail(self) -> None:
        raise ValueError("this one fails")


def test_request_each_sends_every_call_before_awaiting_any(tcp_endpoint):
    """Two services each wait for the other inside `meet`: called one after the other, the first
    would time out at the barrier; sent together, both answer."""
    from control.bus.rpc import request_each

    barrier = threading.Barrier(2, timeout=5)
    with Server(Meeting(barrier), "tcp://127.0.0.1:*") as a, Server(Meeting(barrier), "tcp://127.0.0.1:*") as b, \
            Client(a.endpoint, timeout=10) as to_a, Client(b.endpoint, timeout=10) as to_b:
        assert request_each([(to_a, "meet", {"name": "a"}), (to_b, "meet", {"name": "b"})]) == ["a", "b"]
        with pytest.raises(RemoteError, match="this one fails"):
            request_each([(to_a, "fail", {}), (to_b, "fail", {})])
        barrier.reset()
        assert request_each([(to_a, "meet", {"name": "a"}), (to_b, "meet", {"name": "b"})]) == ["a", "b"]
        assert to_a.stale_replies == 0 and to_b.stale_replies == 0  # every reply was read in its call
        with pytest.raises(ValueError, match="one call per client"):
            request_each([(to_a, "meet", {"name": "a"}), (to_a, "meet", {"name": "a"})])
