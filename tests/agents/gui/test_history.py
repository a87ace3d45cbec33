"""History as the agent gives it to the model: old screenshots dropped, every action kept as an
anchor with its effect, reflection notes after no-effect steps, loops broken, bad replies retried."""
from __future__ import annotations

import json

import numpy as np
import pytest

from agents.gui.agent import AgentConfig, GuiAgent
from agents.gui.history import History, summarize
from control.phone.action import JSONAction
from sims.phone.phone import PhoneSim

OPEN_SETTINGS = '{"action_type": "open_app", "app_name": "Settings"}'
HOME = '{"action_type": "navigate_home"}'
OPEN_NOTES = '{"action_type": "open_app", "app_name": "Notes"}'
BLANK_TAP = '{"action_type": "click", "x": 540, "y": 1100}'     # empty space on the home screen
DONE = '{"action_type": "status", "goal_status": "complete"}'


def run(backend, *, k: int = 1, compress: bool = True, steps: int = 10, recorder=None):
    agent = GuiAgent(backend, AgentConfig(max_steps=steps, history_screens=k, compress_history=compress))
    return agent.run(PhoneSim(0), "Look around the phone.", recorder=recorder)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_screenshots_older_than_k_never_reach_the_model(scripted, keeping, k):
    backend = scripted([OPEN_SETTINGS, HOME, OPEN_NOTES, HOME, OPEN_SETTINGS, DONE])
    run(backend, k=k, recorder=keeping)
    assert len(backend.prompts) == 6
    for n, prompt in enumerate(backend.prompts):            # prompt n is built before step n + 1
        expected = keeping.shots[max(0, n + 1 - k):n + 1]    # the last k screens, the current one last
        assert len(prompt.images) == len(expected) == min(n + 1, k)
        assert all(np.array_equal(a, b) for a, b in zip(prompt.images, expected))


def test_every_past_action_reaches_the_model_as_an_anchor(scripted):
    replies = [OPEN_SETTINGS, HOME, OPEN_NOTES, HOME, DONE]
    backend = scripted(replies)
    run(backend)
    last = backend.prompts[-1].text
    for number, reply in enumerate(replies[:-1], 1):
        action = JSONAction.from_dict(json.loads(reply))
        assert f"Step {number}: {action.to_json()} -> After it" in last
    assert "the app changed from nexuslauncher to settings" in last


def test_uncompressed_history_gives_every_screen(scripted):
    backend = scripted([OPEN_SETTINGS, HOME, OPEN_NOTES, DONE])
    run(backend, compress=False)
    assert [len(p.images) for p in backend.prompts] == [1, 2, 3, 4]
    assert "Screen before it:" in backend.prompts[-1].text
    assert len(backend.prompts[-1].text) > 2 * len(backend.prompts[-1].text.split("Screen before it:")[0])


def test_a_no_effect_action_gets_a_reflection_note(scripted, keeping):
    backend = scripted([BLANK_TAP, OPEN_SETTINGS, DONE])
    run(backend, recorder=keeping)
    assert "had no visible effect; do not repeat it" in keeping.steps[0].reflection
    assert "Note: tapped (540, 1100) had no visible effect" in backend.prompts[1].text
    assert keeping.steps[1].reflection == ""                 # opening an app did something


def test_a_loop_of_identical_no_effect_actions_is_broken(scripted, keeping):
    backend = scripted([BLANK_TAP] * 6, then=DONE)
    result = run(backend, recorder=keeping, steps=8)
    taken = [s.action for s in keeping.steps]
    assert taken[:2] == [json.loads(BLANK_TAP)] * 2
    assert keeping.steps[2].loop_broken and taken[2] != json.loads(BLANK_TAP)
    assert "You are repeating" in backend.prompts[2].text
    assert sum(s.loop_broken for s in keeping.steps) >= 1 and result.status == "complete"


def test_a_switch_flip_is_summarised_by_what_it_is_about():
    phone = PhoneSim(0)
    phone.act(JSONAction("open_app", app_name="Settings"))
    before = phone.observe()
    network = next(i for i, e in enumerate(before.elements) if e.text == "Network & internet")
    phone.act(JSONAction("click", index=network))
    page = phone.observe()
    switch = next(i for i, e in enumerate(page.elements) if e.checkable and e.content_desc == "Wi-Fi")
    now = "off" if page.elements[switch].checked else "on"
    phone.act(JSONAction("click", index=switch))
    summary, effect = summarize(page, phone.observe(), JSONAction("click", index=switch))
    assert effect and f"'Wi-Fi' is now {now}" in summary


def test_unparseable_replies_are_retried_once_then_recorded_as_a_failed_step(scripted, keeping):
    backend = scripted(["I would tap Settings.", "Settings, I said.", OPEN_SETTINGS, DONE])
    result = run(backend, recorder=keeping)
    first = keeping.steps[0]
    assert first.retried and first.action is None and "unparseable reply" in first.error
    assert "--- retry ---" in first.raw
    assert backend.prompts[1].correction and "no JSON action found" in backend.prompts[1].correction
    assert "That step failed" in backend.prompts[2].text          # the history tells the model
    assert keeping.steps[1].action["app_name"] == "Settings" and result.status == "complete"


def test_an_action_the_phone_refuses_is_a_failed_step_not_a_crash(scripted, keeping):
    backend = scripted(['{"action_type": "click", "index": 999}', DONE])
    result = run(backend, recorder=keeping)
    assert "the phone refused" in keeping.steps[0].error and result.status == "complete"


def test_episodes_end_on_answer_and_at_the_step_limit(scripted):
    answered = run(scripted(['{"action_type": "answer", "text": "83%"}']))
    assert (answered.status, answered.answer, answered.actions) == ("answered", "83%", 1)
    limited = run(scripted([], then='{"action_type": "wait"}'), steps=3)
    assert (limited.status, limited.actions) == ("step_limit", 3)


def test_history_keeps_at_most_k_minus_one_earlier_screens():
    history = History(screens=2)
    phone = PhoneSim(0)
    for app in ("Settings", "Notes", "Clock"):
        before = phone.observe()
        phone.act(JSONAction("open_app", app_name=app))
        history.add(before, phone.observe(), JSONAction("open_app", app_name=app))
    assert len(history.previous_screens()) == 1 and len(history.lines()) == 3
