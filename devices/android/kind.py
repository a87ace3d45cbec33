"""The `android` device kind: one phone or emulator, driven through an Appium server."""
from __future__ import annotations

import json
from typing import Any, ClassVar
from urllib.parse import urlparse

from pydantic import Field, field_validator

from control.fleet.kinds import DeviceConfig, podium_command


class AndroidPhone(DeviceConfig):
    """`[[devices]] kind = "android"`: the phone `udid` (an adb serial) behind the Appium server
    at `appium`; `capabilities` are added to the session's (W3C names, e.g. "appium:noReset")."""

    udid: str = Field(min_length=1)
    appium: str = "http://127.0.0.1:4723"
    capabilities: dict[str, Any] = {}
    apps: dict[str, str] = {}   # app label -> package, for open_app by name

    extra: ClassVar[str] = "android"
    modules: ClassVar[tuple[str, ...]] = ("appium", "PIL")

    @field_validator("appium")
    @classmethod
    def _url(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value

    def daemon_argv(self, hub: str) -> list[str]:
        argv = podium_command("android", "--udid", self.udid, "--appium", self.appium,
                              "--name", self.name, "--hub", hub)
        if self.capabilities:
            argv += ["--capabilities", json.dumps(self.capabilities)]
        if self.apps:
            argv += ["--apps", json.dumps(self.apps)]
        return argv
