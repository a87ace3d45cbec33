"""Env stepping through the bus against the same env in-process, in one run.

Method: Humanoid-v5 with random actions (drawn before timing). Configurations, each daemon its own
process started with `podium sim`:
  local        gymnasium.make in this process, one env (the single-env peer)
  remote 1     RemoteEnv on a 1-env daemon
  async 8      gymnasium's AsyncVectorEnv, 8 subprocesses with shared memory (the vector peer:
               what users pick instead of a bus)
  sync 8       gymnasium's SyncVectorEnv, 8 envs in this process
  vector 8x1   RemoteVectorEnv, 8 envs on 1 daemon
  vector 8x1t  the same with `--threads 2`: the daemon steps two slices of 4 envs at once
  vector 4x2   RemoteVectorEnv, 2 daemons with 4 envs each
Rounds interleave the configurations; each round times `--steps` env steps (for vector envs:
steps of all envs together). Reported: median env steps/s over rounds, the ratio to local and, for
the vector envs, the ratio to AsyncVectorEnv.

    python bench/envs.py                 # 5 rounds of 2,000 steps
    python bench/envs.py --rounds 2 --steps 500
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time

import gymnasium as gym
import numpy as np
from rich.console import Console
from rich.table import Table

from control.bus.hub import Hub, HubClient, wait_for_service
from control.gym.envs import RemoteEnv, RemoteVectorEnv
from control.progress import progress_bar

ENV = "Humanoid-v5"
ASYNC = "gymnasium AsyncVectorEnv, 8 envs (peer)"


def start_daemon(hub: str, name: str, envs: int, threads: int = 1) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "control.cli", "sim", ENV, "--envs", str(envs),
                             "--threads", str(threads), "--name", name, "--hub", hub,
                             "--render-mode", "none"])
    with HubClient(hub) as client:
        wait_for_service(client, name, timeout=60)
    return proc


def run_single(env: gym.Env, actions: np.ndarray) -> float:
    env.reset(seed=0)
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    return len(actions) / (time.perf_counter() - start)


def run_vector(envs: gym.vector.VectorEnv, actions: np.ndarray) -> float:
    envs.reset(seed=0)
    batches = actions[: len(actions) // envs.num_envs * envs.num_envs].reshape(
        -1, envs.num_envs, actions.shape[-1])
    start = time.perf_counter()
    for batch in batches:
        envs.step(batch)  # NextStep autoreset (in the daemon, or in gymnasium's vector env)
    return batches.shape[0] * envs.num_envs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    console = Console(width=120)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-0.4, 0.4, size=(args.steps, 17)).astype(np.float32)

    hub = Hub("tcp://127.0.0.1:*").start()
    procs = [start_daemon(hub.endpoint, name, n, threads)
             for name, n, threads in (("bench:one", 1, 1), ("bench:eight", 8, 1), ("bench:threads", 8, 2),
                                      ("bench:a", 4, 1), ("bench:b", 4, 1))]
    try:
        configs = {
            "local (peer)": (run_single, gym.make(ENV)),
            "RemoteEnv, 1 env": (run_single, RemoteEnv("bench:one", hub=hub.endpoint)),
            ASYNC: (run_vector, gym.vector.AsyncVectorEnv([lambda: gym.make(ENV)] * 8, shared_memory=True)),
            "gymnasium SyncVectorEnv, 8 envs": (run_vector, gym.vector.SyncVectorEnv([lambda: gym.make(ENV)] * 8)),
            "RemoteVectorEnv, 8 envs x 1 daemon": (run_vector, RemoteVectorEnv("bench:eight", hub=hub.endpoint)),
            "RemoteVectorEnv, 8 envs x 1 daemon, 2 threads": (
                run_vector, RemoteVectorEnv("bench:threads", hub=hub.endpoint)),
            "RemoteVectorEnv, 4 envs x 2 daemons": (run_vector, RemoteVectorEnv(["bench:a", "bench:b"],
                                                                       hub=hub.endpoint)),
        }
        rates: dict[str, list[float]] = {name: [] for name in configs}
        with progress_bar(console, unit="rounds", transient=True) as progress:
            task = progress.add_task("rounds", total=args.rounds)
            for _ in range(args.rounds):
                for name, (run, env) in configs.items():
                    rates[name].append(run(env, actions))
                progress.advance(task)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)
        hub.stop()

    for _, env in configs.values():
        env.close()
    local, peer = float(np.median(rates["local (peer)"])), float(np.median(rates[ASYNC]))
    table = Table(title=f"{ENV} random-action env steps/s (median of {args.rounds} rounds x "
                        f"{args.steps} steps)")
    for column in ("configuration", "steps/s", "min", "max", "ratio to local", "ratio to async 8"):
        table.add_column(column, justify="right")
    for name, values in rates.items():
        median = float(np.median(values))
        vector = "vector" in name.lower()
        table.add_row(name, f"{median:,.0f}", f"{min(values):,.0f}", f"{max(values):,.0f}",
                      f"{median / local:.2f}", f"{median / peer:.2f}" if vector else "-")
    console.print(table)
    console.print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")


if __name__ == "__main__":
    main()
