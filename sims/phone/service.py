"""The phone simulator's daemon object: the phone on the bus, plus the task harness.

An agent uses only the PhoneService methods (observe, act, reset, current_app, spec) through a
RemotePhone. The harness methods are for an evaluation driver: they set a task up from a seed and
read its success from the apps' state, which no agent ever sees.
"""
from __future__ import annotations

from typing import Any

from control.bus.rpc import idempotent
from control.phone.remote import PhoneService
from sims.phone.phone import PhoneSim


class PhoneSimService(PhoneService):
    def __init__(self, phone: PhoneSim, http_url: str | None = None) -> None:
        super().__init__(phone)
        self.phone = phone
        self.http_url = http_url
        self.task: Any = None

    @idempotent
    def spec(self) -> dict[str, Any]:
        return {**super().spec(), "seed": self.phone.seed, "screen_size": list(self.phone.size),
                "http": self.http_url}

    @idempotent
    def tasks(self) -> list[dict[str, Any]]:
        """Every task template: name, app, difficulty, kind (action, answer or infeasible)."""
        from sims.phone.tasks import registry

        return [template.describe() for template in registry().values()]

    def setup_task(self, name: str, seed: int = 0, phrasing: int | None = None) -> dict[str, Any]:
        """Reset the phone to seed `seed`, set task `name` up on it; returns its goal and facts."""
        from sims.phone.tasks import make_task

        with self.phone.changing():
            self.phone.restore(seed)
            self.task = make_task(name, self.phone, seed=seed, phrasing=phrasing)
        return self.task.describe_instance()

    def setup_custom(self, spec: dict[str, Any], seed: int = 0) -> dict[str, Any]:
        """Like setup_task, for a user-defined task (template, params, goal), as a task file holds it."""
        from sims.phone.tasks import custom_task

        with self.phone.changing():
            self.phone.restore(seed)
            self.task = custom_task(spec, self.phone, seed=seed)
        return self.task.describe_instance()

    @idempotent
    def task_status(self) -> dict[str, Any]:
        """Whether the task is done (the agent said so, or it succeeded) and whether it succeeded."""
        if self.task is None:
            raise RuntimeError("no task is set up: call setup_task first")
        return self.task.status(self.phone)
