"""The `memory` device kind: the EchoTrail memory service (`podium memory --db PATH`) under `podium up`."""
from __future__ import annotations

from typing import ClassVar

from control.fleet.kinds import DeviceConfig, podium_command


class MemoryServiceDevice(DeviceConfig):
    """`[[devices]] kind = "memory"`: one trajectory store (SQLite file `db`) every agent shares."""

    db: str = "memory.db"

    extra: ClassVar[str] = "gui"
    modules: ClassVar[tuple[str, ...]] = ("numpy",)

    def daemon_argv(self, hub: str) -> list[str]:
        return podium_command("memory", "--db", self.db, "--name", self.name, "--hub", hub)
