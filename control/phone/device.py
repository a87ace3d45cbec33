"""`PhoneDevice`: the one interface every phone implements, local or remote.

    device.reset()            -> Observation   back to a known start (home screen), observed
    device.observe()          -> Observation   what the screen shows now
    device.act(action)        -> None          one JSONAction (a dict or JSON text is accepted too)
    device.current_app()      -> str           the foreground package
    device.close()                             release the device; idempotent

An action that names an element by `index` refers to the device's latest observation. Every action
is validated against it before the device is touched (`control.phone.gestures.resolve`): a bad one
raises `InvalidAction` and changes nothing. A device that cannot perform an action type raises
`UnsupportedCommand` naming the command it lacks; after `close()` every call raises `DeviceClosed`.
`control.phone.check.check_phone` checks all of this on any implementation.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from control.errors import PodiumError
from control.phone.action import JSONAction
from control.phone.observation import Observation


class DeviceError(PodiumError):
    """A phone failed to do what was asked; the message names the device."""


class UnsupportedCommand(DeviceError, NotImplementedError):
    """The device (or the server behind it) does not implement a command an action needs."""


class DeviceClosed(DeviceError):
    """The device was closed; open a new one."""


class SessionLost(DeviceError):
    """The device's session died mid-action; it was re-created, but the action was not repeated
    because it may already have taken effect."""


class PhoneDevice(ABC):
    """A phone: see the module docstring for the contract."""

    name: str = "phone"

    @abstractmethod
    def observe(self) -> Observation:
        """What the screen shows now."""

    @abstractmethod
    def act(self, action: JSONAction | Mapping[str, Any] | str) -> None:
        """Perform one action; InvalidAction before touching anything when it cannot apply."""

    @abstractmethod
    def reset(self) -> Observation:
        """Return to a known start (the home screen) and observe it."""

    @abstractmethod
    def current_app(self) -> str:
        """The package in the foreground."""

    def close(self) -> None:  # noqa: B027 - a device that holds nothing has nothing to release
        """Release the device. Idempotent; afterwards every call raises DeviceClosed."""

    def __enter__(self) -> PhoneDevice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
