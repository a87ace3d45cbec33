"""EnvService in-process: env ids, kwargs, seeds, autoreset modes and action validation."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from sims.mujoco.env_service import EnvService, resolve_env_id


def test_aliases_and_unknown_names():
    assert resolve_env_id("humanoid") == "Humanoid-v5"
    assert resolve_env_id("Walker2d-v5") == "Walker2d-v5"
    with pytest.raises(ValueError, match="unknown env 'Nonsense-v9'"):
        resolve_env_id("Nonsense-v9")


@pytest.mark.parametrize("env_id", ["Humanoid-v5", "Walker2d-v5", "Ant-v5", "HalfCheetah-v5",
                                    "Hopper-v5", "Pendulum-v1", "CartPole-v1"])
def test_every_common_env_steps(env_id):
    service = EnvService(env_id, 2, render_mode=None)
    out = service.reset(seed=3)
    assert out["obs"].shape == (2, *service.observation_space.shape)
    actions = np.stack([service.action_space.sample() for _ in range(2)])
    step = service.step(actions)
    assert step["rewards"].shape == (2,) and step["terminated"].dtype == np.bool_


def test_env_kwargs_pass_through_and_bad_ones_are_named():
    service = EnvService("Humanoid-v5", 1, {"terminate_when_unhealthy": False}, render_mode=None)
    service.reset(seed=0)
    for _ in range(200):  # a random humanoid falls within ~30 steps; unhealthy no longer ends it
        out = service.step(np.zeros((1, 17), np.float32))
        assert not out["terminated"][0]
    with pytest.raises(ValueError, match="bad env kwargs for Humanoid-v5"):
        EnvService("Humanoid-v5", 1, {"no_such_option": 1}, render_mode=None)


def test_int_seed_gives_env_i_seed_plus_i():
    service = EnvService("Pendulum-v1", 3, render_mode=None)
    obs = service.reset(seed=10)["obs"]
    for i in range(3):
        expected, _ = gym.make("Pendulum-v1").reset(seed=10 + i)
        np.testing.assert_array_equal(obs[i], expected)


@pytest.mark.parametrize("actions, words", [
    (np.zeros((2, 16), np.float32), r"bad actions for 2 env\(s\): shape \(2, 16\), but Humanoid-v5 expects \(2, 17\)"),
    (np.zeros(17, np.float32), r"shape \(17,\)"),
    (np.full((2, 17), np.nan, np.float32), "NaN or inf"),
    (np.full((2, 17), "x"), "dtype <U1"),
    (np.zeros((2, 17), np.complex64), "dtype complex64"),
    ([[0.0] * 17, [0.0] * 3], "not an array"),
])
def test_bad_actions_are_refused_and_envs_continue(actions, words):
    service = EnvService("Humanoid-v5", 2, render_mode=None)
    service.reset(seed=0)
    with pytest.raises(ValueError, match=words):
        service.step(actions)
    assert service.step(np.zeros((2, 17), np.float64))["obs"].shape == (2, 348)  # float64 is taken


def test_discrete_actions_must_be_in_range():
    service = EnvService("CartPole-v1", 1, render_mode=None)
    service.reset(seed=0)
    with pytest.raises(ValueError, match="outside Discrete"):
        service.step(np.array([5]))
    with pytest.raises(ValueError, match="dtype float64"):
        service.step(np.array([1.0]))
    service.step(np.array([1]))


def test_bad_indices_and_seeds_are_named():
    service = EnvService("Pendulum-v1", 2, render_mode=None)
    with pytest.raises(IndexError, match="hosts 2 env"):
        service.reset_one(5)
    with pytest.raises(ValueError, match="repeat"):
        service.reset(indices=[0, 0])
    with pytest.raises(TypeError, match="seed must be an int"):
        service.reset(seed="abc")
    with pytest.raises(ValueError, match="autoreset must be one of"):
        service.step(np.zeros((2, 1), np.float32), autoreset="sometimes")


def test_render_offscreen():
    service = EnvService("Hopper-v5", 1)
    service.reset(seed=0)
    frame = service.render(0)
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3 and frame.std() > 0


class Recorder(gym.Wrapper):
    """Keeps every action the env was stepped with."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.actions: list = []

    def step(self, action):
        self.actions.append(action)
        return super().step(action)


