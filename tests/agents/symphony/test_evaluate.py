"""Evaluation as a vector env: the same returns as one episode after another, one forward per step."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from rich.console import Console

from agents.symphony.core import SymphonyConfig
from agents.symphony.evaluate import EpisodeVectorEnv, run_episodes, run_episodes_one_by_one
from agents.symphony.train import Trainer

PENDULUM = dict(hidden=32, batch=16, exploration_steps=100, exploration_repeats=2, max_episode_steps=200,
                a_max=2.0, eval_episodes=6, seed=3)


class Countdown(gym.Env):
    """Episode length = the reset seed; reward 1 per step (10 on the last); obs = steps left."""

    observation_space = spaces.Box(-np.inf, np.inf, (1,), np.float32)
    action_space = spaces.Box(-1, 1, (1,), np.float32)

    def __init__(self, log: list[int] | None = None) -> None:
        self.left, self.log = 0, log

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.left = int(seed) if seed is not None else 1000  # an unseeded (autoreset) episode is long
        return np.array([self.left], np.float32), {}

    def step(self, action):
        if self.log is not None:
            self.log.append(self.left)
        self.left -= 1
        return np.array([self.left], np.float32), 10.0 if self.left == 0 else 1.0, self.left == 0, False, {}


def test_vector_evaluation_equals_the_sequential_one_on_pendulum(tmp_path, one_thread):
    """A fixed untrained agent, the run's evaluation seeds: the batched evaluation's returns are the
    one-env-at-a-time ones (up to float rounding of batched vs single-row matmuls)."""
    trainer = Trainer(SymphonyConfig(**PENDULUM), "Pendulum-v1", tmp_path / "r", console=Console(quiet=True))
    forwards = []
    act_batch = trainer.agent.act_batch
    trainer.agent.act_batch = lambda obs: forwards.append(len(obs)) or act_batch(obs)
    vector, lengths = trainer.evaluate_episodes()
    assert forwards == [6] * 200 and list(lengths) == [200] * 6  # one batched forward per step
    seeds = [trainer.seeds.eval_reset(k) for k in range(6)]
    env = gym.make("Pendulum-v1", max_episode_steps=200)
    one_by_one, _ = run_episodes_one_by_one(env, lambda o: trainer.agent.act(o, noise=0.0), seeds, 200)
    np.testing.assert_allclose(vector, one_by_one, rtol=1e-6, atol=1e-4)
    assert trainer.evaluate() == pytest.approx(float(np.mean(one_by_one)), rel=1e-7, abs=1e-5)
    assert len(set(one_by_one.round(3))) == 6  # six different starts, not one episode six times
    # a stock SyncVectorEnv (next-step autoreset) with fewer slots than episodes: the same returns
    sync = gym.vector.SyncVectorEnv([lambda: gym.make("Pendulum-v1", max_episode_steps=200)] * 4)
    stock, _ = run_episodes(sync, act_batch, seeds, 200)
    np.testing.assert_allclose(stock, one_by_one, rtol=1e-6, atol=1e-4)
    trainer.close()


@pytest.mark.parametrize("vector", ["sync-next-step", "sync-same-step", "episodes"])
def test_each_seed_runs_exactly_one_episode_and_autoreset_episodes_are_not_counted(vector):
    seeds = [3, 1, 4, 1, 5, 9, 2]
    log: list[int] = []
    if vector == "episodes":
        envs = EpisodeVectorEnv(lambda: Countdown(log), 3)
    else:
        mode = {"sync-next-step": "NextStep", "sync-same-step": "SameStep"}[vector]
        envs = gym.vector.SyncVectorEnv([lambda: Countdown(log)] * 3, autoreset_mode=gym.vector.AutoresetMode(mode))
    batches = []
    returns, lengths = run_episodes(envs, lambda obs: batches.append(obs.shape) or np.zeros((3, 1)), seeds, 100)
    assert lengths.tolist() == seeds  # in seed order, each episode once, to its end
    assert returns.tolist() == [s - 1 + 10.0 for s in seeds]  # no reward of any other episode
    assert all(shape == (3, 1) for shape in batches)
    if vector == "episodes":  # finished slots are not stepped at all
        assert len(log) == sum(seeds)
        assert len(batches) < sum(seeds)
    log.clear()
    two, _ = run_episodes(envs, lambda obs: np.zeros((3, 1)), [2, 4], 100)  # fewer episodes than slots
    assert two.tolist() == [11.0, 13.0]
    if vector == "episodes":  # the spare slot is not stepped
        assert len(log) == 6
    capped, capped_lengths = run_episodes(envs, lambda obs: np.zeros((3, 1)), seeds, 3)
    assert capped_lengths.tolist() == [min(s, 3) for s in seeds]
    assert capped.tolist() == [s - 1 + 10.0 if s <= 3 else 3.0 for s in seeds]


def test_evaluation_through_the_bus_steps_the_daemons_evaluation_envs_together(tmp_path):
    """--service: the daemon's envs 1.. evaluate (index 0 trains, mid-episode, untouched)."""
    from control.bus.daemon import Daemon
    from control.bus.hub import Hub, HubClient, wait_for_service
    from sims.mujoco.env_service import EnvService
    from tests.conftest import free_port

    torch.manual_seed(0)
    hub = f"tcp://127.0.0.1:{free_port()}"
    config = SymphonyConfig(**{**PENDULUM, "eval_episodes": 3})
    service = EnvService("Pendulum-v1", 3, render_mode=None)
    with Hub(hub), Daemon(service, "sim:pend-eval", "sim", hub=hub):
        with HubClient(hub) as client:
            wait_for_service(client, "sim:pend-eval")
        trainer = Trainer(config, "Pendulum-v1", tmp_path / "r", service="sim:pend-eval", hub=hub,
                          console=Console(quiet=True))
        trainer.env.reset(seed=7)
        trainer.env.step(np.zeros(1, np.float32))
        training_state = service.envs[0].unwrapped.state.copy()
        assert trainer.eval_env.num_envs == 2 and trainer.eval_env.indices == [1, 2]
        remote, lengths = trainer.evaluate_episodes()  # 3 episodes on 2 envs: one slot runs two
        np.testing.assert_array_equal(service.envs[0].unwrapped.state, training_state)
        trainer.close()
    seeds = [trainer.seeds.eval_reset(k) for k in range(3)]
    local, _ = run_episodes_one_by_one(gym.make("Pendulum-v1", max_episode_steps=200),
                                       lambda o: trainer.agent.act(o, noise=0.0), seeds, 200)
    np.testing.assert_allclose(remote, local, rtol=1e-6, atol=1e-4)
    assert lengths.tolist() == [200, 200, 200]
