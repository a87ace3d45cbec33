"""Columnar vector infos: the same layout gymnasium builds, joinable across daemons, and back."""
from __future__ import annotations

import gymnasium as gym
import numpy as np

from control.bus import wire
from control.gym.infos import concat_infos, stack_infos, to_gymnasium, unstack_infos

INFOS = [
    {"x": 1.5, "n": 3, "ok": True, "vec": np.arange(2.0), "name": "a", "sub": {"y": np.float32(1)}},
    {"x": 2.5, "name": "bb"},
    {},
    {"x": np.float64(4), "vec": np.ones(2), "sub": {"z": 7}},
]


def gymnasium_layout(infos: list[dict]) -> dict:
    venv = gym.vector.SyncVectorEnv([lambda: gym.make("CartPole-v1")] * len(infos))
    out: dict = {}
    for i, info in enumerate(infos):
        out = venv._add_info(out, info, i)
    return out


def assert_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], dict):
            assert_equal(a[key], b[key])
        else:
            assert a[key].dtype == b[key].dtype, key
            assert list(a[key]) == list(b[key]) if a[key].dtype == object else np.array_equal(a[key], b[key])


def test_stack_matches_gymnasium_and_survives_the_wire():
    columns = wire.decode_tree(wire.encode_tree(stack_infos(INFOS)))  # no object arrays on the wire
    assert_equal(to_gymnasium(columns), gymnasium_layout(INFOS))


def test_concat_of_daemons_equals_stacking_everything():
    parts = [(stack_infos(INFOS[:1]), 1), (stack_infos(INFOS[1:3]), 2), (stack_infos(INFOS[3:]), 1)]
    assert_equal(to_gymnasium(concat_infos(parts)), gymnasium_layout(INFOS))


def test_unstack_gives_back_each_envs_own_keys():
    per_env = unstack_infos(stack_infos(INFOS), len(INFOS))
    assert per_env[2] == {} and per_env[1] == {"x": 2.5, "name": "bb"}
    assert per_env[3]["sub"] == {"z": 7} and np.array_equal(per_env[0]["vec"], np.arange(2.0))
