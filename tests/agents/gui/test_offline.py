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
from agents.gui.goal import entry_values, goal_key
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


@pytest.mark.parametrize("goal, title", [
    ('Make a note called Bike repair with the text "renew the library card".', "Bike repair"),
    ("I need an alarm at 7:10 AM with the label Laundry.", "Laundry"),
    ("Add a 7:10 AM alarm called Call mom.", "Call mom"),
    ("I have Plumber visit today at 3:30 PM; add it to the calendar.", "Plumber visit"),
    ("Put an event in my calendar: Swim lesson, November 22, 2:00 PM to 3:30 PM.", "Swim lesson"),
    ("Schedule Pottery class on December 4 between 5:00 PM and 6:30 PM.", "Pottery class"),
])
def test_an_unquoted_name_for_a_new_item_is_a_value_typed_first(goal, title):
    facts = read_goal(goal)
    assert (facts.values[0].text, facts.values[0].kind) == (title, "title")
    assert entry_values(facts)[0].text == title
    assert title not in goal_key(goal)           # retrieval compares the task, not its title


def test_a_persons_name_stays_a_name_and_questions_name_nothing_new():
    facts = read_goal("Add a contact named Liam Varga with the phone number +1 492-356-2208.")
    assert [(v.text, v.kind) for v in facts.values if v.text == "Liam Varga"] == [("Liam Varga", "name")]
    assert not [v for v in read_goal("How many people called Patel are in my contacts?").values]
    assert not read_goal("The note called Groceries should be called Birthday party.").creates


def _solve(template: str, seed: int, phrasing: int, max_steps: int = 15):
    phone = PhoneSim(seed)
    task = make_task(template, phone, seed=seed, phrasing=phrasing)
    result = GuiAgent(OfflineBackend(Embedder("minilm")), AgentConfig(max_steps=max_steps)).run(phone, task.goal)
    return task.status(phone)["success"], task.goal, [(s.action, s.target) for s in result.steps]


def test_a_goal_that_changes_an_item_never_makes_a_new_one():
    success, goal, steps = _solve("NotesRename", 1, phrasing=2)      # "The note called X should be called Y."
    assert success and not any("New note" in target for _, target in steps), (goal, steps)


def test_a_title_given_in_words_goes_into_the_title_field():
    success, goal, steps = _solve("NotesCreate", 2, phrasing=2)      # "Make a note called X with the text ..."
    typed = {action["text"]: target for action, target in steps if action and action["action_type"] == "input_text"}
    assert success and any("title" in target.casefold() for target in typed.values()), (goal, steps)


def test_a_bare_number_is_named_as_a_day_not_as_the_minutes_of_a_time():
    from agents.gui.backends import StepContext
    from agents.gui.backends.offline import Policy
    from agents.gui.history import History

    phone = PhoneSim(0)
    observation = phone.observe()

    def named(goal: str, label: str) -> bool:
        context = StepContext(goal, observation, History(), 1, 25)
        return Policy(context, Embedder("lexical"), 0.5).named(label)

    assert not named("I have Plumber visit today at 3:30 PM; add it to the calendar.", "30")
    assert named("What time is my Gym on November 30?", "30")
    assert named("Start a 5-minute timer.", "5")
    assert named("Switch off the 9:30 AM alarm.", "9:30 AM")


def test_a_question_is_answered_on_a_screen_that_speaks_of_its_subject():
    """'Tell me the model name of this phone': not a contact's name off the first list it opens."""
    success, goal, steps = _solve("SettingsModelAnswer", 1, phrasing=2, max_steps=25)   # it looks app by app
    answers = [action["text"] for action, _ in steps if action and action["action_type"] == "answer"]
    assert success and len(answers) == 1, (goal, steps)


def test_what_an_item_becomes_is_a_value_in_the_goal_key():
    """Two renames phrased apart look alike to retrieval once both names are values."""
    assert goal_key("The note called Groceries should be called Birthday party.") == \
        "The note called someone should be called something."


def test_the_item_the_goal_names_outranks_labels_sharing_a_word_with_it():
    """'The note called Groceries ...': the Groceries note, not 'Meeting notes' for sharing 'note'."""
    success, goal, steps = _solve("NotesRename", 1001, phrasing=2)
    assert success and steps[2][1] == "Groceries", (goal, steps)


