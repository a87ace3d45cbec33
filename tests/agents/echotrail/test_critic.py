"""The critic judges from what the device showed, never from simulator state: real episodes of the
offline agent on the phone simulator, judged and compared with the suite's own success check; hand-made
episodes for the cases a critic must refuse; the model critic with a scripted judge."""
from __future__ import annotations

import ast
from dataclasses import asdict
from pathlib import Path

import pytest

from agents.echotrail.critic import Episode, ModelCritic, OfflineCritic
from agents.gui.agent import AgentConfig, GuiAgent
from agents.gui.backends.offline import OfflineBackend
from sims.phone.phone import PhoneSim
from sims.phone.tasks import make_task

ECHOTRAIL = Path(__file__).resolve().parents[3] / "agents" / "echotrail"


def test_the_critic_and_the_explorer_import_no_simulator_and_no_device():
    for path in ECHOTRAIL.rglob("*.py"):
        if path.name == "experiment.py":     # the experiment reads the suite's checks, to measure the critic
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.split(".")[0] in ("sims", "devices") for n in names), f"{path} imports {names}"


def _episode(template: str, seed: int = 0) -> tuple[Episode, bool]:
    phone = PhoneSim(seed)
    task = make_task(template, phone, seed=seed)
    result = GuiAgent(OfflineBackend(), AgentConfig(max_steps=15)).run(phone, task.goal)
    episode = Episode(task.goal, [asdict(s) for s in result.steps], result.final_labels, result.status,
                      result.answer, result.final_fields)
    return episode, bool(task.status(phone)["success"])


@pytest.mark.parametrize("template", ["SettingsBluetooth", "ContactsAddContact", "ContactsPhoneAnswer",
                                      "ContactsDeleteMissingInfeasible"])
def test_real_successes_of_several_kinds_are_accepted(template):
    episode, success = _episode(template)
    assert success, "the offline agent no longer solves this task: pick another"
    verdict = OfflineCritic().judge(episode)
    assert verdict.accepted, verdict.reasons
    assert verdict.scores.completion == 1.0 and verdict.scores.total >= 0.8


def test_an_episode_that_ran_out_of_steps_is_refused():
    episode, _ = _episode("SettingsBluetooth")
    verdict = OfflineCritic().judge(Episode(episode.goal, episode.steps, episode.final_labels, "step_limit"))
    assert not verdict.accepted and "step_limit" in verdict.reasons[0]


def _step(action: dict, summary: str, *, target: str = "", package: str = "com.android.notes",
          labels: list[str] | None = None, fields: dict | None = None) -> dict:
    return {"action": action, "summary": summary, "target": target, "package": package, "activity": "Main",
            "labels": labels or [], "fields": fields or {}}


LAUNCHER = ["Tuesday, November 24", "Settings", "Contacts", "Messages", "Clock", "Notes", "Calendar"]


def _judge(goal: str, steps: list[dict], status: str, final: list[str], app: str = "Notes", answer: str = ""):
    """The verdict on an episode that opened `app` from the home screen, then took `steps`."""
    home = _step({"action_type": "open_app", "app_name": app}, f"After it opened {app}: the app changed.",
                 package="com.google.android.apps.nexuslauncher", labels=LAUNCHER)
    return OfflineCritic().judge(Episode(goal, [home, *steps], final, status, answer or None))


def test_an_infeasible_claim_is_believed_only_after_a_search_in_the_right_app():
    search = {"action_type": "input_text", "text": "Ada Byron", "index": 1}
    empty = ["No notes found"]
    wrong_app = [_step(search, "After it typed 'Ada Byron' into [1] EditText 'Search notes': the field now reads "
                               "'Ada Byron'.", target="Search notes", labels=["Notes"]),
                 _step({"action_type": "status", "goal_status": "infeasible"}, "", labels=empty)]
    verdict = _judge("Text Ada Byron \"See you at 7\".", wrong_app, "infeasible", empty)
    assert not verdict.accepted and any("looked in Notes" in r for r in verdict.reasons), verdict.reasons
    right = [dict(s, package="com.android.messaging") for s in wrong_app]
    right[0] = dict(right[0], summary=right[0]["summary"].replace("notes", "contacts"))
    verdict = _judge("Text Ada Byron \"See you at 7\".", right, "infeasible", ["No contacts found"], app="Messages")
    assert verdict.scores.completion == 1.0, verdict.reasons


