"""Env faults caused for real: bad actions, a killed daemon, a client that vanishes mid-episode."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from control.bus.hub import HubClient, wait_for_service
from control.errors import CallTimeout, ServiceNotFound
from control.gym.envs import RemoteEnv, RemoteVectorEnv
from tests.conftest import wait_until


def start_sim(processes, hub, name: str, env: str = "pendulum", envs: int = 2):
    proc = processes.podium("sim", env, "--envs", str(envs), "--name", name, "--hub", hub.endpoint,
                            "--render-mode", "none")
    with HubClient(hub.endpoint) as client:
        record = wait_for_service(client, name, timeout=60)
    return proc, record


def test_bad_actions_get_named_errors_and_the_daemon_continues(processes, hub):
    start_sim(processes, hub, "sim:h", env="humanoid", envs=1)
    env = RemoteEnv("sim:h", hub=hub.endpoint)
    env.reset(seed=0)
    for action, words in [(np.zeros(16, np.float32), "shape"), (np.full(17, np.nan), "NaN"),
                          (np.array(["a"] * 17), "dtype"), ("left", "shape")]:
        with pytest.raises(ValueError, match=words):
            env.step(action)
    obs, *_ = env.step(np.zeros(17, np.float32))  # same episode goes on
    assert obs.shape == (348,)


def test_killed_daemon_raises_within_deadline_and_reconnects_after_restart(processes, hub):
    proc, first = start_sim(processes, hub, "sim:p")
    env = RemoteEnv("sim:p", hub=hub.endpoint, timeout=2.0, reconnect=True)
    env.reset(seed=0)
    env.step(np.zeros(1, np.float32))
    processes.kill(proc, signal.SIGKILL)  # mid-episode
    start = time.monotonic()
    with pytest.raises(CallTimeout, match="sim:p.step_one"):
        env.step(np.zeros(1, np.float32))
    assert time.monotonic() - start < 2.0 + 0.5
    _, second = start_sim(processes, hub, "sim:p")
    with HubClient(hub.endpoint) as client:  # the hub now points at the new daemon
        def replaced() -> bool:
            try:
                return client.lookup("sim:p")["instance"] != first["instance"]
            except ServiceNotFound:  # the old record expired before the new daemon registered
                return False
        wait_until(replaced)
    obs, _ = env.reset(seed=1)
    assert obs.shape == (3,)
    env.step(np.zeros(1, np.float32))


CLIENT = """
import sys, numpy as np
from control.gym.envs import RemoteEnv
env = RemoteEnv(sys.argv[1], index=1, hub=sys.argv[2])
env.reset(seed=0)
print("stepping", flush=True)
while True:
    env.step(np.zeros(1, np.float32))
"""


def test_vanished_client_does_not_stall_the_daemon_or_others(processes, hub):
    start_sim(processes, hub, "sim:shared")
    other = subprocess.Popen([sys.executable, "-c", CLIENT, "sim:shared", hub.endpoint],
                             stdout=subprocess.PIPE, text=True)
    processes.procs.append(other)
    assert other.stdout.readline().strip() == "stepping"
    time.sleep(0.3)
    processes.kill(other, signal.SIGKILL)  # gone mid-episode, maybe mid-call
    env = RemoteEnv("sim:shared", index=0, hub=hub.endpoint, timeout=2.0)
    env.reset(seed=0)
    for _ in range(200):
        env.step(np.zeros(1, np.float32))
    envs = RemoteVectorEnv("sim:shared", hub=hub.endpoint, timeout=2.0)
    envs.reset(seed=1)  # its env 1 is usable again, too
    envs.step(np.zeros((2, 1), np.float32))
    envs.close()
