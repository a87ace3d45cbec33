"""The fleet config: one TOML file naming the hub and every device daemon.

    [hub]
    address = "tcp://127.0.0.1:5770"
    # start = false                 # the hub runs on another host: only register with it
    # keys = "keys/hub.key_secret"  # CurveZMQ, required beyond loopback: the hub's key pair
    # allow = "keys/allowed"        #   and the directory of member public keys it accepts

    [daemons]                       # optional: how this host's daemons serve and authenticate
    # bind = "tcp://10.0.0.2:*"     # where they listen (beyond loopback: keys required)
    # keys = "keys/host-b.key_secret"
    # hub_key = "keys/hub.key"      # default: the public half of [hub] keys, when the hub runs here
    # allow = "keys/allowed"        # default: [hub] allow

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
    name = "android:emulator-5554"
    kind = "android"
    udid = "emulator-5554"
    appium = "http://127.0.0.1:4723"

    [[devices]]
    name = "custom:0"
    kind = "command"
    argv = ["python", "my_daemon.py", "--name", "custom:0"]

Each kind (`mujoco`, `android`, `command`, ...) is a model registered by its own package (see
`control.fleet.kinds`). Everything is validated (pydantic) before anything starts; an error names
the file, the entry and the field.
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from control.bus.hub import DEFAULT_HUB
from control.bus.security import ALLOW_ENV, BIND_ENV, DEFAULT_BIND, HUB_KEY_ENV, KEYS_ENV, is_local_endpoint
from control.errors import PodiumError
from control.fleet.kinds import DeviceConfig, device_kinds


class ConfigError(PodiumError, ValueError):
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
    start: bool = True          # false: the hub runs elsewhere; this host's daemons register with it
    keys: Path | None = None    # the hub's .key_secret (CurveZMQ)
    allow: Path | None = None   # directory of allowed client public keys

    _address = field_validator("address")(_check_endpoint)

    @model_validator(mode="after")
    def _keys_together(self) -> HubConfig:
        if (self.keys is None) != (self.allow is None):
            raise ValueError("'keys' and 'allow' go together (hub secret key, client allow-list)")
        if self.start and self.keys is None and not is_local_endpoint(self.address):
            raise ValueError(f"the hub at {self.address} is not on loopback: give it CurveZMQ 'keys' and "
                             "'allow' (anyone on that network could drive your devices)")
        return self


class DaemonsConfig(_Strict):
    """Where this host's daemons listen and the keys they serve and register with."""

    bind: str = DEFAULT_BIND
    keys: Path | None = None      # this host's .key_secret
    hub_key: Path | None = None   # the hub's public .key
    allow: Path | None = None     # who may call the daemons

    @field_validator("bind")
    @classmethod
    def _bind(cls, value: str) -> str:
        transport, _, rest = value.partition("://")
        if transport == "tcp" and rest.endswith(":*"):
            _check_endpoint(value[:-1] + "1")  # the host part, as for a fixed port
        else:
            _check_endpoint(value)
        host = rest.rpartition(":")[0].strip("[]")
        if transport == "tcp" and host in ("*", "0.0.0.0", "::"):
            raise ValueError(f"{value!r} binds every interface, and the daemons' hub records would "
                             "carry that address, which no other host can reach: give this host's address")
        return value

    @model_validator(mode="after")
    def _secured_beyond_loopback(self) -> DaemonsConfig:
        if self.keys is None and (self.hub_key is not None or self.allow is not None):
            raise ValueError("'hub_key' and 'allow' need 'keys' (this host's key pair)")
        if self.keys is None and not is_local_endpoint(self.bind):
            raise ValueError(f"daemons binding {self.bind} (beyond loopback) need CurveZMQ 'keys', "
                             "'hub_key' and 'allow'")
        return self


class SupervisorConfig(_Strict):
    max_restarts: int = Field(5, ge=1)
    restart_window: float = Field(60.0, gt=0)
    backoff_initial: float = Field(0.2, gt=0)
    backoff_max: float = Field(30.0, gt=0)
    stop_timeout: float = Field(10.0, gt=0)


