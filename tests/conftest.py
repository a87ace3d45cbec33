"""Shared fixtures: free ports, and podium processes started for real and always cleaned up."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def tcp_endpoint() -> str:
    return f"tcp://127.0.0.1:{free_port()}"


@pytest.fixture(params=["tcp", "ipc"])
def endpoint(request, tmp_path) -> str:
    """A fresh endpoint on each transport the bus supports."""
    if request.param == "ipc":
        return f"ipc://{tmp_path}/service.sock"
    return f"tcp://127.0.0.1:{free_port()}"


class Processes:
    """Start podium CLI processes; kill whatever is left at teardown."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def podium(self, *args: str) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-m", "control.cli", *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        proc.send_signal(sig)
        proc.wait(10)

    def cleanup(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


@pytest.fixture
def processes():
    procs = Processes()
    yield procs
    procs.cleanup()


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05):
    """Poll predicate until it returns truthy; returns its value or fails the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout} s")


def _cuda() -> bool:
    try:
        import torch
        return torch.cuda.is_available()
    except ImportError:
        return False


gpu = pytest.mark.skipif(not _cuda(), reason="needs a CUDA GPU (torch sees none here): the CUDA-graph "
                                             "update is checked only on GPU machines")
