"""podium up / status / logs / restart / down with real processes, and the faults they must survive."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from control.bus.hub import HubClient
from control.bus.rpc import Client
from control.errors import PodiumError
from control.fleet.supervisor import MARKER, StateDir
from control.gym.envs import RemoteEnv
from tests.conftest import our_processes, podium, supervised, wait_until, write_config


@pytest.fixture
def fleet(tmp_path):
    """A config with two Pendulum sims; `podium down` at teardown."""
    config, hub = write_config(tmp_path, """
[[devices]]
name = "sim:a"
kind = "mujoco"
env = "Pendulum-v1"
render = false
[[devices]]
name = "sim:b"
kind = "mujoco"
env = "Pendulum-v1"
envs = 2
render = false
""", max_restarts=3, restart_window=30, backoff_initial=0.2, stop_timeout=5)
    state = tmp_path / "state"
    yield config, state, hub
    podium("down", "--state-dir", str(state))
    for pid in our_processes(state):
        os.kill(pid, signal.SIGKILL)


def up(config: Path, state: Path) -> None:
    result = podium("up", str(config), "--state-dir", str(state), "--detach")
    assert result.returncode == 0, result.stderr


def names(hub: str) -> set[str]:
    with HubClient(hub, timeout=1.0) as client:
        return {r["name"] for r in client.list()}


def test_up_registers_all_and_a_killed_daemon_comes_back_within_3_s(fleet):
    config, state, hub = fleet
    up(config, state)
    wait_until(lambda: names(hub) == {"sim:a", "sim:b"}, timeout=60)
    env = RemoteEnv("sim:a", hub=hub, timeout=2.0, reconnect=True)
    env.reset(seed=0)
    with HubClient(hub) as client:
        old = client.lookup("sim:a")
        os.kill(old["pid"], signal.SIGKILL)
        killed = time.monotonic()
        record = wait_until(lambda: _new_instance(client, old), timeout=10)
        assert time.monotonic() - killed < 3.0
    assert record["pid"] != old["pid"]
    with pytest.raises(PodiumError):  # the old connection's episode is gone with its daemon
        env.step(np.zeros(1, np.float32))
    obs, _ = env.reset(seed=1)  # reconnect: found again through the hub
    assert obs.shape == (3,)
    rows = {r["name"]: r for r in _status(state)}
    assert rows["sim:a"]["restarts"] == 1 and rows["sim:a"]["state"] == "running"
    assert rows["sim:b"]["restarts"] == 0 and rows["hub"]["state"] == "running"


def _new_instance(client: HubClient, old: dict) -> dict | None:
    try:
        record = client.lookup(old["name"])
    except Exception:
        return None
    return record if record["instance"] != old["instance"] else None


def _status(state: Path) -> list[dict]:
    with Client(StateDir(state).control_endpoint, timeout=5) as client:
        return client.call("status")


def test_status_logs_restart_and_down_leave_nothing_behind(fleet):
    config, state, hub = fleet
    up(config, state)
    wait_until(lambda: names(hub) == {"sim:a", "sim:b"}, timeout=60)
    result = podium("status", "--state-dir", str(state))
    assert result.returncode == 0
    for word in ("sim:a", "sim:b", "hub", "running"):
        assert word in result.stdout
    log = podium("logs", "sim:b", "--state-dir", str(state))
    assert log.returncode == 0 and "starting sim:b" in log.stdout
    assert "no log for 'ghost'" in podium("logs", "ghost", "--state-dir", str(state)).stderr
    restarted = podium("restart", "sim:b", "--state-dir", str(state))
    assert restarted.returncode == 0 and "restarted sim:b" in restarted.stdout
    second = podium("up", str(config), "--state-dir", str(state))
    assert second.returncode == 1 and "already running" in second.stderr
    assert len(our_processes(state)) == 3  # hub + 2 sims
    result = podium("down", "--state-dir", str(state))
    assert result.returncode == 0, result.stderr
    assert our_processes(state) == []
    assert podium("status", "--state-dir", str(state)).returncode == 1


def test_daemon_crashing_at_start_backs_off_then_fails(tmp_path):
    config, _ = write_config(tmp_path, f"""
