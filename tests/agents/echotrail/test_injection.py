"""Memory injection: the agent learns from its own stored successes. In process, on the phone
simulator through PhoneDevice: a task the offline agent fails alone is solved, on an instance never
stored (other parameters, another phrasing), once the critic-approved trajectories of training
instances are recalled; and memories of another kind of task, or loose ones nothing confirms, are
not followed."""
from __future__ import annotations

import pytest

from agents.echotrail.memory import EchoTrail
from agents.echotrail.store import MemoryStore
from agents.gui.agent import AgentConfig, GuiAgent
from agents.gui.backends import Memory
from agents.gui.backends.offline import OfflineBackend, trusted_memories
from sims.phone.phone import PhoneSim
from sims.phone.tasks import make_task, registry

UNSEEN = 1000        # the evaluation seed: parameters no training instance had


def _run(template: str, seed: int, phrasing: int, memory: EchoTrail | None):
    phone = PhoneSim(seed)
    task = make_task(template, phone, seed=seed, phrasing=phrasing)
    memories = memory.recall(task.goal) if memory else []
    result = GuiAgent(OfflineBackend(), AgentConfig(max_steps=15)).run(phone, task.goal, memories=memories)
    return task, result, memories, bool(task.status(phone)["success"])


@pytest.mark.parametrize("template", ["ClockStartStopwatch"])
def test_stored_successes_solve_an_unseen_instance_the_agent_fails_alone(tmp_path, template):
    last = len(registry()[template].goals) - 1
    _, alone, _, solved_alone = _run(template, UNSEEN, last, None)
    assert not solved_alone, f"the baseline already solves {template}: pick a task memory has to teach"
    memory = EchoTrail(MemoryStore(tmp_path / "memory.db"))
    stored = []
    for seed in (0, 1):                                    # training instances, other phrasings
        task, result, _, _ = _run(template, seed, seed % last, memory)
        verdict = memory.remember(task.goal, result, provenance="task", source=f"{template}/s{seed}")
        stored += [verdict["id"]] if verdict["accepted"] else []
    assert stored, "the critic accepted no training episode"
    task, result, memories, solved = _run(template, UNSEEN, last, memory)
    assert memories and task.goal not in [m.task for m in memories]     # recalled, and never this instance
    assert solved, [s.action for s in result.steps]
    assert result.actions <= alone.actions


def _memory(task: str, app: str, relevance: float, path: list[tuple[str, str, str]]) -> Memory:
    return Memory(task=task, app=app, relevance=relevance,
                  steps=[{"screen": s, "action": a, "target": t, "effect": ""} for s, a, t in path])


ALARM_PATH = [("deskclock/DeskClock", "click", "Add alarm"), ("deskclock/DeskClock", "click", "OK")]


def test_memories_of_another_kind_of_task_are_not_followed():
    adds = [_memory("Set an alarm for 7:40 PM.", "Clock", 0.9, ALARM_PATH),
            _memory("Set an alarm for 5:10 AM.", "Clock", 0.9, ALARM_PATH)]
    assert trusted_memories(adds, "Delete the 8:30 PM alarm.") == []
    assert trusted_memories(adds, "Wake me at 6:15 AM.") == adds


def test_a_loose_memory_is_followed_only_when_a_second_one_confirms_its_path():
    loose = _memory("Start a 5-minute timer.", "Clock", 0.3, [("deskclock/DeskClock", "click", "Timer"),
                                                               ("deskclock/DeskClock", "click", "Start")])
    assert trusted_memories([loose], "Time 30 minutes for me.") == []
    other = _memory("Set a timer for 8 minutes and start it.", "Clock", 0.25,
                    [("deskclock/DeskClock", "click", "Timer"), ("deskclock/DeskClock", "click", "Start")])
    elsewhere = _memory("Turn dark theme on.", "Settings", 0.3, [("settings/Display", "click", "Dark theme")])
    assert trusted_memories([loose, elsewhere, other], "Time 30 minutes for me.") == [loose, other]
    too_far = _memory("Start a 9-minute timer.", "Clock", 0.05,
                      [("deskclock/DeskClock", "click", "Timer"), ("deskclock/DeskClock", "click", "Start")])
    assert too_far not in trusted_memories([loose, too_far], "Time 30 minutes for me.")


def test_a_remembered_tap_on_a_slider_is_replayed_mirrored_for_the_other_end():
    """The offline agent has no rule for where on a slider to tap; a memory of setting it all the
    way up teaches all the way down too (the same place, mirrored across the slider)."""
    route = [{"screen": "nexuslauncher/NexusLauncher", "action": "open_app", "text": "Settings", "target": ""},
             {"screen": "settings/Settings", "action": "click", "target": "Dark theme, brightness"},
             {"screen": "settings/DisplaySettings", "action": "click", "target": "Brightness level",
              "at": [0.999, 0.5]},
             {"screen": "settings/DisplaySettings", "action": "status", "text": "complete"}]
    remembered = Memory(task="Set Brightness level to its maximum.", app="Settings", steps=route)
    seed = next(s for s in range(UNSEEN, UNSEEN + 20)
                if not make_task("SettingsBrightness", PhoneSim(s), seed=s).params["high"])
    outcomes = {}
    for memories in ([], [remembered]):
        phone = PhoneSim(seed)
        task = make_task("SettingsBrightness", phone, seed=seed, phrasing=2)     # "... as dim as it goes."
        result = GuiAgent(OfflineBackend(), AgentConfig(max_steps=15)).run(phone, task.goal, memories=memories)
        outcomes[bool(memories)] = (task.status(phone)["success"], phone.app("settings").brightness, result.steps)
    assert not outcomes[False][0], "the agent sets a slider alone: pick a skill memory has to teach"
    solved, level, steps = outcomes[True]
    assert solved and level <= 0.05 and steps[-2].at[0] < 0.05, [(s.action, s.target, s.at) for s in steps]
