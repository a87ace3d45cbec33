"""A phone task as a gymnasium env: `gymnasium.make("podium/Phone-v0", task="ContactsAddContact")`.

    observation  {"screenshot": uint8 (H, W, 3), "elements": JSON text of the UI elements}
    action       AndroidWorld's JSON action, as text (or a dict / JSONAction)
    reward       1 when the task succeeds (read from the apps' state), else 0
    terminated   on success, or when the agent ends the episode with `status` or `answer`
    truncated    after `max_steps` actions

`reset(seed=...)` restores the phone to that seed and sets a task instance up on it (without a
fixed `task`, one template is drawn per episode from `tasks`); the goal and facts about the task
are in `info`. An action that cannot apply (bad JSON, an index not on screen) costs a step, changes
nothing and is reported in `info["error"]`: a policy learns from it rather than crashing the run.
"""
from __future__ import annotations

import json
import string
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from control.phone.action import InvalidAction, JSONAction
from control.phone.observation import Observation
from sims.phone.phone import PhoneSim
from sims.phone.tasks import make_task, registry

ENV_ID = "podium/Phone-v0"
# JSON written with ensure_ascii holds printable ASCII only: a charset gymnasium's Text can check.
CHARSET = "".join(ch for ch in string.printable if ch not in "\x0b\x0c")


class PhoneEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 2}

    def __init__(self, task: str | None = None, *, tasks: Sequence[str] | None = None, max_steps: int = 30,
                 width: int = 1080, height: int = 2400, render_mode: str | None = None) -> None:
        names = [task] if task is not None else list(tasks or registry())
        unknown = [n for n in names if n not in registry()]
        if unknown or not names:
            raise ValueError(f"unknown task template(s) {unknown}; known: {', '.join(registry())}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.names, self.max_steps, self.render_mode = names, max_steps, render_mode
        self.phone = PhoneSim(0, width=width, height=height, name="env:phone")
        self.observation_space = spaces.Dict({
            "screenshot": spaces.Box(0, 255, (height, width, 3), np.uint8),
            "elements": spaces.Text(max_length=1_000_000, charset=CHARSET)})
        self.action_space = spaces.Text(max_length=4096, charset=CHARSET)
        self.task: Any = None
        self.steps = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        episode_seed = int(self.np_random.integers(2**31)) if seed is None else seed
        name = (options or {}).get("task") or self.names[int(self.np_random.integers(len(self.names)))]
        self.phone.restore(episode_seed)
        self.task = make_task(name, self.phone, seed=episode_seed)
        self.steps = 0
        return self._obs(self.phone.observe()), self._info()

    def step(self, action: str | dict | JSONAction) -> tuple[dict, float, bool, bool, dict]:
        if self.task is None:
            raise RuntimeError("call reset() before step()")
        self.steps += 1
        info: dict[str, Any] = {}
        try:
            parsed = JSONAction.coerce(action)
            self.phone.act(parsed)
        except InvalidAction as exc:
            parsed, info["error"] = None, str(exc)
        status = self.task.status(self.phone)
        ended = parsed is not None and parsed.action_type in ("status", "answer")
        terminated = bool(status["success"] or ended)
        truncated = not terminated and self.steps >= self.max_steps
        info.update(success=status["success"], goal=self.task.goal)
        return self._obs(self.phone.observe()), float(status["success"]), terminated, truncated, info

    def _info(self) -> dict[str, Any]:
        """What an agent may know: the goal and facts about the template; never the parameters,
        which can hold the answer (a question's expected reply)."""
        facts = self.task.describe()
        return {"goal": self.task.goal, "task": facts["name"], "difficulty": facts["difficulty"],
                "kind": facts["kind"], "optimal_steps": self.task.optimal_steps(), "success": False}

    def render(self) -> np.ndarray | None:
        return self.phone.pixels() if self.render_mode == "rgb_array" else None

    @staticmethod
    def _obs(observation: Observation) -> dict[str, Any]:
        elements = [e.to_tree() for e in observation.elements]
        # a copy: the phone shares one frame between observations, and gymnasium users keep what they get
        return {"screenshot": observation.screenshot.copy(), "elements": json.dumps(elements, ensure_ascii=True)}


if ENV_ID not in gym.registry:
    gym.register(ENV_ID, entry_point="sims.phone.env:PhoneEnv")