def test_on_before_a_date_is_a_preposition_when_asking_a_time():
    """'At what time is Budget review on November 15?' is answered from the event, not refused
    as if it asked for the alarm that is on."""
    success, goal, steps = _solve("CalendarEventTimeAnswer", 1000, phrasing=2, max_steps=25)
    assert success and len(steps) <= 6, (goal, steps)


@pytest.mark.parametrize("goal, extreme", [
    ("Set the screen brightness to its maximum.", "max"), ("Turn the brightness all the way down.", "min"),
    ("Make the display as dim as it goes.", "min"), ("Make the display as bright as it goes.", "max"),
    ("Add a contact with the full name Ada Byron.", None), ("Set an alarm for 7:40 PM.", None),
    ("Set an alarm for 7:00 AM with the label Max.", None), ("Text Min-jun: a maximum of 5 minutes.", None),
])
def test_a_level_all_the_way_up_or_down_is_read_from_the_goal(goal, extreme):
    assert read_goal(goal).extreme == extreme


def test_an_event_given_as_a_span_of_times_gets_its_end_time_too():
    """'... 2:00 PM to 3:30 PM': the end is a value for the form's end field (a moved alarm's 'to'
    is its new time, not an end)."""
    facts = read_goal("Put an event in my calendar: Swim lesson, November 22, 2:00 PM to 3:30 PM.")
    timed = [(v.text, v.kind) for v in facts.values if v.kind in ("time", "end")]
    assert timed == [("14:00", "time"), ("15:30", "end")]
    assert not [v for v in read_goal("Move my 7:30 AM alarm to 8:00 AM.").values if v.kind == "end"]
    success, goal, steps = _solve("CalendarAddEvent", 1000, phrasing=2, max_steps=25)
    assert success, (goal, steps)


def test_a_count_of_people_by_name_filters_the_list_first():
    """Counting the Patels on the first screen misses those below the fold: search, then count."""
    success, goal, steps = _solve("ContactsCountLastName", 1001, phrasing=2)
    kinds = [action["action_type"] for action, _ in steps if action]
    assert success and kinds.index("input_text") < kinds.index("answer"), (goal, steps)


@pytest.mark.parametrize("template", ["MessagesShareNumber", "NotesContactNumber"])
def test_a_number_the_goal_only_names_is_read_in_one_app_and_written_in_another(template):
    """'Bruno Usman needs Olivia Patel's number: message it to them': the number is on Olivia
    Patel's page in Contacts; the agent reads it there, goes home and writes it where the goal says."""
    success, goal, steps = _solve(template, 1000, phrasing=2, max_steps=25)
    kinds = [action["action_type"] for action, _ in steps if action]
    assert success and "navigate_home" in kinds, (goal, steps)
    assert read_goal(goal).lookup and not read_goal(goal).question        # "Look up ... and write it" asks nothing
    assert not read_goal("What is Vera Costa's phone number?").lookup   # a question about it uses nothing


@pytest.mark.parametrize("goal, on", [
    ("Which alarm that is on rings first?", True), ("Of the alarms that are on, which rings earliest?", True),
    ("At what time is Budget review on November 15?", False), ("What time is gym on the 21st?", False),
])
def test_on_as_a_state_is_told_from_on_before_a_date(goal, on):
    from agents.gui.backends.offline import SWITCHED_ON

    assert bool(SWITCHED_ON.search(goal)) == on


def test_a_number_is_read_only_from_a_screen_of_that_person_alone():
    """Their number is the one their own page shows (reached by tapping them): a message list shows
    them beside strangers' numbers."""
    from agents.gui.goal import number_read_for

    inbox = ["Messages", "Olivia Patel", "See you at 7", "+1 432-478-9651", "Your code is 4411"]
    page = ["Olivia Patel", "Mobile", "+1 536-899-5451", "Message"]
    assert number_read_for("Olivia Patel", [(inbox, "Messages")]) is None
    assert number_read_for("Olivia Patel", [(inbox, "Messages"), (page, "Olivia Patel")]) == "+1 536-899-5451"
    assert number_read_for("Olivia Patel", [(["Olivia Patel", "2026-11-18"], "Olivia Patel")]) is None  # a date
    assert read_goal("Change Olivia Patel's number to +1 555-010-2000 and text her.").lookup is None
