"""Shared by the GUI-agent tests: a scripted model (a test double for a chat model: it replies
from a list and keeps every prompt it was given) and a recorder that keeps what the agent records."""
from __future__ import annotations

import pytest

from agents.gui.backends import Backend, Reply


class ScriptedBackend(Backend):
    name = "scripted"

    def __init__(self, replies: list[str], then: str = '{"action_type": "wait"}') -> None:
        self.replies, self.then = list(replies), then
        self.prompts = []

    def reply(self, context, prompt) -> Reply:
        self.prompts.append(prompt)
        return Reply(self.replies.pop(0) if self.replies else self.then)


class KeepingRecorder:
    def __init__(self) -> None:
        self.steps, self.shots, self.result = [], [], None

    def step(self, step, screenshot) -> None:
        self.steps.append(step)
        self.shots.append(screenshot)

    def finish(self, result, screenshot) -> None:
        self.result = result


@pytest.fixture
def scripted():
    return ScriptedBackend


@pytest.fixture
def keeping():
    return KeepingRecorder()
