"""podium's shared layer: the bus, the fleet, remote gymnasium envs and the phone contract.

`control` imports none of `agents`, `sims` or `devices`: they build on it. The everyday API is
importable from here (`from control import Daemon, connect, RemoteEnv, RemotePhone`); names are
loaded on first use, so importing the bus never pulls in gymnasium or Pillow, and a name whose
extra is not installed says which one to install.
"""
from __future__ import annotations

from typing import Any

from control.errors import CallTimeout, PodiumError, RemoteError, ServiceNotFound, WireError

# name -> module that defines it; resolved by __getattr__ (PEP 562) on first access.
_LAZY = {
    "Client": "control.bus.rpc", "Server": "control.bus.rpc", "idempotent": "control.bus.rpc",
    "Daemon": "control.bus.daemon",
    "Hub": "control.bus.hub", "HubClient": "control.bus.hub", "connect": "control.bus.hub",
    "wait_for_service": "control.bus.hub",
    "Publisher": "control.bus.streams", "Subscriber": "control.bus.streams",
    "RemoteEnv": "control.gym.envs", "RemoteVectorEnv": "control.gym.envs",
    "SB3VecEnv": "control.gym.sb3",
    "JSONAction": "control.phone.action", "InvalidAction": "control.phone.action",
    "UIElement": "control.phone.observation", "Observation": "control.phone.observation",
    "PhoneDevice": "control.phone.device", "RemotePhone": "control.phone.remote",
    "PhoneService": "control.phone.remote", "check_phone": "control.phone.check",
}

__all__ = ["CallTimeout", "PodiumError", "RemoteError", "ServiceNotFound", "WireError", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'control' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

