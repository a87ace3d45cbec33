"""Shared fixtures: free ports, podium processes and an Appium server, started for real and always
cleaned up."""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
APPIUM_DIR = REPO / ".appium"
APPIUM = APPIUM_DIR / "node_modules" / ".bin" / "appium"


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


def podium(*args: str, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `podium ARGS...` to completion in its own process; its output is captured."""
    return subprocess.run([sys.executable, "-m", "control.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def our_processes(state_dir: Path) -> list[int]:
    """Every process on this machine started by a supervisor of `state_dir` (the process table)."""
    from control.fleet.supervisor import MARKER

    marker = f"{MARKER}={state_dir.resolve()}".encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker in (proc / "environ").read_bytes().split(b"\0"):
                    state = (proc / "stat").read_text().split(")")[-1].split()[0]
                    if state != "Z":
                        pids.append(int(proc.name))
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                pass
    return pids


def write_config(tmp_path: Path, devices: str, **policy: float) -> tuple[Path, str]:
    """A fleet config with a hub on a free port; returns its path and the hub address."""
    hub = f"tcp://127.0.0.1:{free_port()}"
    supervisor = "\n".join(f"{key} = {value}" for key, value in policy.items())
    config = tmp_path / "podium.toml"
    config.write_text(f'[hub]\naddress = "{hub}"\n[supervisor]\n{supervisor}\n{devices}')
    return config, hub


@contextlib.contextmanager
def fleet_up(tmp_path: Path, devices: str, **policy: float):
    """`podium up --detach` on a config holding `devices`; yields (hub address, state dir). At the
    end: `podium down`, whatever is left killed, and a check that nothing is left."""
    config, hub = write_config(tmp_path, devices, **policy)
    state = tmp_path / "state"
    try:
        result = podium("up", str(config), "--state-dir", str(state), "--detach")
        assert result.returncode == 0, result.stderr
        yield hub, state
    finally:
        podium("down", "--state-dir", str(state))
        for pid in our_processes(state):
            os.kill(pid, signal.SIGKILL)
    wait_until(lambda: our_processes(state) == [], timeout=10)


def supervised(state: Path) -> dict[str, dict]:
    """What `podium status` knows, by daemon name (from the supervisor's control socket)."""
    from control.fleet.supervisor import StateDir, control_client

    with control_client(StateDir(state)) as supervisor:
        return {row["name"]: row for row in supervisor.call("status")}


class Keyring:
    """A secured fleet's key files: one pair per member, and the allow-list of every member's public
    key (the stranger's pair is left out of it)."""

    MEMBERS = ("hub", "host-a", "host-b", "client")

    def __init__(self, root: Path) -> None:
        from control.bus.security import create_keypair

        self.root, self.allow = root, root / "allowed"
        self.allow.mkdir(parents=True)
        for name in (*self.MEMBERS, "stranger"):
            public, _ = create_keypair(root, name)
            if name != "stranger":
                (self.allow / public.name).write_bytes(public.read_bytes())

    def secret(self, name: str) -> Path:
        return self.root / f"{name}.key_secret"

    def public(self, name: str) -> Path:
        return self.root / f"{name}.key"

    def fleet_keys(self, name: str):
        """`name`'s FleetKeys: its pair, the hub's public key and the allow-list."""
        from control.bus.security import FleetKeys

        return FleetKeys.from_files(self.secret(name), self.public("hub"), self.allow)

    def environ(self, name: str) -> dict[str, str]:
        """The variables that give a podium process `name`'s keys."""
        return {"PODIUM_KEYS": str(self.secret(name)), "PODIUM_HUB_KEY": str(self.public("hub")),
                "PODIUM_ALLOW": str(self.allow)}


@pytest.fixture
def keyring(tmp_path) -> Keyring:
    return Keyring(tmp_path / "keys")


@pytest.fixture
def hub(tcp_endpoint):
    """A hub in this process, on a free loopback port."""
    from control.bus.hub import Hub

    with Hub(tcp_endpoint) as running:
        yield running


class Processes:
    """Start podium CLI processes; kill whatever is left at teardown."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def podium(self, *args: str) -> subprocess.Popen:
        return self.spawn([sys.executable, "-m", "control.cli", *args])

    def spawn(self, argv: list[str]) -> subprocess.Popen:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
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


@pytest.fixture
def sim_daemon(hub, processes):
    """`podium sim phone` as its own process, with its HTTP side on a free port; yields its name."""
    processes.podium("sim", "phone", "--name", "sim:phone-test", "--hub", hub.endpoint, "--http", "0")
    from control.bus.hub import HubClient, wait_for_service

    with HubClient(hub.endpoint) as client:
        wait_for_service(client, "sim:phone-test", timeout=60)
    return "sim:phone-test"


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


gpu = pytest.mark.skipif(not _cuda(), reason="needs a CUDA GPU (torch sees none here): checked only on GPU machines")


class AppiumServer:
    """A real Appium 3 server (installed by scripts/appium.sh) on 127.0.0.1, stopped by pid."""

    def __init__(self, log_dir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"appium-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> AppiumServer:
        env = {**os.environ, "APPIUM_HOME": str(APPIUM_DIR / "home")}
        env.pop("ANDROID_HOME", None)
        env.pop("ANDROID_SDK_ROOT", None)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([str(APPIUM), "--address", "127.0.0.1", "--port", str(self.port),
                                          "--log-level", "info", "--log-no-colors"], stdout=log,
                                         stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"Appium exited with {self.proc.returncode}:\n{self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/status", timeout=1) as reply:
                    if reply.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        pytest.fail(f"Appium did not answer on {self.url} within {timeout} s")

    def send(self, sig: int) -> None:
        os.killpg(self.proc.pid, sig)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        if sig != signal.SIGKILL:
            # A frozen server cannot act on SIGTERM. SIGKILL needs no thaw, and must get none: a
            # thawed server could answer a pending request in the moment before it dies.
            self.send(signal.SIGCONT)
        self.send(sig)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.send(signal.SIGKILL)
            self.proc.wait(10)


@pytest.fixture
def appium(tmp_path):
    """A running Appium server; skipped (saying why) only where node is not installed at all."""
    if not APPIUM.exists():
        if shutil.which("node") is None:
            pytest.skip("node and npm are not installed, so Appium is not: the Appium tests need "
                        "them (scripts/setup.sh installs Appium wherever node is present)")
        pytest.fail(f"Appium is not installed in {APPIUM_DIR}: run bash scripts/setup.sh")
    server = AppiumServer(tmp_path).start()
    yield server
    server.stop()

