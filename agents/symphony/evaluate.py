"""Evaluation as a vector env: all episodes at once, one batched actor forward per step.

`run_episodes` runs one episode per seed on any gymnasium vector env (a slot whose episode ended
takes the next seed, so fewer slots than episodes work too) and masks every slot whose episode
is over: its later rewards, and the episodes gymnasium's autoreset starts there (NEXT_STEP: the
step after the end resets the slot and ignores its action; SAME_STEP: the reset happens in the
ending step), are never counted. With every slot's episode seeded as the sequential evaluation
seeds it, the returns are the sequential ones.

The trainer's evaluation envs stop a sub-env at the end of its episode until it is reset, so no
env step is spent on episodes nobody counts: `EpisodeVectorEnv` in-process, `RemoteEpisodeVectorEnv`
on the env daemon's evaluation envs (every index but 0, which trains) through the bus, stepping
only the envs still running in one call. A stock `gymnasium.vector.SyncVectorEnv` (NEXT_STEP)
gives the same returns, stepping finished sub-envs into episodes that are then ignored.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space


def run_episodes(envs: VectorEnv, act: Callable[[np.ndarray], np.ndarray], seeds: Sequence[int],
                 max_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """One episode per seed, slots stepped together with one call of `act` on the batch of
    observations; returns (returns, lengths), in seed order. An episode ends at termination,
    truncation or `max_steps` steps."""
    width, count = envs.num_envs, len(seeds)
    returns, lengths = np.zeros(count), np.zeros(count, dtype=np.int64)
    if count == 0:
        return returns, lengths
    episode = np.full(width, -1)  # the episode each slot runs; -1: none (finished, or spare)
    first = min(width, count)
    episode[:first] = np.arange(first)
    start_seeds = [int(seeds[k]) if k < first else None for k in range(width)]
    if first < width and isinstance(envs, _EpisodeSlots):  # spare slots stay stopped, unstepped
        envs.running[:] = False
        obs, _ = envs.reset(seed=start_seeds, options={"reset_mask": np.arange(width) < first})
    else:  # a stock vector env is reset whole (gymnasium needs that before its first step)
        obs, _ = envs.reset(seed=start_seeds)
    following = first  # the next episode to start
    while (episode >= 0).any():
        obs, rewards, terminated, truncated, _ = envs.step(act(obs))
        running = episode >= 0
        ran = episode[running]
        returns[ran] += rewards[running]  # float64, added in step order as the sequential sum
        lengths[ran] += 1
        ended = running.copy()
        ended[running] = terminated[running] | truncated[running] | (lengths[ran] >= max_steps)
        if not ended.any():
            continue
        episode[ended] = -1
        slots = np.flatnonzero(ended)[: count - following]
        if len(slots):  # free slots take the next seeds, reset at once (no autoreset involved)
            mask = np.zeros(width, dtype=bool)
            mask[slots] = True
            slot_seeds: list[int | None] = [None] * width
            for slot in slots:
                episode[slot] = following
                slot_seeds[slot] = int(seeds[following])
                following += 1
            fresh, _ = envs.reset(seed=slot_seeds, options={"reset_mask": mask})
            obs = np.array(obs, copy=True)
            obs[mask] = np.asarray(fresh)[mask]
    return returns, lengths


def run_episodes_one_by_one(env: gym.Env, act: Callable[[np.ndarray], np.ndarray], seeds: Sequence[int],
                            max_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """The same episodes one after another on one env, one forward per step (the reference the
    vector evaluation is tested against)."""
    returns, lengths = np.zeros(len(seeds)), np.zeros(len(seeds), dtype=np.int64)
    for k, seed in enumerate(seeds):
        obs, _ = env.reset(seed=int(seed))
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(act(obs))
            returns[k] += float(reward)
            lengths[k] += 1
            done = terminated or truncated or lengths[k] >= max_steps
    return returns, lengths


class _EpisodeSlots(VectorEnv):
    """A vector env whose sub-envs stop at the end of their episode until they are reset
    (autoreset DISABLED): a finished slot repeats its last observation with reward 0 and is not
    stepped. `reset(seed=[...], options={"reset_mask": mask})` resets only the masked slots."""

    def _setup(self, num_envs: int, observation_space: gym.Space, action_space: gym.Space) -> None:
        self.num_envs = num_envs
        self.single_observation_space, self.single_action_space = observation_space, action_space
        self.observation_space = batch_space(observation_space, num_envs)
        self.action_space = batch_space(action_space, num_envs)
        self.metadata = {"autoreset_mode": AutoresetMode.DISABLED}
        self.running = np.zeros(num_envs, dtype=bool)
        self._obs = np.zeros((num_envs, *observation_space.shape), dtype=observation_space.dtype)

    def reset(self, *, seed: int | Sequence[int | None] | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        mask = np.ones(self.num_envs, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        if seed is None or isinstance(seed, (int, np.integer)):
            seeds = [None if seed is None else int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
        if len(seeds) != self.num_envs:
            raise ValueError(f"got {len(seeds)} seeds for {self.num_envs} envs")
        slots = [int(i) for i in np.flatnonzero(mask)]
        if slots:
            self._obs[slots] = self._reset_slots(slots, [seeds[i] for i in slots], options or None)
            self.running[slots] = True
        return self._obs.copy(), {}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        actions = np.asarray(actions)
        rewards = np.zeros(self.num_envs)
        terminated = np.zeros(self.num_envs, dtype=bool)
        truncated = np.zeros(self.num_envs, dtype=bool)
        slots = [int(i) for i in np.flatnonzero(self.running)]
        if slots:
            obs, rewards[slots], terminated[slots], truncated[slots] = self._step_slots(slots, actions[slots])
            self._obs[slots] = obs
            self.running[slots] = ~(terminated[slots] | truncated[slots])
        return self._obs.copy(), rewards, terminated, truncated, {}

    def _reset_slots(self, slots: list[int], seeds: list[int | None], options: dict | None) -> np.ndarray:
        raise NotImplementedError

    def _step_slots(self, slots: list[int], actions: np.ndarray) -> tuple[np.ndarray, ...]:
        raise NotImplementedError


class EpisodeVectorEnv(_EpisodeSlots):
    """`num_envs` copies of a local env, made by `make`, run until each episode ends."""

    def __init__(self, make: Callable[[], gym.Env], num_envs: int) -> None:
        self.envs = [make() for _ in range(num_envs)]
        self._setup(num_envs, self.envs[0].observation_space, self.envs[0].action_space)

    def _reset_slots(self, slots, seeds, options):
        return np.stack([self.envs[i].reset(seed=s, options=options)[0] for i, s in zip(slots, seeds)])

    def _step_slots(self, slots, actions):
        results = [self.envs[i].step(a) for i, a in zip(slots, actions)]
        return (np.stack([r[0] for r in results]), np.array([float(r[1]) for r in results]),
                np.array([bool(r[2]) for r in results]), np.array([bool(r[3]) for r in results]))

    def close_extras(self, **kwargs: Any) -> None:
        for env in self.envs:
            env.close()


class RemoteEpisodeVectorEnv(_EpisodeSlots):
    """Envs `indices` of an env daemon, through the bus: one round trip per vector step (only the
    envs still running are stepped, with the daemon's autoreset off) and per reset. Episodes
    longer than `max_steps` are truncated here (the daemon's envs keep their own limit)."""

    def __init__(self, service: str, indices: Sequence[int] | None = None, *, hub: str,
                 timeout: float = 30.0, max_steps: int | None = None) -> None:
        from control.bus.hub import open_service
        from control.gym.spaces import space_from_tree

        self.client = open_service(service, hub=hub, timeout=timeout, reconnect=True)
        try:
            spec = self.client.request("spec", idempotent=True)
            if indices is None:  # every env but the first, which trains
                indices = list(range(1, spec["num_envs"]))
            if not indices or not all(0 <= i < spec["num_envs"] for i in indices):
                raise IndexError(f"{self.client.service} hosts {spec['num_envs']} env(s); evaluation needs "
                                 f"env(s) {list(indices) or '1..'} (start the daemon with --envs 2 or more: "
                                 "index 0 trains, the others evaluate)")
        except BaseException:
            self.client.close()
            raise
        self.indices, self.max_steps = [int(i) for i in indices], max_steps
        self._setup(len(self.indices), space_from_tree(spec["observation_space"]),
                    space_from_tree(spec["action_space"]))
        self._steps = np.zeros(self.num_envs, dtype=np.int64)

    def _reset_slots(self, slots, seeds, options):
        result = self.client.request("reset", (), {"seed": seeds, "options": options,
                                                   "indices": [self.indices[i] for i in slots]})
        self._steps[slots] = 0
        return np.asarray(result["obs"])

    def _step_slots(self, slots, actions):
        result = self.client.request("step", (), {"actions": np.ascontiguousarray(actions),
                                                  "indices": [self.indices[i] for i in slots],
                                                  "autoreset": "Disabled"})
        self._steps[slots] += 1
        truncated = np.asarray(result["truncated"], dtype=bool)
        if self.max_steps is not None:
            truncated = truncated | (self._steps[slots] >= self.max_steps)
        return (np.asarray(result["obs"]), np.asarray(result["rewards"], dtype=np.float64),
                np.asarray(result["terminated"], dtype=bool), truncated)

    def close_extras(self, **kwargs: Any) -> None:
        """Close the connection; the envs stay with their daemon."""
        self.client.close()


def make_eval_envs(env_id: str, service: str | None, hub: str | None, episodes: int,
                   max_steps: int) -> _EpisodeSlots:
    """`episodes` local copies of `env_id` (all episodes at once), or the daemon's evaluation envs."""
    if service is None:
        return EpisodeVectorEnv(lambda: gym.make(env_id, max_episode_steps=max_steps), max(episodes, 1))
    from control.bus.hub import DEFAULT_HUB

    return RemoteEpisodeVectorEnv(service, hub=hub or DEFAULT_HUB, max_steps=max_steps)
