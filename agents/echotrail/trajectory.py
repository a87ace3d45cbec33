"""Abstracted trajectories: what a memory keeps of an episode. Not screenshots: the task's intent,
the app, and per step the screen (app and screen name), the action on a described element, and
its effect. Values the goal supplied (a name typed, a contact tapped) are marked as slots, so a
memory of "add Ada Lovelace" guides "add Alan Turing".

`Trajectory` is also the wire format of the memory service, so it is validated strictly: every
field bounded, nothing unknown accepted.
"""
from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_serializer

from agents.gui.history import screen_name
from control.errors import PodiumError

MAX_STEPS = 100
Outcome = Literal["complete", "answered", "infeasible"]
Provenance = Literal["explored", "task"]


class TrajectoryError(PodiumError, ValueError):
    """A trajectory that cannot be stored; the message names the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class MemoryStep(_Strict):
    screen: str = Field(max_length=300)                 # "settings/NetworkDashboard"
    action: str = Field(max_length=32)                  # the JSONAction's action_type
    target: str = Field("", max_length=300)             # the element acted on, described
    text: str = Field("", max_length=1000)              # what was typed, answered or opened
    slot: str = Field("", max_length=32)                # the goal value's kind, where target/text is one
    effect: str = Field("", max_length=1000)
    # where within the target a tap by point landed (0..1 across, down): a slider set near its end
    at: tuple[Annotated[float, Field(ge=0, le=1)], Annotated[float, Field(ge=0, le=1)]] | None = None

    @model_serializer(mode="wrap")
    def _without_no_point(self, handler: Any) -> dict[str, Any]:
        """`at` only where a tap had a point: every other step dumps (and hashes, for the store's
        duplicate check) exactly as before the field existed."""
        data = handler(self)
        if data.get("at") is None:
            data.pop("at", None)
        return data


class Scores(_Strict):
    completion: float = Field(ge=0, le=1)
    coherence: float = Field(ge=0, le=1)
    efficiency: float = Field(ge=0, le=1)

    @property
    def total(self) -> float:
        return round(0.6 * self.completion + 0.2 * self.coherence + 0.2 * self.efficiency, 4)


class Trajectory(_Strict):
    intent: str = Field(min_length=1, max_length=500)
    app: str = Field("", max_length=200)
    steps: list[MemoryStep] = Field(min_length=1, max_length=MAX_STEPS)
    outcome: Outcome
    answer: str | None = Field(None, max_length=1000)
    scores: Scores
    provenance: Provenance
    source: str = Field("", max_length=200)            # e.g. "ContactsAddContact/s3" or "explorer-0"
    # finite (inf would export as null) and before the year 10,000 (what a date can show)
    created: float = Field(default_factory=time.time, ge=0, le=253_402_300_799, allow_inf_nan=False)

    @classmethod
    def parse(cls, data: Any) -> Trajectory:
        """A Trajectory from untrusted data, or TrajectoryError naming what is wrong."""
        if isinstance(data, Trajectory):
            return data
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "trajectory"
            raise TrajectoryError(f"bad trajectory: {where}: {first['msg']} "
                                  f"({exc.error_count()} problem{'s' if exc.error_count() > 1 else ''})") from None

    def text(self) -> str:
        """The searchable text: intent, app and each step's target, typed text and effect."""
        parts = [self.intent, self.app]
        for step in self.steps:
            parts += [step.action, step.target, step.text if not step.slot else "", step.effect]
        return " ".join(p for p in parts if p)


def abstract(goal: str, steps: list[dict[str, Any]], values: list[str] | None = None) -> list[MemoryStep]:
    """Memory steps from an agent's recorded steps (agents.gui.agent.Step as dicts). Steps that
    failed are dropped (a memory shows what worked); goal values become slots."""
    values = [v for v in (values or []) if v]
    out = []
    for step in steps:
        action = step.get("action")
        if not action:
            continue
        kind = action.get("action_type", "")
        text = action.get("text") or action.get("app_name") or action.get("goal_status") or \
            action.get("direction") or ""
        target = step.get("target") or ""
        slot = _slot(target, text, values, goal)
        out.append(MemoryStep(screen=screen_name(step.get("package", ""), step.get("activity", "")), action=kind,
                              target=target[:300], text=str(text)[:1000], slot=slot,
                              effect=_effect(step.get("summary", ""))[:1000], at=step.get("at")))
    return out


def _slot(target: str, text: str, values: list[str], goal: str) -> str:
    folded = goal.casefold()
    label = target
    if label.isdigit() and any(ch.isdigit() for ch in goal):
        return "value"      # a keypad digit is data the goal gave (a timer's minutes), not a way to go
    if text and (text in values or text.casefold() in folded):
        return "value"
    if label and any(v.casefold() in label.casefold() or label.casefold() in v.casefold() for v in values):
        return "value"
    return ""


def _effect(summary: str) -> str:
    """The effect part of a step summary ('After it tapped ...: the screen changed to X.')."""
    return summary.split(": ", 1)[1] if summary.startswith("After it") and ": " in summary else summary


def from_episode(goal: str, steps: list[dict[str, Any]], *, status: str, answer: str | None, scores: Scores,
                 provenance: str, source: str = "") -> Trajectory:
    """The trajectory to store for an episode that ended by `status` (complete, answered, infeasible)."""
    from agents.gui.goal import read_goal

    facts = read_goal(goal)
    values = [v.text for v in facts.values] + facts.names
    memory_steps = abstract(goal, steps, values)
    if not memory_steps:
        raise TrajectoryError("an episode without one action has nothing to remember")
    app = _app_of(steps)
    return Trajectory.parse({"intent": goal, "app": app, "steps": [s.model_dump() for s in memory_steps],
                             "outcome": status, "answer": answer, "scores": scores.model_dump(),
                             "provenance": provenance, "source": source})


def _app_of(steps: list[dict[str, Any]]) -> str:
    """The app the task was done in: the one its last action happened in, by the name it was
    opened with where it was opened by name (the launcher's name), else by its package."""
    acted = [s for s in steps if s.get("action") and "launcher" not in (s.get("package") or "")
             and s["action"].get("action_type") not in ("status", "wait")]          # an answer is read in an app
    if not acted:
        return ""
    package = acted[-1].get("package") or ""
    return app_entered_as(steps, package) or package.rsplit(".", 1)[-1]


def app_entered_as(steps: list[dict[str, Any]], package: str) -> str:
    """The launcher's name of the app `package` was last entered through (opened by name, or tapped
    on the home screen), '' if neither is recorded. Not merely the last app opened by name: an
    episode may open Calendar, wander home and tap Notes."""
    for step, after in zip(reversed(steps[:-1]), reversed(steps[1:])):
        action = step.get("action") or {}
        if after.get("package") != package:
            continue
        if action.get("action_type") == "open_app" and action.get("app_name"):     # from anywhere
            return action["app_name"]
        if "launcher" in (step.get("package") or "") and step.get("target"):      # a tap on the home screen
            return step["target"]
    return ""
