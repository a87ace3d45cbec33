"""The fleet config: one TOML file naming the hub and every device daemon.

    [hub]
    address = "tcp://127.0.0.1:5770"

    [supervisor]                    # all optional
    max_restarts = 5                # crashes within restart_window before a daemon is marked failed
    restart_window = 60.0
    backoff_initial = 0.2           # seconds before the first restart; doubles per recent crash
    backoff_max = 30.0
    stop_timeout = 10.0             # SIGTERM, then SIGKILL after this long

    [[devices]]
    name = "sim:humanoid-0"
    kind = "mujoco"
    env = "Humanoid-v5"
    envs = 8
    kwargs = { terminate_when_unhealthy = false }

    [[devices]]
    name = "phone:0"
    kind = "phone-sim"
    seed = 0
    apps = ["contacts", "clock"]

    [[devices]]
    name = "android:pixel"
    kind = "android"
    serial = "emulator-5554"
    appium_url = "http://127.0.0.1:4723"
    capabilities = { "appium:automationName" = "UiAutomator2" }

    [[devices]]
    name = "custom:0"
    kind = "command"
    argv = ["python", "my_daemon.py", "--name", "custom:0"]

Everything is validated (pydantic) before anything starts; an error names the file, the entry and
the field.
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Union
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from control.hub import DEFAULT_HUB


class ConfigError(ValueError):
    """A config file that cannot be used; the message names file, entry and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_endpoint(value: str) -> str:
    transport, sep, rest = value.partition("://")
    if not sep or transport not in ("tcp", "ipc"):
        raise ValueError(f"{value!r} is not a tcp:// or ipc:// address")
    if transport == "tcp":
        host, _, port = rest.rpartition(":")
        if not host:
            raise ValueError(f"{value!r} has no host:port")
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f"port {port!r} in {value!r} is not a number from 1 to 65535")
    return value


class HubConfig(_Strict):
    address: str = DEFAULT_HUB
    keys: Path | None = None    # the hub's .key_secret (CurveZMQ)
    allow: Path | None = None   # directory of allowed client public keys

    _address = field_validator("address")(_check_endpoint)

    @model_validator(mode="after")
    def _keys_together(self) -> "HubConfig":
        if (self.keys is None) != (self.allow is None):
            raise ValueError("'keys' and 'allow' go together (hub secret key, client allow-list)")
        return self


class SupervisorConfig(_Strict):
    max_restarts: int = Field(5, ge=1)
    restart_window: float = Field(60.0, gt=0)
    backoff_initial: float = Field(0.2, gt=0)
    backoff_max: float = Field(30.0, gt=0)
    stop_timeout: float = Field(10.0, gt=0)


class _Device(_Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9:._-]*$")


class MujocoDevice(_Device):
    kind: Literal["mujoco"]
    env: str = "Humanoid-v5"
    envs: int = Field(1, ge=1, le=4096)
    kwargs: dict[str, Any] = {}
    render: bool = True


class PhoneSimDevice(_Device):
    kind: Literal["phone-sim"]
    seed: int = 0
    apps: list[str] = []


class AndroidDevice(_Device):
    kind: Literal["android"]
    serial: str = Field(min_length=1)
    appium_url: str = "http://127.0.0.1:4723"
    capabilities: dict[str, Any] = {}

    @field_validator("appium_url")
    @classmethod
    def _url(cls, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value


class CommandDevice(_Device):
    kind: Literal["command"]
    argv: list[str] = Field(min_length=1)


Device = Annotated[Union[MujocoDevice, PhoneSimDevice, AndroidDevice, CommandDevice],
                   Field(discriminator="kind")]
KINDS = ("mujoco", "phone-sim", "android", "command")


class FleetConfig(_Strict):
    hub: HubConfig = HubConfig()
    supervisor: SupervisorConfig = SupervisorConfig()
    devices: list[Device] = []

    @model_validator(mode="after")
    def _unique_names(self) -> "FleetConfig":
        seen: set[str] = set()
        for device in self.devices:
            if device.name in seen:
                raise ValueError(f"duplicate device name {device.name!r}")
            seen.add(device.name)
        return self


def load_config(path: str | Path) -> FleetConfig:
    """Read and validate a fleet config; ConfigError naming file, entry and field."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return FleetConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(path, data, exc)) from None


def _describe(path: Path, data: dict, exc: ValidationError) -> str:
    lines = [f"{path}: invalid config"]
    for error in exc.errors():
        loc = list(error["loc"])
        where = _entry(data, loc)
        kind = error["type"]
        if kind == "union_tag_invalid":
            message = (f"unknown kind {error['input'].get('kind')!r}; expected one of "
                       f"{', '.join(KINDS)}")
            field = "kind"
        elif kind == "union_tag_not_found":
            message, field = f"missing 'kind' (one of {', '.join(KINDS)})", "kind"
        else:
            field = ".".join(str(p) for p in loc if not isinstance(p, int) and p not in KINDS)
            message = error["msg"]
        lines.append(f"  {where}, field '{field or '-'}': {message}")
    return "\n".join(lines)


def _entry(data: dict, loc: list) -> str:
    """'devices[2] (name 'sim:b')' for a device, '[hub]' for a table."""
    if loc[:1] == ["devices"] and len(loc) > 1 and isinstance(loc[1], int):
        index = loc[1]
        del loc[:2]
        try:
            name = data["devices"][index].get("name")
        except (KeyError, IndexError, AttributeError):
            name = None
        return f"devices[{index}]" + (f" (name {name!r})" if name else "")
    if loc and loc[0] in ("hub", "supervisor"):
        table = loc.pop(0)
        return f"[{table}]"
    return "top level"
