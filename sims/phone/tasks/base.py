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
    `draw` (the inputs, from the phone's content and a seeded rng), `derive` (what follows from the
    inputs, checking them), `setup`, `succeeded` (action tasks) or `expected` (answer tasks), and
    `solve` (the scripted oracle's way through the UI). A task file may set any input, never a
    derived parameter, so the goal's words and the success check always agree."""

    app: ClassVar[str]                       # the app the task starts from
    apps: ClassVar[tuple[str, ...]] = ()     # every app it needs, when more than one
    difficulty: ClassVar[str] = "easy"
    kind: ClassVar[str] = "action"
    goals: ClassVar[tuple[str, ...]]         # phrasings, with {parameters}
    optimal: ClassVar[int]                   # fewest actions, scrolling aside
    answer_kind: ClassVar[str] = "text"      # answer tasks: count, time, phone or text

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
        """The inputs: what a task file may set."""
        return {}

    @classmethod
    def derive(cls, phone: PhoneSim, inputs: dict[str, Any]) -> dict[str, Any]:
        """All parameters: the inputs, checked, and what follows from them (words for the goal)."""
        return dict(inputs)

    def setup(self, phone: PhoneSim) -> None:
        """Make the world what the goal assumes (the harness may touch app state; agents may not)."""

    def succeeded(self, phone: PhoneSim) -> bool:
        raise NotImplementedError

    def expected(self, phone: PhoneSim) -> Any:
        """The right answer: an int (count), (hour, minute) (time), or a string (phone, text)."""
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
            success = answer is not None and answer_matches(answer, self.expected(phone), self.answer_kind)
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


def require(condition: bool, message: str) -> None:
    """A check on a template's inputs; TaskError with `message` when it fails."""
    if not condition:
        raise TaskError(message)


NUMBER_WORDS = {w: n for n, w in enumerate(("zero one two three four five six seven eight nine ten eleven twelve "
                                            "thirteen fourteen fifteen sixteen seventeen eighteen nineteen "
                                            "twenty").split())}
# Words an answer may wrap the right value in ("The model is Pixel 8", "She said: ..."): nothing else.
FILLER = frozenset("""the a an is it its it's was were are this that my your his her their our me i you he she they
    we said says wrote writes texted asked asks message last latest note notes says: reads read of to in on at
    for and with phone model number answer time event events alarm earliest first starts start begins begin
    there there's has have had you've i've contact contacts called named titled percent battery level left
    charge currently now total count dont don't think believe probably asking question about so""".split())


def answer_matches(answer: str, expected: Any, kind: str) -> bool:
    """Whether `answer` states `expected` and nothing that contradicts it: one value of the kind
    asked for (a list of guesses names several and fails), in any wording around it."""
    if kind == "count":
        found = {int(n) for n in re.findall(r"\d+", answer)} | \
            {NUMBER_WORDS[w] for w in re.findall(r"[a-z]+", answer.casefold()) if w in NUMBER_WORDS}
        return found == {expected}
    if kind == "time":
        return _times(answer) in ({expected}, {(expected[0] % 12, expected[1], None)})
    if kind == "phone":
        numbers = {re.sub(r"\D", "", n) for n in re.findall(r"\+?\d[\d ().-]{5,}\d", answer)}
        want = re.sub(r"\D", "", expected)
        return len(numbers) == 1 and (numbers == {want} or numbers.pop()[-10:] == want[-10:])
    said, want = _tokens(answer), _tokens(expected)
    for start in range(len(said) - len(want) + 1):
        if said[start:start + len(want)] == want:
            rest = said[:start] + said[start + len(want):]
            return bool(want) and all(token in FILLER for token in rest)
    return False


def _tokens(text: str) -> list[str]:
    return re.findall(r"[0-9a-z]+", text.casefold())


def _times(text: str) -> set:
    """Times said in `text`: (hour 0..23, minute) when AM/PM or a 24-hour clock settles it, else
    (hour 0..11, minute, None) for a bare '7:30' that may mean morning or evening."""
    found = set()
    for hour, minute, half in re.findall(r"\b(\d{1,2})(?:[:.](\d{2}))?\s*([ap])?\.?m?\b", text.casefold()):
        if not minute and not half:
            continue                     # a lone number is not a time
        h, m = int(hour), int(minute or 0)
        if h > 23 or m > 59:
            continue
        if half:
            found.add(((h % 12) + (12 if half == "p" else 0), m))
        elif h > 12 or h == 0 or hour.startswith("0"):
            found.add((h, m))            # 24-hour clock
        else:
            found.add((h % 12, m, None))
    return found
