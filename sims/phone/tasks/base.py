"""What a task is, AndroidWorld style: a template with parameters drawn from a seed, an initial
state set up by the harness, several phrasings of its goal, success read from the apps' state (or,
for questions, the agent's answer checked against that state), and an optimal number of steps.

Three kinds: `action` (change something), `answer` (find something out and say it with `answer`),
and `infeasible` (the thing asked for does not exist: the only success is `status: infeasible`).
"""
from __future__ import annotations

import random
import re
from typing import TYPE_CHECKING, Any, ClassVar

from control.errors import PodiumError

if TYPE_CHECKING:
    from sims.phone.oracle import Oracle
    from sims.phone.phone import PhoneSim

_TEMPLATES: dict[str, type[Task]] = {}
DIFFICULTIES = ("easy", "medium", "hard")
KINDS = ("action", "answer", "infeasible")


class TaskError(PodiumError, ValueError):
    """A task name, parameter or task file that cannot be used; the message says which."""


class Task:
    """A task instance. Subclasses are templates: they set the class attributes and implement
    `draw` (parameters from the phone's content and a seeded rng), `setup`, `succeeded` (action
    tasks) or `answers` (answer tasks), and `solve` (the scripted oracle's way through the UI)."""

    app: ClassVar[str]                       # the app the task starts from
    apps: ClassVar[tuple[str, ...]] = ()     # every app it needs, when more than one
    difficulty: ClassVar[str] = "easy"
    kind: ClassVar[str] = "action"
    goals: ClassVar[tuple[str, ...]]         # phrasings, with {parameters}
    optimal: ClassVar[int]                   # fewest actions, scrolling aside

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "goals" in cls.__dict__:
            assert cls.difficulty in DIFFICULTIES and cls.kind in KINDS, cls
            _TEMPLATES[cls.__name__] = cls

    def __init__(self, params: dict[str, Any], goal: str, seed: int = 0) -> None:
        self.params, self.goal, self.seed = params, goal, seed

    @property
    def name(self) -> str:
        return type(self).__name__

    # -- what templates define -------------------------------------------------------------------
    @classmethod
    def draw(cls, phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
        return {}

    def setup(self, phone: PhoneSim) -> None:
        """Make the world what the goal assumes (the harness may touch app state; agents may not)."""

    def succeeded(self, phone: PhoneSim) -> bool:
        raise NotImplementedError

    def answers(self, phone: PhoneSim) -> list[str]:
        """Acceptable answers (any one, in any wording that contains it)."""
        raise NotImplementedError

    def solve(self, oracle: Oracle) -> None:
        raise NotImplementedError

    def optimal_steps(self) -> int:
        return self.optimal

    # -- what the harness reads ------------------------------------------------------------------
    def status(self, phone: PhoneSim) -> dict[str, Any]:
        """{"done", "success"}: done once the agent ended it (status or answer) or succeeded."""
        said, answer = phone.agent_status, phone.agent_answer
        ended = said is not None or answer is not None
        if self.kind == "infeasible":
            success = said == "infeasible"
        elif self.kind == "answer":
            success = answer is not None and answer_matches(answer, self.answers(phone))
        else:
            success = said != "infeasible" and self.succeeded(phone)
        return {"done": ended or success, "success": bool(success)}

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {"name": cls.__name__, "app": cls.app, "apps": list(cls.apps or (cls.app,)),
                "difficulty": cls.difficulty, "kind": cls.kind, "phrasings": len(cls.goals),
                "optimal_steps": cls.optimal}

    def describe_instance(self) -> dict[str, Any]:
        return {**self.describe(), "goal": self.goal, "seed": self.seed, "optimal_steps": self.optimal_steps(),
                "params": {k: v for k, v in self.params.items() if isinstance(v, (str, int, float, bool))}}


def templates() -> dict[str, type[Task]]:
    return dict(sorted(_TEMPLATES.items()))


def normalize(text: str) -> str:
    """Lower case, letters and digits only: '+1 555-0100' and '15550100' compare equal."""
    return re.sub(r"[^0-9a-z]", "", text.casefold())


def answer_matches(answer: str, accepted: list[str]) -> bool:
    """True when the answer holds one accepted answer and is not a shotgun list of guesses."""
    said = normalize(answer)
    return any((want := normalize(a)) and want in said and len(said) <= 3 * len(want) + 30 for a in accepted)


def time_answers(hour: int, minute: int) -> list[str]:
    """Ways to say a clock time: '7:30 PM', '19:30', '7:30pm'."""
    twelve = (hour % 12) or 12
    suffix = "am" if hour < 12 else "pm"
    said = [f"{twelve}:{minute:02d} {suffix}", f"{hour:02d}:{minute:02d}"]
    return said + ([f"{twelve}:{minute:02d}"] if hour < 12 else [])  # a bare morning time is unambiguous enough
