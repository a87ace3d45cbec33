"""Device kinds: how the fleet learns what a `[[devices]]` entry means, without listing kinds.

A kind is a pydantic model deriving from `DeviceConfig`, registered by its own package under the
`podium.devices` entry point (the entry's name is the `kind` string):

    [project.entry-points."podium.devices"]
    mujoco = "sims.mujoco.kind:MujocoDevice"

The model validates the entry's fields and knows how its daemon is started (`daemon_argv`) and
which extra it needs. `control` only ever sees `DeviceConfig`; adding a kind never edits it.
"""
from __future__ import annotations

import sys
from functools import cache
from importlib.metadata import entry_points
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from control.errors import PodiumError
from control.extras import missing_modules

ENTRY_POINT_GROUP = "podium.devices"


class KindError(PodiumError):
    """A device kind is unknown, registered twice, or cannot be loaded."""


class DeviceConfig(BaseModel):
    """One `[[devices]]` entry. Subclasses add their fields and a `kind: Literal[...]` field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9:._-]*$")
    kind: str

    extra: ClassVar[str | None] = None          # the podium extra this kind's daemon needs
    modules: ClassVar[tuple[str, ...]] = ()     # top-level modules that extra brings

    def daemon_argv(self, hub: str) -> list[str]:
        """The command line of this device's daemon, registering with the hub at `hub`."""
        raise NotImplementedError

    def missing_extra(self) -> str | None:
        """Why this device's daemon cannot start on this host, or None."""
        missing = missing_modules(*self.modules)
        if not missing:
            return None
        return (f"device {self.name!r} (kind {self.kind!r}) needs the '{self.extra}' extra: "
                f"pip install 'podium[{self.extra}]' (not installed: {', '.join(missing)})")


class CommandDevice(DeviceConfig):
    """Any program that registers with the hub at $PODIUM_HUB: `argv` is run as it is."""

    argv: list[str] = Field(min_length=1)

    def daemon_argv(self, hub: str) -> list[str]:
        return list(self.argv)


def podium_command(*args: str) -> list[str]:
    """The command line that runs `podium ARGS...` with this interpreter."""
    return [sys.executable, "-m", "control.cli", *args]


@cache
def device_kinds() -> dict[str, type[DeviceConfig]]:
    """Every installed kind, by name; KindError when two packages claim one name or an entry
    does not name a DeviceConfig."""
    kinds: dict[str, type[DeviceConfig]] = {}
    sources: dict[str, str] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name in kinds:
            raise KindError(f"device kind {entry.name!r} is registered twice: by {sources[entry.name]} "
                            f"and by {entry.value}")
        try:
            model = entry.load()
        except Exception as exc:
            raise KindError(f"device kind {entry.name!r} ({entry.value}) cannot be loaded: {exc}") from exc
        if not (isinstance(model, type) and issubclass(model, DeviceConfig)):
            raise KindError(f"device kind {entry.name!r} ({entry.value}) is not a DeviceConfig model")
        kinds[entry.name], sources[entry.name] = model, entry.value
    return kinds
