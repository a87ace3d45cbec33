"""EnvService: N copies of one gymnasium env, served as a device daemon.

Any registered env id works (MuJoCo's Humanoid-v5 by default, Walker2d-v5, Ant-v5, Pendulum-v1...),
with keyword arguments passed through to `gymnasium.make`. Clients are `control.gym.envs.RemoteEnv`
(one env) and `control.gym.envs.RemoteVectorEnv` (many, over one or more daemons).

Autoreset happens here, in the daemon, so that a vector step is one round trip. The modes are
gymnasium 1.x's: "NextStep" (an env that ended is reset by the following step call, whose action
for it is ignored), "SameStep" (reset at once; the final observation and info are returned
beside), and "Disabled" (the client resets explicitly).

Methods (the env part of the wire contract; see docs/protocol.md):
    spec() -> dict                              spaces, env id, count, render mode
    reset(seed=None, options=None, indices=None) -> {"obs", "infos"}
    step(actions, indices=None, autoreset="NextStep") -> {"obs", "rewards", "terminated",
                                                          "truncated", "infos", "final"}
        infos: gymnasium's columnar vector layout (control/gym/infos.py); final: {row: {"obs", "info"}}
    step_one(index, action) -> [obs, reward, terminated, truncated, info]   the lean 1-env path
    reset_one(index, seed=None, options=None) -> [obs, info]
    render(index=0) -> rgb array
"""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import concatenate, create_empty_array

from control.bus.rpc import idempotent
from control.extras import MissingExtra
from control.gym.infos import stack_infos
from control.gym.spaces import space_to_tree

log = logging.getLogger(__name__)

AUTORESET_MODES = ("NextStep", "SameStep", "Disabled")  # gymnasium.vector.AutoresetMode values
ALIASES = {"humanoid": "Humanoid-v5", "walker": "Walker2d-v5", "walker2d": "Walker2d-v5",
           "ant": "Ant-v5", "halfcheetah": "HalfCheetah-v5", "cheetah": "HalfCheetah-v5",
           "hopper": "Hopper-v5", "pendulum": "Pendulum-v1", "humanoidstandup": "HumanoidStandup-v5"}


def resolve_env_id(name: str) -> str:
    """'humanoid' -> 'Humanoid-v5'; registered ids pass through; unknown names are refused."""
    env_id = ALIASES.get(name.lower(), name)
    if env_id not in gym.registry:
        known = ", ".join(sorted(ALIASES))
        raise ValueError(f"unknown env {name!r}: not a registered gymnasium id nor one of {known}")
    return env_id


class _Batch(NamedTuple):
    """One batched step's results, row by row (each thread writes only its own rows)."""

    obs: list
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    infos: list
    final: dict


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