[[devices]]
name = "broken:0"
kind = "command"
argv = ["{sys.executable}", "-c", "import sys; print('no config for broken:0'); sys.exit(3)"]
""", max_restarts=4, restart_window=60, backoff_initial=0.1)
    state = tmp_path / "state"
    up(config, state)
    try:
        row = wait_until(lambda: next((r for r in _status(state) if r["name"] == "broken:0"
                                       and r["state"] == "failed"), None), timeout=20)
        assert row["delays"] == [0.1, 0.2, 0.4]  # growing delays, then failed after 4 crashes
        assert row["restarts"] == 3 and row["last_exit"] == 3
        assert "no config for broken:0" in podium("logs", "broken:0", "--state-dir", str(state)).stdout
        assert podium("restart", "broken:0", "--state-dir", str(state)).returncode == 0
    finally:
        podium("down", "--state-dir", str(state))


def test_killed_supervisor_leaves_no_daemons_and_next_up_recovers(fleet):
    config, state, hub = fleet
    up(config, state)
    wait_until(lambda: names(hub) == {"sim:a", "sim:b"}, timeout=60)
    supervisor = StateDir(state).read_pid()
    os.kill(supervisor, signal.SIGKILL)
    # Children die with it (PR_SET_PDEATHSIG -> graceful SIGTERM, which may wait ~1 s on the dead hub).
    deadline = time.monotonic() + 30
    while our_processes(state) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = {pid: Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            for pid in our_processes(state)}
    logs = {p.name: p.read_text()[-1500:] for p in (state / "logs").glob("*.log")} if left else {}
    assert left == {}, f"daemons outlived their supervisor: {left}; their logs: {logs}"
    assert (state / "supervisor.pid").exists()  # stale state left behind
    up(config, state)
    wait_until(lambda: names(hub) == {"sim:a", "sim:b"}, timeout=60)
    log = (state / "logs" / "supervisor.log").read_text()
    assert f"previous supervisor (pid {supervisor}) had died" in log
    assert StateDir(state).read_pid() != supervisor


def test_stale_children_are_stopped_by_down_after_a_supervisor_crash(fleet, tmp_path):
    """Even daemons that outlived their supervisor (no PDEATHSIG) are found and stopped."""
    config, state, hub = fleet
    st = StateDir(state)
    st.logs.mkdir(parents=True)
    env = {**os.environ, MARKER: str(st.root)}
    orphan = subprocess.Popen([sys.executable, "-m", "control.cli", "echo", "--name", "echo:orphan",
                               "--hub", hub], env=env, stdout=subprocess.DEVNULL)
    st.pid_path.write_text("999999")
    st.write_json(st.children_path, {"echo:orphan": orphan.pid})
    result = podium("down", "--state-dir", str(state))
    assert result.returncode == 0 and "stopped 1 leftover" in result.stdout
    assert orphan.wait(10) is not None and our_processes(state) == []


def test_export_systemd_writes_one_unit_per_daemon(fleet, tmp_path):
    config, _, hub = fleet
    out = tmp_path / "units"
    result = podium("export", "systemd", str(config), "--out", str(out))
    assert result.returncode == 0, result.stderr
    units = sorted(p.name for p in out.iterdir())
    assert units == ["podium-hub.service", "podium-sim_a.service", "podium-sim_b.service"]
    text = (out / "podium-sim_b.service").read_text()
    assert "Restart=on-failure" in text and "StartLimitBurst=3" in text
    assert f"sim Pendulum-v1 --envs 2 --threads 1 --name sim:b --hub {hub}" in text
    assert "After=network.target podium-hub.service" in text

def echo_device(name: str, first: str | None = None) -> str:
    """A `command` device entry running `podium echo --name NAME`, after the shell command
    `first` when given (the shell then execs the daemon, so its pid is the device's)."""
    echo = f"{sys.executable} -m control.cli echo --name {name}"
    argv = f'["sh", "-c", "{first}; exec {echo}"]' if first else json.dumps(echo.split())
    return f'[[devices]]\nname = "{name}"\nkind = "command"\nargv = {argv}\n'


def test_a_secured_fleet_under_podium_up(tmp_path, keyring):
    """`podium up` runs a CURVE hub and daemons with this host's keys; `podium ls` and `podium call`
    work with a client's keys (the service's key taken from the trusted hub) and refuse without."""
    config, hub = write_config(tmp_path, echo_device("echo:secure"))
    config.write_text(config.read_text().replace(
        "[supervisor]", f'keys = "{keyring.secret("hub")}"\nallow = "{keyring.allow}"\n'
                        f'[daemons]\nkeys = "{keyring.secret("host-a")}"\n[supervisor]'))
    state = tmp_path / "state"
    client = ["--hub", hub, "--keys", str(keyring.secret("client")), "--hub-key", str(keyring.public("hub"))]
    try:
        up(config, state)
        wait_until(lambda: "echo:secure" in podium("ls", *client).stdout, timeout=60)
        listed = podium("ls", *client)
        assert listed.returncode == 0 and "echo:secure" in listed.stdout
        called = podium("call", "echo:secure", "add", "[20, 22]", *client)
        assert called.returncode == 0 and called.stdout.strip() == "42", called.stderr
        plain = podium("ls", "--hub", hub, timeout=60)
        assert plain.returncode == 1
        assert "requires CurveZMQ keys and this client has none" in plain.stderr and hub in plain.stderr
        stranger = podium("call", "echo:secure", "add", "[1, 1]", "--hub", hub,
                          "--keys", str(keyring.secret("stranger")), "--hub-key", str(keyring.public("hub")))
        assert stranger.returncode == 1 and "refused this client's public key" in stranger.stderr
        wait_until(lambda: supervised(state)["echo:secure"]["state"] == "running", timeout=30)
        assert supervised(state)["hub"]["state"] == "running"
    finally:
        podium("down", "--state-dir", str(state))


def test_a_daemon_is_starting_until_it_is_registered_and_answering(tmp_path):
    """A daemon that takes a while to register shows as starting, then running; never running
    before the hub has it."""
    release = tmp_path / "release"
    wait = f"while [ ! -e {release} ]; do sleep 0.1; done"
    config, hub = write_config(tmp_path, echo_device("echo:slow", first=wait))
    state = tmp_path / "state"
    try:
        up(config, state)
        wait_until(lambda: supervised(state)["hub"]["state"] == "running", timeout=30)
        time.sleep(1.0)  # the daemon waits for `release`: it is not registered however long we look
        assert supervised(state)["echo:slow"]["state"] == "starting"
        assert "starting" in podium("status", "--state-dir", str(state)).stdout
        release.touch()
        wait_until(lambda: supervised(state)["echo:slow"]["state"] == "running", timeout=30)
        with HubClient(hub) as client:
            assert client.lookup("echo:slow")["name"] == "echo:slow"
    finally:
        podium("down", "--state-dir", str(state))


def test_the_shells_keys_do_not_reach_the_daemons_of_a_plain_fleet(tmp_path, keyring):
    """A learner's PODIUM_KEYS exported in the shell that runs `podium up` on a plain config: the
    daemons still serve plain and register (the config alone decides their keys)."""
    config, hub = write_config(tmp_path, echo_device("echo:plain"))
    state = tmp_path / "state"
    try:
        started = podium("up", str(config), "--state-dir", str(state), "--detach",
                         env={**os.environ, **keyring.environ("client")})
        assert started.returncode == 0, started.stderr
        wait_until(lambda: supervised(state)["echo:plain"]["state"] == "running", timeout=30)
        with HubClient(hub, keys=None) as client:
            assert client.lookup("echo:plain")["curve_key"] is None
    finally:
        podium("down", "--state-dir", str(state))
