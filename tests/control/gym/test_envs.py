"""Remote envs are gymnasium envs: checkers pass, rollouts match local ones bit for bit, SB3 trains."""
from __future__ import annotations

import contextlib
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode, SyncVectorEnv

import control.gym.envs  # noqa: F401 - registers podium/Remote-v0
from control.bus.daemon import Daemon
from control.bus.hub import HubClient, wait_for_service
from control.gym.envs import RemoteEnv, RemoteVectorEnv
from sims.mujoco.env_service import EnvService


@contextlib.contextmanager
def serve(hub, env_id: str, num_envs: int, name: str, **kwargs):
    """An env daemon (in a thread, over real sockets), registered before the body runs."""
    with Daemon(EnvService(env_id, num_envs, **kwargs), name, "sim", hub=hub.endpoint) as daemon:
        with HubClient(hub.endpoint) as client:
            wait_for_service(client, name)
        yield daemon


@pytest.mark.parametrize("env_id", ["Humanoid-v5", "Pendulum-v1"])
def test_check_env_passes(hub, env_id):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    with serve(hub, env_id, 1, "sim:check"):
        env = gym.make("podium/Remote-v0", service="sim:check", hub=hub.endpoint,
                       render_mode="rgb_array")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # infinite Box bounds are MuJoCo's, not ours
            check_env(env.unwrapped)
            sb3_check_env(RemoteEnv("sim:check", hub=hub.endpoint))
        env.reset(seed=0)
        frame = env.render()
        assert frame.dtype == np.uint8 and frame.ndim == 3
        env.close()


def assert_same_infos(remote: dict, local: dict) -> None:
    """Same keys, masks and values as gymnasium's own vector infos (final_obs included)."""
    assert remote.keys() == local.keys()
    for key, value in local.items():
        if isinstance(value, dict):
            assert_same_infos(remote[key], value)
        elif value.dtype == object:
            assert remote[key].dtype == object
            for r, loc in zip(remote[key], value):
                assert (r is None and loc is None) or r.tobytes() == loc.tobytes()
        else:
            assert remote[key].dtype == value.dtype and remote[key].tobytes() == value.tobytes(), key


def random_actions(space: gym.Space, count: int, seed: int) -> list[np.ndarray]:
    space.seed(seed)
    return [space.sample() for _ in range(count)]


def test_remote_env_is_bit_identical_to_local(hub):
    with serve(hub, "Humanoid-v5", 1, "sim:h"):
        remote, local = RemoteEnv("sim:h", hub=hub.endpoint), gym.make("Humanoid-v5")
        episodes = 0
        for seed in (0, 1):
            obs_r, _ = remote.reset(seed=seed)
            obs_l, _ = local.reset(seed=seed)
            assert obs_r.tobytes() == obs_l.tobytes()
            for action in random_actions(local.action_space, 150, seed):
                out_r, out_l = remote.step(action), local.step(action)
                assert out_r[0].tobytes() == out_l[0].tobytes()
                assert out_r[1:4] == out_l[1:4]
                assert out_r[4]["x_position"] == out_l[4]["x_position"]
                if out_l[2] or out_l[3]:
                    episodes += 1
                    remote.reset()
                    local.reset()
        assert episodes >= 2  # random humanoids fall: episode ends were compared too


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_vector_env_over_two_daemons_is_bit_identical_to_sync_vector_env(hub, mode):
    with serve(hub, "Hopper-v5", 2, "sim:a"), serve(hub, "Hopper-v5", 2, "sim:b"):
        remote = RemoteVectorEnv(["sim:a", "sim:b"], hub=hub.endpoint, autoreset_mode=mode)
        local = SyncVectorEnv([lambda: gym.make("Hopper-v5")] * 4, autoreset_mode=mode)
        assert remote.num_envs == 4 and remote.metadata["autoreset_mode"] == mode
        obs_r, _ = remote.reset(seed=7)
        obs_l, _ = local.reset(seed=7)
        assert obs_r.tobytes() == obs_l.tobytes()
        ends = 0
        for actions in random_actions(local.action_space, 120, 3):
            out_r, out_l = remote.step(actions), local.step(actions)
            for r, loc in zip(out_r[:4], out_l[:4]):
                assert r.tobytes() == loc.tobytes()
            ends += int(out_l[2].sum() + out_l[3].sum())
            assert_same_infos(out_r[4], out_l[4])
        assert ends > 0  # random hoppers fall: resets happened inside the comparison
        remote.close()


def test_termination_and_truncation_stay_apart(hub):
    with serve(hub, "Pendulum-v1", 2, "sim:p", env_kwargs={"max_episode_steps": 5}):
        envs = RemoteVectorEnv("sim:p", hub=hub.endpoint)
        envs.reset(seed=0)
        for _ in range(4):
            _, _, terminated, truncated, _ = envs.step(np.zeros((2, 1), np.float32))
            assert not terminated.any() and not truncated.any()
        _, _, terminated, truncated, _ = envs.step(np.zeros((2, 1), np.float32))
        assert truncated.all() and not terminated.any()


def test_sb3_sac_learns_pendulum_through_the_bus(hub):
    import torch
    from stable_baselines3 import SAC
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.vec_env import VecMonitor

    from control.gym.sb3 import SB3VecEnv

    torch.set_num_threads(1)
    with serve(hub, "Pendulum-v1", 1, "sim:pendulum", render_mode=None):
        env = VecMonitor(SB3VecEnv("sim:pendulum", hub=hub.endpoint))
        model = SAC("MlpPolicy", env, seed=0, learning_rate=1e-3, learning_starts=200,
                    policy_kwargs={"net_arch": [64, 64]})
        before, _ = evaluate_policy(model, env, n_eval_episodes=3)
        model.learn(3000)
        after, _ = evaluate_policy(model, env, n_eval_episodes=5)
        print(f"SAC on remote Pendulum-v1: mean return {before:.0f} -> {after:.0f} after 3,000 steps")
        assert after > before + 400 and after > -700
        env.close()