def test_a_rename_done_by_making_a_new_item_is_refused():
    steps = [_step({"action_type": "click", "index": 3}, "After it tapped 'New note': the screen changed to Edit.",
                   target="New note"),
             _step({"action_type": "input_text", "index": 4, "text": "Quotes"},
                   "After it typed 'Quotes' into [4] EditText 'Title': the field 'Title' now reads 'Quotes'.",
                   target="Title", fields={"Title": ""}),
             _step({"action_type": "click", "index": 2}, "After it tapped 'Save note': the screen changed to Main.",
                   target="Save note", fields={"Title": "Quotes"}),
             _step({"action_type": "status", "goal_status": "complete"}, "", labels=["Quotes", "Packing list"])]
    verdict = _judge("Rename my note Packing list to Quotes.", steps, "complete", ["Quotes", "Packing list"])
    assert not verdict.accepted and any("new item" in r for r in verdict.reasons), verdict.reasons


def test_a_count_is_judged_on_the_list_it_was_counted_from():
    listing = ["Contacts", "Ben Garcia", "Bruno Garcia", "Chloe Costa"]
    steps = [_step({"action_type": "answer", "text": "2"}, "After it answered '2': the screen looks the same.",
                   package="com.android.contacts", labels=listing)]
    verdict = _judge("How many of my contacts have the last name Garcia?", steps, "answered", listing,
                     app="Contacts", answer="2")
    assert verdict.scores.completion == 1.0, verdict.reasons       # '2' also appears in the date on the home screen
    elsewhere = ["Contacts", "Chloe Costa", "Diego Baker"]
    verdict = _judge("How many of my contacts have the last name Garcia?",
                     [dict(steps[0], labels=elsewhere)], "answered", elsewhere, app="Contacts",
                     answer="2")
    assert not verdict.accepted


class Judge:
    """A scripted judge: replies as given and keeps the prompts."""

    name = "judge"

    def __init__(self, text: str) -> None:
        self.text, self.prompts = text, []

    def reply(self, context, prompt):
        from agents.gui.backends import Reply

        self.prompts.append(prompt)
        return Reply(self.text)


def test_the_model_critic_reads_scores_and_refuses_garbage():
    episode, _ = _episode("SettingsBluetooth")
    judge = Judge('I think it worked. {"completion": 1, "coherence": 0.9, "efficiency": 0.8, "reason": "flipped"}')
    verdict = ModelCritic(judge).judge(episode)
    assert verdict.accepted and verdict.scores.efficiency == 0.8 and verdict.reasons == ["flipped"]
    assert episode.goal in judge.prompts[0].text                   # the judge saw the goal and the steps
    for garbage in ("no idea", '{"completion": 7, "coherence": 1, "efficiency": 1}', '{"completion": "yes"}'):
        verdict = ModelCritic(Judge(garbage)).judge(episode)
        assert not verdict.accepted and verdict.scores.total == 0, garbage


def test_a_rename_saved_in_a_filtered_list_is_believed_from_the_saved_form():
    """After a rename found by a search, the list still filters by the old name: the new one is
    rightly not shown, and the form it saved is the evidence."""
    searched = {"Search notes": "Packing"}
    steps = [_step({"action_type": "input_text", "index": 1, "text": "Packing"},
                   "After it typed 'Packing' into [1] EditText 'Search notes': the field 'Search notes' now reads "
                   "'Packing'.", target="Search notes", labels=["Packing list"], fields={"Search notes": ""}),
             _step({"action_type": "click", "index": 3}, "After it tapped 'Packing list': the screen changed to "
                   "Edit.", target="Packing list", labels=["Packing list"], fields=searched),
             _step({"action_type": "input_text", "index": 4, "text": "Quotes"},
                   "After it typed 'Quotes' into [4] EditText 'Title': the field 'Title' now reads 'Quotes'.",
                   target="Title", fields={"Title": "Packing list"}),
             _step({"action_type": "click", "index": 2}, "After it tapped 'Save note': the screen changed to Main.",
                   target="Save note", fields={"Title": "Quotes"}),
             _step({"action_type": "status", "goal_status": "complete"}, "", fields=searched)]
    verdict = _judge("Rename my note Packing list to Quotes.", steps, "complete", ["Notes", "No notes found"])
    assert verdict.accepted, verdict.reasons
    steps[-1] = dict(steps[-1], fields={"Search notes": ""})           # not filtered: then the list must show it
    verdict = _judge("Rename my note Packing list to Quotes.", steps, "complete", ["Notes", "Groceries"])
    assert not verdict.accepted and "no value the goal gave is on screen" in " ".join(verdict.reasons)


