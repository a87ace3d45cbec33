"""stable-baselines3 on remote envs: `SB3VecEnv` is an SB3 `VecEnv` over env daemons.

    from stable_baselines3 import SAC
    from stable_baselines3.common.vec_env import VecMonitor
    env = VecMonitor(SB3VecEnv(["sim:pendulum-0"]))
    SAC("MlpPolicy", env).learn(10_000)

SB3 resets an env in the same step its episode ends and keeps the last observation in
`info["terminal_observation"]`; the daemons do exactly that (SameStep autoreset), so a step is
still one round trip per daemon.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode

from control.extras import require

require("rl", "stable_baselines3", what="control.gym.sb3 (the stable-baselines3 adapter)")

from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices  # noqa: E402

from control.bus.rpc import Client  # noqa: E402
from control.gym.envs import RemoteVectorEnv  # noqa: E402
from control.gym.infos import unstack_infos  # noqa: E402

LOCAL_ATTRIBUTES = ("render_mode", "observation_space", "action_space", "metadata")


class SB3VecEnv(VecEnv):
    """An SB3 VecEnv over every env of one or more env daemons."""

    def __init__(self, services: str | Client | Sequence[str | Client], **remote_options: Any) -> None:
        self.remote = RemoteVectorEnv(services, autoreset_mode=AutoresetMode.SAME_STEP, **remote_options)
        self.render_mode = self.remote.render_mode  # read by VecEnv.__init__ through get_attr
        super().__init__(self.remote.num_envs, self.remote.single_observation_space,
                         self.remote.single_action_space)
        self._actions: np.ndarray | None = None

    def reset(self) -> Any:
        options = self._options if any(self._options) else None
        obs, infos = self.remote.reset_raw(self._seeds, options)
        self.reset_infos = unstack_infos(infos, self.num_envs)
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> tuple[Any, np.ndarray, np.ndarray, list[dict]]:
        obs, rewards, terminated, truncated, columns, finals = self.remote.step_raw(self._actions)
        infos = unstack_infos(columns, self.num_envs)
        for i, final in finals.items():
            self.reset_infos[i] = infos[i]  # what the env's reset returned
            infos[i] = {**final["info"], "terminal_observation": final["obs"]}
        for i, info in enumerate(infos):
            info["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        return obs, rewards.astype(np.float32), terminated | truncated, infos

    def close(self) -> None:
        self.remote.close()

    def get_images(self) -> Sequence[np.ndarray | None]:
        return list(self.remote.render() or [None] * self.num_envs)

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        if attr_name not in LOCAL_ATTRIBUTES:
            raise AttributeError(f"remote envs expose only {LOCAL_ATTRIBUTES}, not {attr_name!r}")
        value = getattr(self, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        raise AttributeError(f"cannot set {attr_name!r} on remote envs: configure the daemon instead")

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None,
                   **method_kwargs: Any) -> list[Any]:
        raise AttributeError(f"remote envs do not run arbitrary methods ({method_name!r}); "
                             "the daemon serves reset, step and render")

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]
