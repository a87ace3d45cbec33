"""Phones on the bus: `PhoneService` serves any PhoneDevice from a daemon, `RemotePhone` is the
PhoneDevice an agent holds on the other side. An agent cannot tell it from a local device.

The wire contract (methods of the daemon; see docs/protocol.md):
    observe() -> observation tree        screenshot as one raw uint8 frame, elements as maps
    act(action: map) -> None             AndroidWorld's JSON action, validated on both sides
    reset() -> observation tree
    current_app() -> str
    spec() -> {"device", "kind", "action_types"}
Errors keep their class across the bus: `except InvalidAction` catches a remote InvalidAction.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from control.bus.hub import DEFAULT_HUB, open_service
from control.bus.rpc import Client, idempotent
from control.phone.action import ACTION_TYPES, JSONAction
from control.phone.device import DeviceClosed, DeviceError, PhoneDevice
from control.phone.observation import Observation

PHONE_METHODS = frozenset({"observe", "act", "reset", "current_app", "spec"})


class PhoneService:
    """The daemon side: one PhoneDevice's methods in wire form."""

    def __init__(self, device: PhoneDevice) -> None:
        self._device = device

    @idempotent
    def spec(self) -> dict[str, Any]:
        """Which device this is and the action types it takes."""
        return {"device": self._device.name, "kind": type(self._device).__name__,
                "action_types": list(ACTION_TYPES)}

    @idempotent
    def observe(self) -> dict[str, Any]:
        """The screen now: screenshot, elements, package, activity, screen size, timestamp."""
        return self._device.observe().to_tree()

    def act(self, action: Any) -> None:
        """Perform one JSON action (a map with AndroidWorld's fields)."""
        self._device.act(JSONAction.from_dict(action))

    def reset(self) -> dict[str, Any]:
        """Back to the home screen; returns the observation there."""
        return self._device.reset().to_tree()

    @idempotent
    def current_app(self) -> str:
        """The foreground package."""
        return self._device.current_app()


class RemotePhone(PhoneDevice):
    """A phone daemon (found by name through the hub, or at an endpoint) as a PhoneDevice."""

    def __init__(self, service: str | Client = "sim:phone-0", *, hub: str = DEFAULT_HUB,
                 timeout: float = 120.0, reconnect: bool = True) -> None:
        self.client = open_service(service, hub=hub, timeout=timeout, reconnect=reconnect)
        self.name = self.client.service
        self._closed = False
        try:
            methods = set(self.client.describe()["methods"])  # also learns which calls may retry
            if not PHONE_METHODS <= methods:
                raise DeviceError(f"{self.name} is not a phone daemon: it lacks "
                                  f"{', '.join(sorted(PHONE_METHODS - methods))}")
            self.spec = self._call("spec")
        except BaseException:
            self.client.close()
            raise

    def _call(self, method: str, *args: Any) -> Any:
        if self._closed:
            raise DeviceClosed(f"{self.name}: this RemotePhone was closed")
        return self.client.call(method, *args)

    def observe(self) -> Observation:
        return Observation.from_tree(self._call("observe"))

    def act(self, action: JSONAction | Mapping[str, Any] | str) -> None:
        self._call("act", JSONAction.coerce(action).as_dict())

    def reset(self) -> Observation:
        return Observation.from_tree(self._call("reset"))

    def current_app(self) -> str:
        return self._call("current_app")

    def close(self) -> None:
        """Close the connection; the phone stays with its daemon."""
        self._closed = True
        self.client.close()
