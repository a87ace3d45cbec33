"""A fleet over three hosts, for real: Linux network namespaces joined by veth pairs to a bridge.

    ns hub      10.77.0.1   the hub (CurveZMQ: the addresses are not loopback)      + the bridge
    ns host-a   10.77.0.2   `podium up`: sim:a (2 Pendulum envs), registering with the hub
    ns host-b   10.77.0.3   `podium up`: sim:b (1 Pendulum env)
    ns learner  10.77.0.4   a RemoteVectorEnv stepping the envs of both hosts

Host a's daemon is SIGKILLed mid-run; its supervisor restarts it and the learner carries on after
a reset. A learner without keys, and one with a key outside the allow-list, are refused by name.
Needs root (`ip netns`); anywhere else the test says why it skipped. Everything it makes is removed.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from tests.conftest import supervised, wait_until

SUBNET = "10.77.0"
HOSTS = {"hub": 1, "host-a": 2, "host-b": 3, "learner": 4}
HUB = f"tcp://{SUBNET}.1:5770"


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=30)


def _netns_unavailable() -> str | None:
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2) on this machine"
    probe = f"podium-probe-{uuid.uuid4().hex[:6]}"
    made = _run("ip", "netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"`ip netns add` is not permitted here ({made.stderr.strip()}): run as root"
    _run("ip", "netns", "del", probe, check=False)
    return None


class Lab:
    """Network namespaces named after HOSTS, each with one veth into a bridge in the hub's."""

    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:5]
        self.names = {host: f"podium-{host}-{self.tag}" for host in HOSTS}

    def ns(self, host: str) -> list[str]:
        return ["ip", "netns", "exec", self.names[host]]

    def build(self) -> None:
        for host, name in self.names.items():
            _run("ip", "netns", "add", name)
            _run(*self.ns(host), "ip", "link", "set", "lo", "up")
        bridge = self.ns("hub") + ["ip", "link"]
        _run(*bridge, "add", "br0", "type", "bridge")
        _run(*bridge, "set", "br0", "up")
        for host, index in HOSTS.items():
            inside, outside = f"p{index}-{self.tag}", f"b{index}-{self.tag}"  # names of 15 chars at most
            _run(*self.ns("hub"), "ip", "link", "add", outside, "type", "veth", "peer", "name", inside)
            _run(*self.ns("hub"), "ip", "link", "set", inside, "netns", self.names[host])
            _run(*bridge, "set", outside, "master", "br0")
            _run(*bridge, "set", outside, "up")
            _run(*self.ns(host), "ip", "addr", "add", f"{SUBNET}.{index}/24", "dev", inside)
            _run(*self.ns(host), "ip", "link", "set", inside, "up")

    def remove(self) -> None:
        for name in self.names.values():
            for pid in _run("ip", "netns", "pids", name, check=False).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            _run("ip", "netns", "del", name, check=False)


@pytest.fixture
def lab():
    reason = _netns_unavailable()
    if reason:
        print(f"skipped: {reason}")
        pytest.skip(reason)
    lab = Lab()
    try:
        lab.build()
        yield lab
    finally:
        lab.remove()


