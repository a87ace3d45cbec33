"""A remote env matches a local one bit for bit whatever action dtype the local env accepts.

MuJoCo envs declare float32 action spaces but step with whatever they are given: a float64 action
goes into `data.ctrl` (float64) unrounded and the control cost is computed in the action's dtype.
The daemon once cast every action to the space's dtype, so float64 actions drifted from step 0.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from control.gym.envs import RemoteEnv, RemoteVectorEnv
from tests.control.gym.test_envs import assert_same_infos, serve

ENV_ID = "Hopper-v5"  # cheap, float64 observations, a float32 action space of 3
STEPS = 50
KINDS = ["float64", "float32", "int64", "list"]


def action_as(kind: str, values: np.ndarray, ints: np.ndarray):
    """The same kind of action a user would hand a local env."""
    if kind == "float64":
        return values
    if kind == "float32":
        return values.astype(np.float32)
    if kind == "int64":
        return ints  # in {-1, 0, 1}, inside the Box
    return values.tolist()  # Python floats (nested lists for a batch)


def actions(kind: str, shape: tuple[int, ...], seed: int) -> list:
    rng = np.random.default_rng(seed)
    return [action_as(kind, rng.uniform(-1, 1, shape), rng.integers(-1, 2, shape)) for _ in range(STEPS)]


def assert_same_info(remote: dict, local: dict) -> None:
    assert remote.keys() == local.keys()
    for key, value in local.items():
        assert np.asarray(remote[key]).dtype == np.asarray(value).dtype, key
        assert np.array_equal(remote[key], value), key


@pytest.mark.parametrize("kind", KINDS)
def test_remote_env_matches_local_bit_for_bit(hub, kind):
    with serve(hub, ENV_ID, 1, "sim:dtype", render_mode=None):
        remote, local = RemoteEnv("sim:dtype", hub=hub.endpoint), gym.make(ENV_ID)
        obs_r, info_r = remote.reset(seed=5)
        obs_l, info_l = local.reset(seed=5)
        assert obs_r.dtype == obs_l.dtype == np.float64
        assert np.array_equal(obs_r, obs_l)
        assert_same_info(info_r, info_l)
        ends = 0
        for action in actions(kind, local.action_space.shape, seed=11):
            obs_r, reward_r, term_r, trunc_r, info_r = remote.step(action)
            obs_l, reward_l, term_l, trunc_l, info_l = local.step(action)
            assert obs_r.dtype == obs_l.dtype == np.float64
            assert np.array_equal(obs_r, obs_l)
            assert (reward_r, term_r, trunc_r) == (reward_l, term_l, trunc_l)
            assert_same_info(info_r, info_l)
            if term_l or trunc_l:
                ends += 1
                assert np.array_equal(remote.reset()[0], local.reset()[0])
        assert ends > 0  # random hoppers fall: resets were compared too
        remote.close()


@pytest.mark.parametrize("kind", KINDS)
def test_remote_vector_env_matches_sync_vector_env_bit_for_bit(hub, kind):
    with serve(hub, ENV_ID, 1, "sim:va", render_mode=None), serve(hub, ENV_ID, 2, "sim:vb", render_mode=None):
        remote = RemoteVectorEnv(["sim:va", "sim:vb"], hub=hub.endpoint, autoreset_mode=AutoresetMode.NEXT_STEP)
        local = SyncVectorEnv([lambda: gym.make(ENV_ID)] * 3, autoreset_mode=AutoresetMode.NEXT_STEP)
        obs_r, _ = remote.reset(seed=3)
        obs_l, _ = local.reset(seed=3)
        assert obs_r.dtype == obs_l.dtype == np.float64
        assert np.array_equal(obs_r, obs_l)
        ends = 0
        for batch in actions(kind, local.action_space.shape, seed=13):
            out_r, out_l = remote.step(batch), local.step(batch)
            for r, loc in zip(out_r[:4], out_l[:4]):
                assert r.dtype == loc.dtype and np.array_equal(r, loc)
            assert_same_infos(out_r[4], out_l[4])  # dtypes too: reward_ctrl is in the action's dtype
            ends += int(out_l[2].sum() + out_l[3].sum())
        assert ends > 0
        remote.close()
        local.close()
