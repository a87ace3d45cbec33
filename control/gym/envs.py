"""Remote envs that are real gymnasium envs: training code cannot tell them from local ones.

    env = RemoteEnv("sim:humanoid-0")                     # one env of a daemon, a gymnasium.Env
    envs = RemoteVectorEnv(["sim:a", "sim:b"])            # every env of several daemons
    env = gymnasium.make("podium/Remote-v0", service="sim:humanoid-0")   # after `import control.gym.envs`

Services are found by name through the hub (and found again after a daemon restarts, when
`reconnect` is on), or given as an endpoint ("tcp://127.0.0.1:6000") or a ready Client.
The daemons are `sims.mujoco.env_service.EnvService`; their methods are the env wire contract.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from control.bus.hub import DEFAULT_HUB, open_service
from control.bus.rpc import Client, request_each
from control.gym.infos import concat_infos, to_gymnasium
from control.gym.spaces import space_from_tree

ENV_ID = "podium/Remote-v0"


def writable(value: Any) -> Any:
    """Arrays from the wire are read-only views of the message; hand users their own copy."""
    if isinstance(value, np.ndarray):
        return value if value.flags.writeable else value.copy()
    if isinstance(value, dict):
        return {k: writable(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(writable(v) for v in value)
    return value


class RemoteEnv(gym.Env):
    """One env (index `index`) of an env daemon, as a `gymnasium.Env`.

    A dead daemon makes calls raise `CallTimeout` within `timeout` seconds; with `reconnect` the
    next call looks the service up again, so once the daemon is back `reset()` works.
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": None}

    def __init__(self, service: str | Client = "sim:humanoid-0", index: int = 0, *,
                 hub: str = DEFAULT_HUB, timeout: float = 10.0, reconnect: bool = True,
                 render_mode: str | None = None) -> None:
        self.client = open_service(service, hub=hub, timeout=timeout, reconnect=reconnect)
        self.index = index
        try:
            self.remote_spec = self.client.request("spec", idempotent=True)
            if not 0 <= index < self.remote_spec["num_envs"]:
                raise IndexError(f"{self.client.service} hosts {self.remote_spec['num_envs']} env(s); "
                                 f"no index {index}")
        except BaseException:
            self.client.close()
            raise
        self.observation_space = space_from_tree(self.remote_spec["observation_space"])
        self.action_space = space_from_tree(self.remote_spec["action_space"])
        remote_mode = self.remote_spec["render_mode"]
        self.metadata = {"render_modes": [remote_mode] if remote_mode else [],
                         "render_fps": self.remote_spec["render_fps"]}
        if render_mode is not None and render_mode != remote_mode:
            raise ValueError(f"{self.client.service} renders {remote_mode!r}, not {render_mode!r}")
        self.render_mode = render_mode

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        obs, info = self.client.call("reset_one", self.index, seed, options)
        return writable(obs), info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.client.call("step_one", self.index, action)
        return writable(obs), reward, terminated, truncated, info

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            gym.logger.warn("RemoteEnv.render() called without render_mode='rgb_array'")
            return None
        return self.client.call("render", self.index)

    def close(self) -> None:
        """Close the connection; the remote env stays with its daemon."""
        self.client.close()