def _podium(lab: Lab, host: str, *args: str, env: dict | None = None, timeout: float = 120):
    return subprocess.run([*lab.ns(host), sys.executable, "-m", "control.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def _host_config(tmp_path: Path, keyring, host: str, devices: str) -> Path:
    config = tmp_path / f"{host}.toml"
    config.write_text(textwrap.dedent(f"""
        [hub]
        address = "{HUB}"
        start = false
        [daemons]
        bind = "tcp://{SUBNET}.{HOSTS[host]}:*"
        keys = "{keyring.secret(host)}"
        hub_key = "{keyring.public('hub')}"
        allow = "{keyring.allow}"
        [supervisor]
        backoff_initial = 0.2
        stop_timeout = 5
    """) + devices)
    return config


def _sim(name: str, envs: int) -> str:
    return f'[[devices]]\nname = "{name}"\nkind = "mujoco"\nenv = "Pendulum-v1"\nenvs = {envs}\nrender = false\n'


LEARNER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    import numpy as np
    from control.bus.hub import HubClient
    from control.gym.envs import RemoteVectorEnv

    hub, signal_dir = sys.argv[1], Path(sys.argv[2])
    with HubClient(hub) as client:
        endpoints = {r["name"]: r["endpoint"] for r in client.list()}
    envs = RemoteVectorEnv(["sim:a", "sim:b"], hub=hub, timeout=3.0, reconnect=True)
    obs, _ = envs.reset(seed=0)
    before = 0
    for _ in range(20):
        obs, reward, *_ = envs.step(np.zeros((envs.num_envs, 1), np.float32))
        before += 1
    (signal_dir / "stepped").touch()
    while not (signal_dir / "killed").exists():
        time.sleep(0.05)
    failures, deadline = 0, time.monotonic() + 60
    while True:                      # the daemon on host a is gone: reset until it is back
        try:
            obs, _ = envs.reset(seed=1)
            break
        except Exception:
            failures += 1
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    after = 0
    for _ in range(20):
        obs, reward, *_ = envs.step(np.zeros((envs.num_envs, 1), np.float32))
        after += 1
    print(json.dumps({"num_envs": envs.num_envs, "obs_shape": list(obs.shape), "before": before,
                      "after": after, "failed_resets": failures, "endpoints": endpoints}))
""")


def test_a_fleet_over_three_hosts_with_curve(lab, keyring, tmp_path):
    hub_config = tmp_path / "hub.toml"
    hub_config.write_text(f'[hub]\naddress = "{HUB}"\nkeys = "{keyring.secret("hub")}"\nallow = "{keyring.allow}"\n')
    states = {host: tmp_path / f"state-{host}" for host in ("hub", "host-a", "host-b")}
    configs = {"hub": hub_config, "host-a": _host_config(tmp_path, keyring, "host-a", _sim("sim:a", 2)),
               "host-b": _host_config(tmp_path, keyring, "host-b", _sim("sim:b", 1))}
    for host in ("hub", "host-a", "host-b"):
        started = _podium(lab, host, "up", str(configs[host]), "--state-dir", str(states[host]), "--detach")
        assert started.returncode == 0, started.stderr
    learner_keys = keyring.environ("client")
    listed = lambda: _podium(lab, "learner", "ls", "--hub", HUB, env=learner_keys).stdout
    wait_until(lambda: "sim:a" in listed() and "sim:b" in listed(), timeout=90, interval=0.5)

    refused = _podium(lab, "learner", "ls", "--hub", HUB)
    assert refused.returncode == 1
    assert f"handshake with {HUB} failed" in refused.stderr and "this client has none" in refused.stderr
    stranger = _podium(lab, "learner", "ls", "--hub", HUB, env={**learner_keys,
                                                                "PODIUM_KEYS": str(keyring.secret("stranger"))})
    assert stranger.returncode == 1 and "refused this client's public key" in stranger.stderr

    signals = tmp_path / "signals"
    signals.mkdir()
    learner = subprocess.Popen([*lab.ns("learner"), sys.executable, "-c", LEARNER, HUB, str(signals)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, **learner_keys})
    try:
        wait_until(lambda: (signals / "stepped").exists() or learner.poll() is not None, timeout=60)
        assert learner.poll() is None, learner.stderr.read()
        os.kill(supervised(states["host-a"])["sim:a"]["pid"], signal.SIGKILL)
        (signals / "killed").touch()
        out, err = learner.communicate(timeout=120)
        recovered = supervised(states["host-a"])["sim:a"]
    finally:
        if learner.poll() is None:
            learner.kill()
        for host in ("host-a", "host-b", "hub"):
            _podium(lab, host, "down", "--state-dir", str(states[host]))
    assert learner.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["num_envs"] == 3 and result["obs_shape"] == [3, 3]
    assert result["before"] == 20 and result["after"] == 20
    assert result["endpoints"]["sim:a"].startswith(f"tcp://{SUBNET}.2:")
    assert result["endpoints"]["sim:b"].startswith(f"tcp://{SUBNET}.3:")
    assert recovered["restarts"] == 1 and recovered["state"] == "running"