@pytest.mark.parametrize("goal, answer, why", [
    ("What model is this phone?", "Can you pick up some bread on the way?", "itself a question"),
    ("What time is my Gym on November 21?", "8:30 AM – 9:00 AM", "several times"),
    ("What did Diego Kowalski say in their last text?", "+1 891-773-3979", "the question asks what was written"),
    ("What was the last thing Bruno Garcia texted me?", "bruno.16@outlook.com", "the question asks what was written"),
])
def test_an_answer_that_is_no_answer_to_the_question_is_refused(goal, answer, why):
    """Read off a screen it saw, but a question is no answer, and a span is not the one time asked."""
    shown = [answer, "Gym", "November 21"]
    steps = [_step({"action_type": "answer", "text": answer}, "", labels=shown)]
    verdict = _judge(goal, steps, "answered", shown, app="Messages", answer=answer)
    assert not verdict.accepted and any(why in r for r in verdict.reasons), verdict.reasons


def test_a_message_that_asks_something_answers_what_someone_said():
    """A text can itself be a question: asked what someone wrote, that question is the answer."""
    answer = "Are we still on for tennis?"
    shown = ["Diego Kowalski", answer, "Type a message"]
    steps = [_step({"action_type": "answer", "text": answer}, "", labels=shown)]
    verdict = _judge("What did Diego Kowalski say in their last text?", steps, "answered", shown, app="Messages",
                     answer=answer)
    assert verdict.accepted, verdict.reasons


@pytest.mark.parametrize("goal, final, accepted", [
    ("Set Brightness level to its maximum.", ["Display", "Brightness level", "100%", "95%"], True),
    ("Turn the brightness all the way down.", ["Display", "Brightness level", "3%", "95%"], True),
    ("Turn the brightness all the way down.", ["Display", "Brightness level", "50%", "95%"], False),
    # the battery's 95% in the status bar was there before the tap: it is no reading the episode moved
    ("Set Brightness level to its maximum.", ["Display", "Brightness level", "50%", "95%"], False),
])
def test_a_level_goal_is_judged_by_the_reading_its_tap_moved(goal, final, accepted):
    """A slider takes effect at once (no Save); what shows it went all the way is its new reading."""
    before = ["Display", "Brightness level", "50%", "95%"]
    steps = [_step({"action_type": "click", "index": 3}, "After it tapped 'Display': the screen changed.",
                   target="Display", package="com.android.settings", labels=["Settings", "Display", "95%"]),
             _step({"action_type": "click", "x": 1000, "y": 500}, "After it tapped 'Brightness level': new on screen.",
                   target="Brightness level", package="com.android.settings", labels=before),
             _step({"action_type": "status", "goal_status": "complete"}, "", package="com.android.settings",
                   labels=final)]
    verdict = _judge(goal, steps, "complete", final, app="Settings")
    assert verdict.accepted == accepted, verdict.reasons
    if not accepted:
        assert any("no reading the episode changed" in r for r in verdict.reasons), verdict.reasons


