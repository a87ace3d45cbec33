"""The `phone-sim` device kind: the phone simulator as a daemon (`podium sim phone`)."""
from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from control.fleet.kinds import DeviceConfig, podium_command


class PhoneSimDevice(DeviceConfig):
    """`[[devices]] kind = "phone-sim"`: a simulated phone; `http` also serves the Appium protocol."""

    seed: int = 0
    width: int = Field(1080, ge=240, le=4096)
    height: int = Field(2400, ge=400, le=8192)
    http: int | None = Field(None, ge=0, le=65535)

    extra: ClassVar[str] = "phone-sim"
    modules: ClassVar[tuple[str, ...]] = ("PIL", "starlette", "uvicorn", "lxml")

    def daemon_argv(self, hub: str) -> list[str]:
        argv = podium_command("sim", "phone", "--name", self.name, "--seed", str(self.seed), "--width",
                              str(self.width), "--height", str(self.height), "--hub", hub)
        if self.http is not None:
            argv += ["--http", str(self.http)]
        return argv