class RemoteVectorEnv(VectorEnv):
    """Every env of one or more env daemons, as a gymnasium vector env.

    Autoreset follows gymnasium 1.x and is done inside the daemons: NEXT_STEP by default (the step
    after an episode ends resets that env and ignores its action), SAME_STEP (reset at once; the
    last observation and info are in `infos["final_obs"]` / `infos["final_info"]`), or DISABLED.
    Termination and truncation stay separate. With several daemons, they step in parallel.
    """

    def __init__(self, services: str | Client | Sequence[str | Client], *, hub: str = DEFAULT_HUB,
                 timeout: float = 10.0, reconnect: bool = True,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP) -> None:
        if isinstance(services, (str, Client)):
            services = [services]
        if not services:
            raise ValueError("RemoteVectorEnv needs at least one service")
        self.autoreset_mode = AutoresetMode(autoreset_mode)
        self.clients = [open_service(s, hub=hub, timeout=timeout, reconnect=reconnect) for s in services]
        self.remote_specs = [c.request("spec", idempotent=True) for c in self.clients]
        first = self.remote_specs[0]
        self.single_observation_space = space_from_tree(first["observation_space"])
        self.single_action_space = space_from_tree(first["action_space"])
        for client, spec in zip(self.clients[1:], self.remote_specs[1:]):
            if (space_from_tree(spec["observation_space"]) != self.single_observation_space
                    or space_from_tree(spec["action_space"]) != self.single_action_space):
                raise ValueError(f"{client.service} serves {spec['env_id']} with other spaces than "
                                 f"{self.clients[0].service} ({first['env_id']}): they cannot share "
                                 "one vector env")
        counts = [spec["num_envs"] for spec in self.remote_specs]
        self.num_envs = sum(counts)
        bounds = np.cumsum([0, *counts])
        self._slices = [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.metadata = {"autoreset_mode": self.autoreset_mode,
                         "render_modes": [first["render_mode"]] if first["render_mode"] else [],
                         "render_fps": first["render_fps"]}
        self.render_mode = first["render_mode"]
    def _each(self, method: str, kwargs_for: Any) -> list[Any]:
        """Call `method` on every daemon: all requests sent before any reply is awaited, so the
        daemons step in parallel."""
        if len(self.clients) == 1:
            return [self.clients[0].request(method, (), kwargs_for(0))]
        return request_each([(client, method, kwargs_for(k)) for k, client in enumerate(self.clients)])

    def reset(self, *, seed: int | Sequence[int | None] | None = None,
              options: dict | None = None) -> tuple[Any, dict]:
        if seed is None or isinstance(seed, (int, np.integer)):
            seeds = [None if seed is None else int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
        if seed is not None:
            self._np_random, self._np_random_seed = gym.utils.seeding.np_random(seeds[0])
        obs, infos = self.reset_raw(seeds, options)
        return obs, to_gymnasium(infos)

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict]:
        obs, rewards, terminated, truncated, infos, finals = self.step_raw(actions)
        infos = to_gymnasium(infos)
        for i, final in finals.items():
            infos = self._add_info(infos, {"final_obs": final["obs"], "final_info": final["info"]}, i)
        return obs, rewards, terminated, truncated, infos

    # -- wire-layout results (infos columnar, object columns as lists), for adapters ------------
    def reset_raw(self, seeds: Sequence[int | None], options: dict | Sequence[dict | None] | None = None
                  ) -> tuple[Any, dict]:
        """Reset every env with one seed each; options for all, or one per env."""
        if len(seeds) != self.num_envs:
            raise ValueError(f"got {len(seeds)} seeds for {self.num_envs} envs")
        per_env = isinstance(options, (list, tuple))
        if per_env and len(options) != self.num_envs:
            raise ValueError(f"got {len(options)} options for {self.num_envs} envs")
        results = self._each("reset", lambda k: {
            "seed": list(seeds[self._slices[k]]),
            "options": list(options[self._slices[k]]) if per_env else options})
        return self._concat([r["obs"] for r in results]), self._infos(results)

    def step_raw(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict, dict]:
        """Step every env; returns obs, rewards, terminated, truncated, columnar infos and, for
        envs reset in this step (SameStep), {env index: {"obs": final obs, "info": final info}}."""
        if not isinstance(actions, (np.ndarray, tuple, dict)):
            actions = np.asarray(actions)
        mode = self.autoreset_mode.value
        results = self._each("step", lambda k: {"actions": _rows(actions, self._slices[k]),
                                                 "autoreset": mode})
        finals = {self._slices[k].start + row: {"obs": writable(f["obs"]), "info": f["info"]}
                  for k, r in enumerate(results) for row, f in r["final"].items()}
        return (self._concat([r["obs"] for r in results]),
                np.concatenate([r["rewards"] for r in results]),
                np.concatenate([r["terminated"] for r in results]),
                np.concatenate([r["truncated"] for r in results]),
                self._infos(results), finals)

    def _infos(self, results: list[dict]) -> dict:
        if len(results) == 1:
            return results[0]["infos"]
        return concat_infos([(r["infos"], s.stop - s.start) for r, s in zip(results, self._slices)])

    def render(self) -> tuple[np.ndarray, ...] | None:
        if self.render_mode is None:
            return None
        return tuple(self._each("render", lambda k: {"index": 0}))

    def _concat(self, parts: list[Any]) -> Any:
        return writable(parts[0]) if len(parts) == 1 else _concat_batches(parts)

    def close_extras(self, **kwargs: Any) -> None:
        for client in self.clients:
            client.close()


def _concat_batches(parts: list[Any]) -> Any:
    """Join batches from several daemons along the env axis (arrays, or Dict/Tuple of them)."""
    first = parts[0]
    if isinstance(first, dict):
        return {k: _concat_batches([p[k] for p in parts]) for k in first}
    if isinstance(first, tuple):
        return tuple(_concat_batches([p[i] for p in parts]) for i in range(len(first)))
    return np.concatenate(parts)


def _rows(actions: Any, rows: slice) -> Any:
    if isinstance(actions, np.ndarray):
        return actions[rows]
    if isinstance(actions, dict):
        return {k: _rows(v, rows) for k, v in actions.items()}
    return tuple(_rows(v, rows) for v in actions)


if ENV_ID not in gym.registry:
    gym.register(ENV_ID, entry_point="control.gym.envs:RemoteEnv", disable_env_checker=False)