class EnvService:
    """N copies of `env_id`. A batched step runs in `threads` threads, each stepping its own
    contiguous slice of the envs: MuJoCo releases the GIL while it simulates, and one env (its
    model and data) is only ever touched by one thread, so a daemon can use several cores. The
    result is the same, bit for bit, as stepping them one after another."""

    def __init__(self, env_id: str = "Humanoid-v5", num_envs: int = 1,
                 env_kwargs: dict[str, Any] | None = None, render_mode: str | None = "rgb_array",
                 threads: int = 1) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self.threads = min(threads, num_envs)
        self._pool = ThreadPoolExecutor(self.threads - 1, "podium-env") if self.threads > 1 else None
        os.environ.setdefault("MUJOCO_GL", "egl")  # offscreen rendering, no display needed
        self.env_id = resolve_env_id(env_id)
        self.env_kwargs = dict(env_kwargs or {})
        self.render_mode = render_mode
        self.envs = [self._make(render_mode) for _ in range(num_envs)]
        env = self.envs[0]
        if render_mode is not None and render_mode not in env.metadata.get("render_modes", []):
            raise ValueError(f"{self.env_id} does not render {render_mode!r}")
        self.observation_space = env.observation_space
        self.action_space = env.action_space
        self._needs_reset = [False] * num_envs  # next_step mode: ended last step, reset on this one

    def _make(self, render_mode: str | None) -> gym.Env:
        try:
            return gym.make(self.env_id, render_mode=render_mode, **self.env_kwargs)
        except TypeError as exc:
            raise ValueError(f"bad env kwargs for {self.env_id}: {exc}") from exc
        except gym.error.DependencyNotInstalled as exc:
            raise MissingExtra(f"{self.env_id} needs the 'mujoco' extra: pip install 'podium[mujoco]' "
                               f"({exc})") from exc

    @property
    def num_envs(self) -> int:
        return len(self.envs)

    # -- description -----------------------------------------------------------------------------
    @idempotent
    def spec(self) -> dict[str, Any]:
        """What a client needs to build matching gymnasium spaces."""
        env = self.envs[0]
        return {"env_id": self.env_id, "num_envs": self.num_envs, "env_kwargs": self.env_kwargs,
                "observation_space": space_to_tree(self.observation_space),
                "action_space": space_to_tree(self.action_space),
                "render_mode": self.render_mode,
                "render_fps": env.metadata.get("render_fps"),
                "max_episode_steps": env.spec.max_episode_steps if env.spec else None}

    # -- single env: the lean path RemoteEnv uses --------------------------------------------------
    def reset_one(self, index: int, seed: int | None = None, options: dict | None = None) -> list:
        """Reset env `index`; returns (obs, info)."""
        env = self.envs[self._index(index)]
        self._needs_reset[index] = False
        obs, info = env.reset(seed=self._seed(seed), options=options)
        return [obs, info]  # a list: cheaper on the wire than a tuple (a nested extension)

    def step_one(self, index: int, action: Any) -> list:
        """Step env `index` (no autoreset); returns (obs, reward, terminated, truncated, info)."""
        env = self.envs[self._index(index)]
        obs, reward, terminated, truncated, info = env.step(self._check_action(action))
        return [obs, float(reward), bool(terminated), bool(truncated), info]

    # -- batched ---------------------------------------------------------------------------------
    def reset(self, seed: int | list | None = None, options: dict | list | None = None,
              indices: list[int] | None = None) -> dict[str, Any]:
        """Reset the given envs (all by default). An int seed gives env i (of all) seed + i;
        a list gives one seed per env. Options: one map for all, or a list with one per env."""
        indices = self._indices(indices)
        seeds = self._seeds(seed, indices)
        if not isinstance(options, list):
            options = [options] * len(indices)
        elif len(options) != len(indices):
            raise ValueError(f"got {len(options)} options for {len(indices)} envs")
        results = [self.reset_one(i, seeds[k], options[k] or None) for k, i in enumerate(indices)]
        return {"obs": self._stack([obs for obs, _ in results]),
                "infos": stack_infos([info for _, info in results])}

    def step(self, actions: Any, indices: list[int] | None = None,
             autoreset: str = "NextStep") -> dict[str, Any]:
        """Step the given envs (all by default) with one action each, rows in `indices` order."""
        if autoreset not in AUTORESET_MODES:
            raise ValueError(f"autoreset must be one of {AUTORESET_MODES}, got {autoreset!r}")
        indices = self._indices(indices)
        actions = self._check_actions(actions, len(indices))
        n = len(indices)
        batch = _Batch([None] * n, np.zeros(n, np.float64), np.zeros(n, np.bool_), np.zeros(n, np.bool_),
                       [None] * n, {})
        rows = range(n)
        if self._pool is None or n < 2:
            self._step_rows(rows, indices, actions, autoreset, batch)
        else:
            size = -(-n // self.threads)
            slices = [rows[k:k + size] for k in range(0, n, size)]
            others = [self._pool.submit(self._step_rows, part, indices, actions, autoreset, batch)
                      for part in slices[1:]]
            try:
                self._step_rows(slices[0], indices, actions, autoreset, batch)
            finally:
                wait(others)  # every slice finishes before any error is raised
            for other in others:
                other.result()
        return {"obs": self._stack(batch.obs), "rewards": batch.rewards, "terminated": batch.terminated,
                "truncated": batch.truncated, "infos": stack_infos(batch.infos),
                "final": dict(sorted(batch.final.items()))}

    def _step_rows(self, rows: range, indices: list[int], actions: Any, autoreset: str, batch: _Batch) -> None:
        """Step the envs of `rows` (positions in `indices`), writing only those rows of `batch`."""
        for row in rows:
            i = indices[row]
            env = self.envs[i]
            if autoreset == "NextStep" and self._needs_reset[i]:
                obs, info = env.reset()
                self._needs_reset[i] = False
            else:
                obs, reward, terminated, truncated, info = env.step(actions[row])
                batch.rewards[row], batch.terminated[row], batch.truncated[row] = reward, terminated, truncated
                ended = bool(terminated or truncated)
                if ended and autoreset == "SameStep":
                    batch.final[row] = {"obs": obs, "info": info}
                    obs, info = env.reset()
                elif ended and autoreset == "NextStep":
                    self._needs_reset[i] = True
            batch.obs[row], batch.infos[row] = obs, info

    def render(self, index: int = 0) -> np.ndarray:
        """An rgb_array frame of env `index` (offscreen)."""
        if self.render_mode is None:
            raise RuntimeError("this daemon was started without a render mode")
        return self.envs[self._index(index)].render()

    def close(self) -> None:
        """Close every env (the daemon keeps serving; calls then fail until it restarts)."""
        for env in self.envs:
            env.close()
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    # -- validation ------------------------------------------------------------------------------
    def _index(self, index: Any) -> int:
        if not _is_int(index) or not 0 <= index < self.num_envs:
            raise IndexError(f"env index {index!r} out of range: this daemon hosts {self.num_envs} env(s)")
        return int(index)

    def _indices(self, indices: Sequence[int] | None) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        if not isinstance(indices, (list, tuple, np.ndarray)):
            raise TypeError(f"indices must be a list of ints, got {type(indices).__name__}")
        out = [self._index(i) for i in indices]
        if len(set(out)) != len(out):
            raise ValueError(f"indices repeat an env: {out}")
        return out

    def _seed(self, seed: Any) -> int | None:
        if seed is not None and not _is_int(seed):
            raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
        return None if seed is None else int(seed)

    def _seeds(self, seed: Any, indices: list[int]) -> list[int | None]:
        if isinstance(seed, (list, tuple)):
            if len(seed) != len(indices):
                raise ValueError(f"got {len(seed)} seeds for {len(indices)} envs")
            return [self._seed(s) for s in seed]
        seed = self._seed(seed)
        return [None if seed is None else seed + i for i in indices]

    def _stack(self, items: list[Any]) -> Any:
        # A fresh array every time: a big one is sent zero-copy, so it must not be reused.
        return concatenate(self.observation_space, items,
                           create_empty_array(self.observation_space, len(items)))

    def _check_action(self, action: Any) -> Any:
        """One action as the space wants it, or ValueError naming what is wrong."""
        if self._array_space:
            return self._check_array_actions(action, self.action_space.shape, "action")
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        return action

    def _check_actions(self, actions: Any, count: int) -> Any:
        """`count` actions (one row each) as the space wants them, or ValueError naming what is wrong."""
        space = self.action_space
        if self._array_space:
            return self._check_array_actions(actions, (count, *space.shape), f"actions for {count} env(s)")
        if not isinstance(actions, (list, tuple)) or len(actions) != count:
            raise ValueError(f"expected a list of {count} actions for {space}")
        return [self._check_action(a) for a in actions]

    @property
    def _array_space(self) -> bool:
        return isinstance(self.action_space, (spaces.Box, spaces.MultiDiscrete, spaces.MultiBinary,
                                              spaces.Discrete))

    def _check_array_actions(self, actions: Any, expected: tuple, what: str) -> Any:
        """Validate against the space, but hand the env the action as it came: an array keeps its
        dtype (float64 is not rounded to a float32 space), a list stays a list, as a local env
        would get them; casting to the space's dtype here made remote results drift from local."""
        space = self.action_space
        sent = actions
        if isinstance(actions, np.ndarray):
            if not actions.flags.writeable:  # a view of the message: give the env its own copy
                sent = actions = actions.copy()
        else:
            try:
                actions = np.asarray(actions)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"bad {what}: not an array ({exc})") from exc
        if actions.shape != expected:
            raise ValueError(f"bad {what}: shape {actions.shape}, but {self.env_id} expects "
                             f"{expected} (action space {space})")
        want = space.dtype
        integral = np.issubdtype(want, np.integer)
        ok_kind = actions.dtype.kind in ("iu" if integral else "fiu")
        if not ok_kind or not np.can_cast(actions.dtype, want, casting="same_kind"):
            raise ValueError(f"bad {what}: dtype {actions.dtype}, but {self.env_id} expects "
                             f"{want} (or a dtype that casts to it without changing kind)")
        if actions.dtype.kind == "f" and not np.isfinite(actions).all():
            bad = np.argwhere(~np.isfinite(actions))[0].tolist()
            raise ValueError(f"bad {what}: NaN or inf (first at index {bad})")
        if integral:
            cast = actions.astype(want, copy=False)
            rows = cast.reshape(-1, *space.shape) if cast.shape != space.shape else cast[None]
            if not all(space.contains(a) for a in rows):
                raise ValueError(f"bad {what}: {actions.tolist()} outside {space}")
        return sent
