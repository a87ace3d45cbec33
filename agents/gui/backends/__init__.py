"""Model backends behind one small interface: a backend turns one step's context (and the prompt
built from it) into the model's reply text.

    offline       no weights: grounds the goal to the screen with a text embedder (the default)
    openai        any OpenAI-compatible chat-completions server (vLLM, Ollama, LM Studio, ...)
    transformers  a Qwen2-VL-family model loaded from a local path
"""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agents.gui.history import History
from agents.gui.prompts import Prompt
from control.errors import PodiumError
from control.phone.action import JSONAction
from control.phone.observation import Observation


class BackendError(PodiumError):
    """The model could not be reached or answered with nothing usable; the message says which."""


@dataclass
class Memory:
    """A past trajectory offered as guidance: its task, app and steps (described, not raw)."""

    task: str
    app: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)   # {"screen", "action", "target", "effect"}
    score: float = 0.0              # the retrieval's rank score
    relevance: float = 1.0          # how close its task is to this goal (cosine of the goal keys; 1: unknown)

    def text(self) -> str:
        lines = [f"Task: {self.task}" + (f" (app: {self.app})" if self.app else "")]
        for i, step in enumerate(self.steps, 1):
            target = f" on '{step['target']}'" if step.get("target") else ""
            if step.get("at"):          # where a tap by point landed within it (a chat model taps there too)
                target += f" at {step['at'][0]:.0%} across, {step['at'][1]:.0%} down"
            lines.append(f"  {i}. {step['action']}{target} -> {step.get('effect', '')}".rstrip(" ->"))
        return "\n".join(lines)


@dataclass
class StepContext:
    """Everything the agent knows at one step."""

    goal: str
    observation: Observation
    history: History
    step: int
    max_steps: int
    memories: list[Memory] = field(default_factory=list)
    avoid: list[JSONAction] = field(default_factory=list)


@dataclass
class Reply:
    text: str
    seconds: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class Backend(ABC):
    """One model. `reply` may raise BackendError; anything else it raises is a bug."""

    name: str = "backend"
    threadsafe: bool = True     # False: one reply at a time (a model in this process's memory)

    @abstractmethod
    def reply(self, context: StepContext, prompt: Prompt) -> Reply: ...

    def close(self) -> None:  # noqa: B027 - most backends hold nothing
        """Release connections or memory."""


def chat_messages(prompt: Prompt, image_part: Callable[[np.ndarray], dict[str, Any]]) -> list[dict[str, Any]]:
    """The prompt as chat messages (the OpenAI shape, which chat templates share): the system text,
    then one user turn of screenshots (oldest first) and the step text, then any correction."""
    content = [image_part(image) for image in prompt.images] + [{"type": "text", "text": prompt.text}]
    if prompt.correction:
        content.append({"type": "text", "text": prompt.correction})
    return [{"role": "system", "content": [{"type": "text", "text": prompt.system}]},
            {"role": "user", "content": content}]


def timed(work) -> tuple[Any, float]:
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start


def make_backend(name: str, **options: Any) -> Backend:
    """A backend by name, configured by keyword options (see each backend's constructor)."""
    if name == "offline":
        from agents.gui.backends.offline import OfflineBackend
        return OfflineBackend(**options)
    if name == "openai":
        from agents.gui.backends.openai import OpenAIBackend
        return OpenAIBackend(**options)
    if name == "transformers":
        from agents.gui.backends.hf import TransformersBackend
        return TransformersBackend(**options)
    raise BackendError(f"unknown backend {name!r}; choose offline, openai or transformers")
