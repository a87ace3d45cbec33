"""The `mujoco` device kind: an env daemon (`podium sim`) hosting copies of a gymnasium env."""
from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import Field

from control.fleet.kinds import DeviceConfig, podium_command


class MujocoDevice(DeviceConfig):
    """`[[devices]] kind = "mujoco"`: `envs` copies of `env` (any gymnasium id) in one daemon,
    stepped by `threads` threads."""

    env: str = "Humanoid-v5"
    envs: int = Field(1, ge=1, le=4096)
    threads: int = Field(1, ge=1, le=256)  # threads stepping the envs (one slice each)
    kwargs: dict[str, Any] = {}
    render: bool = True

    extra: ClassVar[str] = "mujoco"
    modules: ClassVar[tuple[str, ...]] = ("gymnasium", "mujoco")

    def daemon_argv(self, hub: str) -> list[str]:
        return podium_command("sim", self.env, "--envs", str(self.envs), "--threads", str(self.threads),
                              "--name", self.name,
                              "--hub", hub, "--env-kwargs", json.dumps(self.kwargs),
                              "--render-mode", "rgb_array" if self.render else "none")
