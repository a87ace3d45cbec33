"""The history-aware GUI agent: observe, build the model's input, ask the model, parse, act, record.

    agent = GuiAgent(make_backend("offline"))
    result = agent.run(RemotePhone("sim:phone-0"), "Turn Wi-Fi off.", recorder=recorder)

It reaches phones only through the `PhoneDevice` interface and never imports a device or the
simulator. An episode ends on `status` (complete or infeasible), on `answer`, or at `max_steps`.
A reply that does not parse gets one corrective retry; if that fails too, the step is recorded as
failed (and counts), never a crash. An action the phone refuses is recorded the same way, and the
history tells the model what went wrong.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from agents.gui.backends import Backend, BackendError, Memory, StepContext
from agents.gui.history import (
    History,
    acted_on,
    describe_action,
    element_name,
    field_name,
    relative_point,
    screen_labels,
)
from agents.gui.parse import Frame, ParseError, parse
from agents.gui.prompts import PROMPT_VERSION, Prompt, model_image_size, prompt_tokens, template
from control.phone.action import InvalidAction, JSONAction
from control.phone.device import DeviceError, PhoneDevice
from control.phone.gestures import resolve
from control.phone.observation import Observation


@dataclass
class AgentConfig:
    max_steps: int = 25
    history_screens: int = 1           # screenshots of the last k steps in the input, the current one included
    compress_history: bool = True      # False: every past screenshot and element list (for comparison)
    coordinates: str = "resized"       # how UI-TARS-style replies give points: relative, resized or screen
    max_elements: int = 120            # element lines in the prompt


@dataclass
class Step:
    """One step as recorded: what the agent saw, asked, got, did and what that changed."""

    step: int
    package: str
    activity: str
    elements: int
    screen_size: list[int]
    labels: list[str]                       # what the screen said (its element labels, keyboard left out)
    fields: dict[str, str]                  # its text fields: hint (or id) -> what they read
    prompt_chars: int
    prompt_tokens: int
    images: int
    raw: str
    reasoning: str = ""
    action: dict[str, Any] | None = None
    target: str = ""                        # the label of the element acted on, if any
    point: list[int] | None = None          # where a tap landed (screen pixels), for drawing
    at: list[float] | None = None           # ... and where within the element it landed on (0..1 across, down)
    path: list[list[int]] | None = None     # a drag's start and end
    summary: str = ""
    reflection: str = ""
    error: str = ""
    retried: bool = False
    loop_broken: bool = False
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class EpisodeResult:
    goal: str
    status: str                       # complete, infeasible, answered, step_limit, failed
    answer: str | None
    steps: list[Step]
    seconds: float
    final_labels: list[str] = field(default_factory=list)    # what the last screen said
    final_fields: dict[str, str] = field(default_factory=dict)

    @property
    def actions(self) -> int:
        return len(self.steps)


class GuiAgent:
    def __init__(self, backend: Backend, config: AgentConfig | None = None) -> None:
        self.backend = backend
        self.config = config or AgentConfig()

    def run(self, device: PhoneDevice, goal: str, *, recorder: Any = None,
            memories: list[Memory] | None = None) -> EpisodeResult:
        config = self.config
        history = History(screens=config.history_screens)
        past: list[Observation] = []            # kept only when history is not compressed
        steps: list[Step] = []
        started = time.perf_counter()
        t0 = time.perf_counter()
        observation = device.observe()
        observe_s = time.perf_counter() - t0
        status, answer = "step_limit", None
        for number in range(1, config.max_steps + 1):
            context = StepContext(goal, observation, history, number, config.max_steps, list(memories or []),
                                  avoid=[stuck] if (stuck := history.stuck_on()) is not None else [])
            t0 = time.perf_counter()
            prompt = self.build_prompt(context, past)
            build_s = time.perf_counter() - t0
            step = Step(number, observation.package, observation.activity, len(observation.elements),
                        list(observation.screen_size), screen_labels(observation), screen_fields(observation),
                        prompt.chars,
                        prompt_tokens(prompt), len(prompt.images), raw="")
            step.seconds = {"observe": observe_s, "build": build_s}
            action = self._decide(context, prompt, observation, step)
            if action is not None and context.avoid and action == context.avoid[0]:
                action, step.loop_broken = self._break_loop(observation, action), True
            before = observation
            if action is not None:
                t0 = time.perf_counter()
                try:
                    device.act(action)
                except (InvalidAction, DeviceError) as exc:
                    step.error = f"the phone refused {action.to_json()}: {exc}"
                    history.add_failure(action, str(exc))
                    action = None
                step.seconds["act"] = time.perf_counter() - t0
            else:
                history.add_failure(None, step.error)
            t0 = time.perf_counter()
            observation = device.observe()
            observe_s = step.seconds["observe_after"] = time.perf_counter() - t0
            if action is not None:
                step.action = action.as_dict()
                self._geometry(step, action, before)
                anchor = history.add(before, observation, action)
                step.summary, step.reflection = anchor.summary, anchor.reflection
                if not config.compress_history:
                    past.append(before)
            steps.append(step)
            if recorder is not None:
                recorder.step(step, before.screenshot)
            if action is not None and action.action_type == "status":
                status = action.goal_status
                break
            if action is not None and action.action_type == "answer":
                status, answer = "answered", action.text
                break
        result = EpisodeResult(goal, status, answer, steps, time.perf_counter() - started,
                               screen_labels(observation), screen_fields(observation))
        if recorder is not None:
            recorder.finish(result, observation.screenshot)
        return result

    # -- one step --------------------------------------------------------------------------------
    def build_prompt(self, context: StepContext, past: list[Observation]) -> Prompt:
        """The model's input: the step template with goal, history, notes, memories and elements;
        screenshots of the last k steps (or, uncompressed, of every step and every element list)."""
        obs = context.observation
        history = context.history
        lines = history.lines() or ["(nothing yet)"]
        if past:   # uncompressed: every earlier screen's element list beside its step
            lines = [f"{line}\n  Screen before it:\n" + _indent(before.describe(self.config.max_elements))
                     for line, before in zip(lines, past)]
        notes = [a.reflection for a in history.anchors[-2:] if a.reflection]
        if context.avoid:
            notes.append(f"You are repeating {context.avoid[0].to_json()} with no effect: do something else.")
        memories = ""
        if context.memories:
            memories = template("memories").substitute(memories="\n".join(m.text() for m in context.memories))
        text = template("step").substitute(
            goal=context.goal, memories=memories, history="\n".join(lines),
            notes="\n".join(f"Note: {n}" for n in notes), app=obs.package or "?", activity=obs.activity or "?",
            elements=obs.describe(self.config.max_elements) or "(no elements)", step=context.step,
            max_steps=context.max_steps)
        images = [before.screenshot for before in past] if past else history.previous_screens()
        return Prompt(template("system").template, text, [*images, obs.screenshot])

    def _decide(self, context: StepContext, prompt: Prompt, observation: Observation, step: Step) -> JSONAction | None:
        frame = Frame(observation.screen_size, model_image_size(*observation.screenshot_size), self.config.coordinates)
        for attempt in (1, 2):
            t0 = time.perf_counter()
            try:
                reply = self.backend.reply(context, prompt)
            except BackendError as exc:
                step.error = f"the model failed: {exc}"
                step.seconds["model"] = time.perf_counter() - t0
                return None
            step.seconds["model"] = step.seconds.get("model", 0.0) + time.perf_counter() - t0
            step.raw += ("\n--- retry ---\n" if attempt == 2 else "") + reply.text
            try:
                parsed = parse(reply.text, frame)
                step.reasoning = parsed.reasoning
                return parsed.action
            except ParseError as exc:
                step.error = f"unparseable reply: {exc}"
                if attempt == 1:
                    step.retried = True
                    prompt = Prompt(prompt.system, prompt.text, prompt.images,
                                    correction=template("correction").substitute(error=str(exc)))
        return None

    def _break_loop(self, observation: Observation, repeated: JSONAction) -> JSONAction:
        """The model insists on an action that keeps doing nothing: do something else instead."""
        if any(e.scrollable for e in observation.elements) and repeated.action_type != "scroll":
            return JSONAction("scroll", direction="down")
        return JSONAction("navigate_back")

    @staticmethod
    def _geometry(step: Step, action: JSONAction, before: Observation) -> None:
        """Where the gesture landed, and the label of the element it landed on (the smallest one
        holding the point), for the record and for memories."""
        element = acted_on(before, action)
        if element is not None:
            step.target = element_name(element)
        try:
            gesture = resolve(action, before)
        except InvalidAction:
            return
        if gesture.point is not None:
            step.point = list(gesture.point)
            if action.index is None and element is not None:     # a tap by point: where within the element
                step.at = relative_point(element, *gesture.point)
        if gesture.path is not None:
            step.path = [list(gesture.path[0]), list(gesture.path[1])]


def screen_fields(observation: Observation) -> dict[str, str]:
    """A screen's text fields: what each is for (hint, else id) -> what it reads."""
    return {field_name(e): e.text for e in observation.elements if e.editable}


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def step_record(step: Step) -> dict[str, Any]:
    return asdict(step)


__all__ = ["PROMPT_VERSION", "AgentConfig", "EpisodeResult", "GuiAgent", "Step", "describe_action", "step_record"]
