"""The phone task suite: parameterised templates over the six apps (sims/phone/tasks/*.py).

    make_task("ContactsAddContact", phone, seed=3)   # parameters drawn from seed 3, set up on phone
    custom_task({"template": ..., "params": {...}, "goal": "..."}, phone)
    load_task_file("my_tasks.toml")                  # user-defined goals, no code

A task file (TOML or JSON) lists tasks by template, with parameters (any not given are drawn from
the seed) and, optionally, the goal in your own words, with {parameters} filled in:

    [[tasks]]
    template = "ContactsAddContact"
    params = { first = "Ada", last = "Lovelace", phone = "+1 555-0100" }
    goal = "Save {first} {last}'s number, {phone}, in my contacts"
"""
from __future__ import annotations

import json
import random
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sims.phone.tasks import calendar, clock, contacts, messages, notes, settings  # noqa: F401 (registers)
from sims.phone.tasks.base import Task, TaskError, templates

if TYPE_CHECKING:
    from sims.phone.phone import PhoneSim

__all__ = ["Task", "TaskError", "custom_task", "load_task_file", "make_task", "registry"]


def registry() -> dict[str, type[Task]]:
    """Every template by name."""
    return templates()


def _template(name: str) -> type[Task]:
    found = registry().get(name)
    if found is None:
        raise TaskError(f"no task template {name!r}; there are {len(registry())}: {', '.join(registry())}")
    return found


def make_task(name: str, phone: PhoneSim, *, seed: int = 0, phrasing: int | None = None) -> Task:
    """Template `name` with parameters drawn from `seed`, set up on `phone` (restore it to a seed first)."""
    template = _template(name)
    rng = random.Random(f"{name}/{seed}")
    params = template.derive(phone, template.draw(phone, rng))
    if phrasing is None:
        phrasing = rng.randrange(len(template.goals))
    if not 0 <= phrasing < len(template.goals):
        raise TaskError(f"{name} has {len(template.goals)} phrasings; there is no phrasing {phrasing}")
    task = template(params, template.goals[phrasing].format(**params), seed)
    task.setup(phone)
    return task


def custom_task(spec: dict[str, Any], phone: PhoneSim, *, seed: int = 0) -> Task:
    """A user-defined task: {"template", "params" (optional), "goal" (optional)}."""
    if not isinstance(spec, dict) or not isinstance(spec.get("template"), str):
        raise TaskError(f"a task needs a 'template' name, got {spec!r}")
    unknown = set(spec) - {"template", "params", "goal"}
    if unknown:
        raise TaskError(f"task fields are template, params and goal; not {', '.join(sorted(unknown))}")
    template = _template(spec["template"])
    inputs = template.draw(phone, random.Random(f"{template.__name__}/{seed}"))
    given = spec.get("params") or {}
    if not isinstance(given, dict):
        raise TaskError(f"{template.__name__}: 'params' must be a table of parameters")
    for key, value in given.items():
        if key not in inputs:
            raise TaskError(f"{template.__name__} has no parameter {key!r}; it takes {', '.join(inputs) or 'none'}")
        if type(value) is not type(inputs[key]):
            raise TaskError(f"{template.__name__}: parameter {key!r} must be a {type(inputs[key]).__name__}, "
                            f"got {value!r}")
    params = template.derive(phone, {**inputs, **given})   # the goal's words follow the inputs given
    goal = spec.get("goal") or template.goals[0]
    try:
        goal = goal.format(**params)
    except (KeyError, IndexError, ValueError) as exc:
        raise TaskError(f"{template.__name__}: the goal {goal!r} names an unknown parameter ({exc}); "
                        f"parameters are {', '.join(params)}") from None
    task = template(params, goal, seed)
    task.setup(phone)
    return task


def load_task_file(path: str | Path) -> list[dict[str, Any]]:
    """The task specs of a TOML or JSON task file, checked against the templates."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise TaskError(f"{path}: cannot read the task file ({exc.strerror})") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TaskError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'TOML'}: {exc}") from None
    tasks = data.get("tasks") if isinstance(data, dict) else None
    if not isinstance(tasks, list) or not tasks:
        raise TaskError(f"{path}: a task file holds a non-empty list 'tasks' ([[tasks]] in TOML)")
    for i, spec in enumerate(tasks):
        if not isinstance(spec, dict) or spec.get("template") not in registry():
            name = spec.get("template") if isinstance(spec, dict) else spec
            raise TaskError(f"{path}: tasks[{i}] names no known template ({name!r})")
    return tasks