class FleetConfig(_Strict):
    # factories, not instances: a default hub is built (and checked) only for a config without [hub],
    # never at import time, where PODIUM_HUB may name another host
    hub: HubConfig = Field(default_factory=HubConfig)
    daemons: DaemonsConfig = Field(default_factory=DaemonsConfig)
    supervisor: SupervisorConfig = Field(default_factory=SupervisorConfig)
    devices: list[DeviceConfig] = []

    @model_validator(mode="after")
    def _unique_names(self) -> FleetConfig:
        seen: set[str] = set()
        for device in self.devices:
            if device.name in seen:
                raise ValueError(f"duplicate device name {device.name!r}")
            seen.add(device.name)
        return self

    @model_validator(mode="after")
    def _daemons_can_reach_the_hub(self) -> FleetConfig:
        secured_hub = self.hub.keys is not None or not is_local_endpoint(self.hub.address)
        if secured_hub and self.daemons.keys is None and (self.devices or not self.hub.start):
            raise ValueError("the hub is secured (CurveZMQ): give [daemons] 'keys' so this host's "
                             "daemons can register with it")
        if self.daemons.keys is not None and self.hub.start and self.hub.keys is None:
            raise ValueError("[daemons] has keys but the hub this config starts has none: a secured "
                             "daemon cannot register with a plain hub; give [hub] 'keys' and 'allow'")
        if self.hub.keys is not None and not self.hub.start:
            raise ValueError("[hub] 'keys' is the hub's secret key: it belongs on the hub's host only; "
                             "here (start = false) give [daemons] 'hub_key', the hub's public .key")
        if self.daemons.keys is not None and self.daemons.hub_key is None and self.hub.keys is None:
            raise ValueError("[daemons] needs 'hub_key' (the hub's public .key) when the hub's keys are "
                             "not in this config")
        fixed_port = self.daemons.bind.startswith("tcp://") and not self.daemons.bind.endswith(":*")
        if fixed_port and len(self.devices) > 1:
            raise ValueError(f"[daemons] bind {self.daemons.bind} names one port for {len(self.devices)} "
                             "daemons: end it in :* (a free port each)")
        return self

    def hub_public_key(self) -> Path | None:
        """The hub's public key file: [daemons] hub_key, else the .key beside [hub] keys (or the
        secret file itself, whose public half is read, when no .key lies beside it)."""
        if self.daemons.hub_key is not None or self.hub.keys is None:
            return self.daemons.hub_key
        public = self.hub.keys.with_suffix(".key")
        return public if public.is_file() else self.hub.keys

    def daemon_environment(self) -> dict[str, str]:
        """What this host's daemons are told through their environment, by `podium up` and by the
        systemd units alike: the hub, where to serve and (when set) their key files, absolute."""
        return {"PODIUM_HUB": self.hub.address, BIND_ENV: self.daemons.bind,
                **{name: str(Path(path).resolve()) for name, path in self.daemon_keys().items()}}

    def daemon_keys(self) -> dict[str, Path]:
        """The key files this host's daemons get (PODIUM_KEYS, PODIUM_HUB_KEY, PODIUM_ALLOW)."""
        if self.daemons.keys is None:
            return {}
        return {KEYS_ENV: self.daemons.keys, HUB_KEY_ENV: self.hub_public_key(),
                **({ALLOW_ENV: allow} if (allow := self.daemons.allow or self.hub.allow) else {})}


def load_config(path: str | Path) -> FleetConfig:
    """Read and validate a fleet config; ConfigError naming file, entry and field."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(data, source=str(path))


def parse_config(data: dict[str, Any], source: str = "config") -> FleetConfig:
    """Validate a config already read into a dict: each device by the model of its kind."""
    problems: list[str] = []
    entries = data.get("devices", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{source}: invalid config\n  top level, field 'devices': must be an array "
                          "of tables ([[devices]])")
    devices = [device for index, entry in enumerate(entries)
               if (device := _device(index, entry, problems)) is not None]
    try:
        config = FleetConfig.model_validate({**data, "devices": devices})
    except ValidationError as exc:
        problems += [_problem(data, error) for error in exc.errors()]
        config = None
    if problems:
        raise ConfigError("\n".join([f"{source}: invalid config", *problems]))
    return config


def _device(index: int, entry: Any, problems: list[str]) -> DeviceConfig | None:
    where = _where(index, entry)
    kinds = device_kinds()
    known = ", ".join(sorted(kinds))
    if not isinstance(entry, dict):
        problems.append(f"  {where}: must be a table")
        return None
    if "kind" not in entry:
        problems.append(f"  {where}, field 'kind': missing (one of {known})")
        return None
    model = kinds.get(entry["kind"]) if isinstance(entry["kind"], str) else None
    if model is None:
        problems.append(f"  {where}, field 'kind': unknown kind {entry['kind']!r}; expected one of {known}")
        return None
    try:
        return model.model_validate(entry)
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"]) or "-"
            problems.append(f"  {where}, field '{field}': {error['msg']}")
        return None


def _where(index: int, entry: Any) -> str:
    """'devices[2] (name 'sim:b')'."""
    name = entry.get("name") if isinstance(entry, dict) else None
    return f"devices[{index}]" + (f" (name {name!r})" if isinstance(name, str) else "")


def _problem(data: dict, error: Any) -> str:
    loc = list(error["loc"])
    if loc[:1] == ["devices"] and len(loc) > 1 and isinstance(loc[1], int):
        entries = data.get("devices") or []
        where = _where(loc[1], entries[loc[1]] if loc[1] < len(entries) else None)
        loc = loc[2:]
    elif loc and loc[0] in ("hub", "daemons", "supervisor"):
        where, loc = f"[{loc[0]}]", loc[1:]
    else:
        where = "top level"
    field = ".".join(str(p) for p in loc) or "-"
    return f"  {where}, field '{field}': {error['msg']}"
