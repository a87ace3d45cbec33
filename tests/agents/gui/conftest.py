"""Shared by the GUI-agent tests: a scripted model (a test double for a chat model: it replies
from a list and keeps every prompt it was given) and a recorder that keeps what the agent records."""
from __future__ import annotations

from pathlib import Path

import pytest

from agents.gui.backends import Backend, Reply
from tests.conftest import podium


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


@pytest.fixture(scope="session")
def tiny_qwen2vl(tmp_path_factory):
    """A folder holding a tiny random Qwen2-VL, as a user's local model folder would."""
    from tests.agents.gui.tiny_vlm import build_tiny_qwen2vl

    return build_tiny_qwen2vl(tmp_path_factory.mktemp("tiny-qwen2-vl"))


@pytest.fixture(scope="session")
def evaluated(tmp_path_factory) -> Path:
    """One `podium eval gui` run: three templates, two seeds, two phone daemons, offline backend."""
    run = tmp_path_factory.mktemp("eval") / "run"
    result = podium("eval", "gui", "--suite", "phone", "--backend", "offline", "--only", "SettingsWifi",
                    "--only", "SettingsBatteryAnswer", "--only", "ContactsDeleteMissingInfeasible", "--seeds", "2",
                    "--daemons", "2", "--max-steps", "12", "--run-dir", str(run), timeout=300)
    assert result.returncode == 0, result.stderr
    return run