@pytest.mark.parametrize("action", [np.full(3, 0.1, np.float64), np.full(3, 0.1, np.float32),
                                    np.array([1, 0, -1]), [0.1, -0.2, 0.3]],
                         ids=["float64", "float32", "int64", "list"])
def test_the_env_is_stepped_with_the_action_as_sent(action):
    """Not cast to the float32 action space: a local env would get the float64 values unrounded."""
    service = EnvService("Hopper-v5", 2, render_mode=None)
    service.envs = [Recorder(env) for env in service.envs]
    service.reset(seed=0)
    service.step_one(0, action)
    service.step([action, action] if isinstance(action, list) else np.stack([action, action]))
    single, row = service.envs[0].actions
    for got in (single, row):
        assert type(got) is type(action)
        if isinstance(action, np.ndarray):
            assert got.dtype == action.dtype
        assert np.array_equal(got, action)


def test_an_action_from_the_wire_reaches_the_env_writable():
    """Arrays decoded from a message are read-only views; an env may write into its action."""
    service = EnvService("Hopper-v5", 1, render_mode=None)
    service.envs = [Recorder(env) for env in service.envs]
    service.reset(seed=0)
    action = np.full(3, 0.5)
    action.flags.writeable = False
    service.step_one(0, action)
    service.step(action[None])
    for got in service.envs[0].actions:
        assert got.flags.writeable and got.dtype == np.float64


@pytest.mark.parametrize("autoreset", ["NextStep", "SameStep"])
def test_threads_step_the_same_as_one_thread_bit_for_bit(autoreset):
    """Humanoid ends episodes within ~30 random steps: resets, final observations and infos all
    come out identical, row for row, with 3 threads over 5 envs (slices of 2, 2 and 1)."""
    serial, threaded = (EnvService("Humanoid-v5", 5, render_mode=None, threads=n) for n in (1, 3))
    assert threaded.threads == 3
    rng = np.random.default_rng(0)
    for service in (serial, threaded):
        service.reset(seed=4)
    ended = 0
    for _ in range(60):
        actions = rng.uniform(-0.4, 0.4, (5, 17))
        one, many = serial.step(actions, autoreset=autoreset), threaded.step(actions, autoreset=autoreset)
        for key in ("obs", "rewards", "terminated", "truncated"):
            np.testing.assert_array_equal(one[key], many[key])
        assert one["infos"].keys() == many["infos"].keys()
        for key in one["infos"]:
            np.testing.assert_array_equal(one["infos"][key], many["infos"][key])
        assert list(one["final"]) == list(many["final"])
        for row in one["final"]:
            np.testing.assert_array_equal(one["final"][row]["obs"], many["final"][row]["obs"])
        ended += int(one["terminated"].sum())
    assert ended > 0  # resets were exercised


def test_an_error_in_one_thread_is_raised_after_every_slice_has_stepped(monkeypatch):
    service = EnvService("Pendulum-v1", 4, render_mode=None, threads=2)
    service.reset(seed=0)
    before = [env.unwrapped.state.copy() for env in service.envs]
    broken = service.envs[3]
    monkeypatch.setattr(broken, "step", lambda action: (_ for _ in ()).throw(RuntimeError("env 3 broke")))
    with pytest.raises(RuntimeError, match="env 3 broke"):
        service.step(np.zeros((4, 1), np.float32))
    stepped = [not np.array_equal(env.unwrapped.state, b) for env, b in zip(service.envs[:3], before)]
    assert stepped == [True, True, True]  # the other slice and the rows before 3 still stepped
    with pytest.raises(ValueError, match="threads must be at least 1"):
        EnvService("Pendulum-v1", 1, render_mode=None, threads=0)