def test_a_goal_using_someones_number_needs_a_screen_that_showed_it():
    """'Send Olivia Patel's number to Bruno Usman': judged as the goal with the number given, and
    refused when no screen showing Olivia Patel showed a number (the number typed came from nowhere)."""
    goal, number = "Send Olivia Patel's phone number to Bruno Usman.", "+1 537-212-1895"
    contacts, messages = "com.google.android.contacts", "com.google.android.apps.messaging"

    def episode(page):
        return [_step({"action_type": "click", "index": 2}, "After it tapped 'Olivia Patel': the screen changed.",
                      target="Olivia Patel", package=contacts, labels=page),
                _step({"action_type": "navigate_home"}, "After it went home: the app changed.",
                      package=contacts, labels=page),
                _step({"action_type": "open_app", "app_name": "Messages"}, "After it opened Messages: the app changed.",
                      package="com.google.android.apps.nexuslauncher", labels=LAUNCHER),
                _step({"action_type": "input_text", "index": 1, "text": "Bruno Usman"},
                      "After it typed 'Bruno Usman' into [1] EditText 'To': the field 'To' now reads 'Bruno Usman'.",
                      target="To", package=messages, labels=["New conversation"]),
                _step({"action_type": "input_text", "index": 2, "text": number},
                      f"After it typed '{number}' into [2] EditText 'Message': the field now reads it.",
                      target="Message", package=messages, labels=["Bruno Usman"]),
                _step({"action_type": "click", "index": 3},
                      f"After it tapped 'Send SMS': new on screen: '{number}'; gone from screen: 'Type a message'.",
                      target="Send SMS", package=messages, labels=["Bruno Usman"],
                      fields={"To": "Bruno Usman", "Message": number}),
                _step({"action_type": "status", "goal_status": "complete"}, "", package=messages,
                      labels=["Bruno Usman", number])]
    final = ["Bruno Usman", number]
    read = OfflineCritic().judge(Episode(goal, episode(["Olivia Patel", "Mobile", number]), final, "complete"))
    blind = OfflineCritic().judge(Episode(goal, episode(["Olivia Patel", "Mobile"]), final, "complete"))
    assert read.scores.completion == 1.0, read.reasons
    assert not blind.accepted and "showed their number" in " ".join(blind.reasons), blind.reasons
    # the number seen on a screen not reached by tapping them (a message list) is not theirs either
    stray = episode(["Olivia Patel", "Mobile", number])
    stray[0] = dict(stray[0], action={"action_type": "scroll", "direction": "down"}, target="")
    assert not OfflineCritic().judge(Episode(goal, stray, final, "complete")).accepted


def test_a_search_that_finds_nothing_is_judged_in_the_app_it_was_made_in():
    """Opened Calendar by name, wandered home, tapped Notes, searched there: an empty search in
    Notes says nothing about a calendar event (it was taken for a search in Calendar)."""
    launcher = "com.google.android.apps.nexuslauncher"
    steps = [_step({"action_type": "navigate_home"}, "After it went home: the app changed.",
                   package="com.google.android.calendar", labels=["November 2026"]),
             _step({"action_type": "click", "index": 5}, "After it tapped 'Notes': the app changed.", target="Notes",
                   package=launcher, labels=LAUNCHER),
             _step({"action_type": "input_text", "text": "Piano lesson", "index": 1},
                   "After it typed 'Piano lesson' into [1] EditText 'Search notes': the field reads 'Piano lesson'.",
                   target="Search notes", labels=["Notes"]),
             _step({"action_type": "status", "goal_status": "infeasible"}, "", labels=["No notes match"])]
    verdict = _judge("Delete Piano lesson on November 18 from my calendar.", steps, "infeasible", ["No notes match"],
                     app="Calendar")
    assert not verdict.accepted and any("looked in Notes" in r for r in verdict.reasons), verdict.reasons


def test_an_answer_that_is_on_every_screen_is_the_status_bar_not_an_answer():
    """'At what time is Budget review?' answered with the clock in the status bar ('14:45')."""
    screens = [["Calendar", "November 2026", "27", "14:45"], ["Navigate up", "Fri, Nov 27", "14:45"]]
    steps = [_step({"action_type": "click", "index": 3}, "After it tapped '27': the screen changed to Day.",
                   target="27", package="com.google.android.calendar", labels=screens[0]),
             _step({"action_type": "click", "index": 0}, "After it tapped 'Navigate up': the screen changed.",
                   target="Navigate up", package="com.google.android.calendar", labels=screens[1]),
             _step({"action_type": "answer", "text": "14:45"}, "", package="com.google.android.calendar",
                   labels=screens[0])]
    home = ["Tuesday, November 24", "Settings", "Calendar", "14:45"]
    verdict = OfflineCritic().judge(Episode("What time is my Budget review on November 27?",
                                            [_step({"action_type": "open_app", "app_name": "Calendar"},
                                                   "After it opened Calendar: the app changed.",
                                                   package="com.google.android.apps.nexuslauncher", labels=home),
                                             *steps], screens[0], "answered", "14:45"))
    assert not verdict.accepted and any("every screen" in r for r in verdict.reasons), verdict.reasons
