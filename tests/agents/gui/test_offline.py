"""The offline default: a policy, not a script. It reaches the phone only through PhoneDevice, runs
with the MiniLM embedder or its lexical stand-in, and solves easy suite tasks with either."""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from agents.embed import Embedder, lexical_vector
from agents.gui.agent import AgentConfig, GuiAgent
from agents.gui.backends.offline import OfflineBackend, read_goal
from sims.phone.phone import PhoneSim
from sims.phone.tasks import make_task

AGENT = Path(__file__).resolve().parents[3] / "agents" / "gui"


def test_the_agent_imports_no_device_and_no_simulator():
    """Only the evaluation driver (evaluate.py, which checks task files) may know the simulator."""
    for path in AGENT.rglob("*.py"):
        if path.name == "evaluate.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.split(".")[0] in ("sims", "devices") for n in names), f"{path} imports {names}"


def test_the_offline_text_model_loads_without_a_network():
    embedder = Embedder("minilm")
    assert embedder.name == "all-MiniLM-L6-v2" and embedder.dim == 384
    scores = embedder.similarity("turn off wireless internet", ["Wi-Fi", "Alarm", "Contacts"])
    assert int(np.argmax(scores)) == 0


def test_the_lexical_stand_in_meets_shared_words():
    embedder = Embedder("lexical")
    assert embedder.name == "lexical"
    scores = embedder.similarity("delete the note Groceries", ["Groceries", "Battery", "Airplane mode"])
    assert int(np.argmax(scores)) == 0
    assert np.linalg.norm(lexical_vector("anything at all")) == pytest.approx(1.0)


@pytest.mark.parametrize("embedder", ["minilm", "lexical"])
@pytest.mark.parametrize("template", ["SettingsBluetooth", "ClockDisableAlarm", "SettingsBatteryAnswer"])
def test_easy_tasks_are_solved_with_either_embedder(embedder, template):
    phone = PhoneSim(1)
    task = make_task(template, phone, seed=1)
    result = GuiAgent(OfflineBackend(Embedder(embedder)), AgentConfig(max_steps=15)).run(phone, task.goal)
    assert task.status(phone)["success"], [s.action for s in result.steps]


def test_the_goal_is_read_for_values_not_for_task_names():
    facts = read_goal('Add a contact named Ada Lovelace with the number +1 555-0100.')
    assert facts.creates and not facts.question
    assert {(v.text, v.kind) for v in facts.values} >= {("Ada Lovelace", "name"), ("+1 555-0100", "phone")}
    facts = read_goal("Set an alarm for 7:45 PM.")
    assert facts.hour_minute == (19, 45)
    facts = read_goal("Turn off Wi-Fi and Bluetooth, but leave airplane mode on.")
    assert facts.polarity is False and facts.targets == ["Wi-Fi", "Bluetooth"]
    assert read_goal("What time is my first alarm?").question


@pytest.mark.parametrize("goal, polarity", [
    ("Switch on the Wi-Fi.", True), ("Turn on airplane mode", True), ("Switch Bluetooth on for me", True),
    ("Set dark mode on.", True), ("I want Wi-Fi on on my phone.", True), ("Turn Wi-Fi off.", False),
    ("Which alarm is the earliest one that is switched on?", None),         # a question sets nothing
    ("Add an event Dentist on Friday at 3:00 PM.", None), ("Put Tokyo on my world clock list.", None),
    ('Create a note titled "Plans" that says "call mom on Sunday".', None),  # quoted text switches nothing
])
def test_on_and_off_are_read_as_states_not_prepositions(goal, polarity):
    assert read_goal(goal).polarity is polarity
