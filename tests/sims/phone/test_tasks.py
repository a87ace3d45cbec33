"""The task suite: at least 40 templates of three kinds, each solved by the scripted oracle through
the PhoneDevice interface (in process and through the bus), success read from app state only."""
from __future__ import annotations

import collections

import pytest

from control.phone import JSONAction, RemotePhone
from sims.phone.oracle import Oracle
from sims.phone.phone import PhoneSim
from sims.phone.tasks import TaskError, custom_task, load_task_file, make_task, registry

SEEDS = range(5)


def test_the_suite_spans_apps_difficulties_and_kinds():
    templates = registry()
    assert len(templates) >= 40
    by = collections.Counter
    assert set(by(t.app for t in templates.values())) == {"Settings", "Contacts", "Clock", "Notes", "Messages",
                                                         "Calendar"}
    assert set(by(t.difficulty for t in templates.values())) == {"easy", "medium", "hard"}
    kinds = by(t.kind for t in templates.values())
    assert kinds["answer"] >= 8 and kinds["infeasible"] >= 6 and kinds["action"] >= 20
    assert sum(len(t.apps) > 1 for t in templates.values()) >= 3          # information from another app
    assert all(len(t.goals) >= 3 for t in templates.values())             # several phrasings each


@pytest.mark.parametrize("name", list(registry()))
def test_the_oracle_solves_every_template_in_process(name):
    for seed in SEEDS:
        phone = PhoneSim(seed)
        task = make_task(name, phone, seed=seed)
        assert task.status(phone) == {"done": False, "success": False}, task.goal   # not done before
        oracle = Oracle(phone)
        task.solve(oracle)
        assert task.status(phone) == {"done": True, "success": True}, (seed, task.goal, oracle.trace)
        assert oracle.steps - oracle.scrolls <= task.optimal_steps(), (seed, oracle.trace)


@pytest.mark.parametrize("name", [n for n, t in registry().items() if t.kind == "infeasible"])
def test_infeasible_tasks_fail_when_the_agent_claims_success(name):
    phone = PhoneSim(1)
    task = make_task(name, phone, seed=1)
    phone.act(JSONAction("status", goal_status="complete"))
    assert task.status(phone) == {"done": True, "success": False}


@pytest.mark.parametrize("name", [n for n, t in registry().items() if t.kind == "answer"])
def test_answer_tasks_fail_on_a_wrong_or_shotgun_answer(name):
    phone = PhoneSim(2)
    task = make_task(name, phone, seed=2)
    phone.act(JSONAction("answer", text="I am not sure, maybe 0"))
    assert not task.status(phone)["success"]
    phone.act(JSONAction("answer", text=" / ".join([_said(task.expected(phone)), *_guesses(task.answer_kind)])))
    assert not task.status(phone)["success"]
    phone.act(JSONAction("answer", text=f"I think it is {_said(task.expected(phone))}."))
    assert task.status(phone)["success"]


def _guesses(kind: str) -> list[str]:
    """Other answers of the same kind: a list of guesses must not pass for knowing."""
    return {"time": [f"{h}:00" for h in range(24)], "count": [str(n) for n in range(200)],
            "phone": [f"+1 201-555-{n:04d}" for n in range(20)], "text": ["something else entirely"]}[kind]


def _said(value) -> str:
    return f"{value[0]:02d}:{value[1]:02d}" if isinstance(value, tuple) else str(value)


@pytest.mark.parametrize("answer, expected, kind, right", [
    ("7:30 AM", (7, 30), "time", True), ("07:30", (7, 30), "time", True), ("17:30", (7, 30), "time", False),
    ("7:30 PM", (7, 30), "time", False), ("It starts at 7:30 pm.", (19, 30), "time", True),
    ("7:30 or 8:00", (7, 30), "time", False), ("12", 1, "count", False), ("one", 1, "count", True),
    ("0123456789", 3, "count", False), ("50 51 52", 51, "count", False), ("69%", 69, "count", True),
    ("Pixel 8 Pro", "Pixel 8", "text", False), ("The model is Pixel 8.", "Pixel 8", "text", True),
    ("She said: Can you send me the address?", "Can you send me the address?", "text", True),
    ("201 555 0100", "+1 201-555-0100", "phone", True), ("+1 201-555-0100 or +1 201-555-0199", "+1 201-555-0100",
                                                          "phone", False),
])
def test_answers_are_judged_by_kind_and_near_misses_fail(answer, expected, kind, right):
    from sims.phone.tasks.base import answer_matches

    assert answer_matches(answer, expected, kind) is right


@pytest.mark.parametrize("name", [n for n, t in registry().items() if t.kind == "action"])
def test_action_tasks_are_not_done_by_saying_so(name):
    phone = PhoneSim(3)
    task = make_task(name, phone, seed=3)
    phone.act(JSONAction("status", goal_status="complete"))
    assert task.status(phone) == {"done": True, "success": False}


def test_instances_are_fixed_by_the_seed_and_phrasings_vary():
    goals = {make_task("ContactsAddContact", PhoneSim(s), seed=s).goal for s in range(8)}
    assert len(goals) >= 6
    again = make_task("ContactsAddContact", PhoneSim(4), seed=4)
    assert again.goal == make_task("ContactsAddContact", PhoneSim(4), seed=4).goal
    assert make_task("NotesCreate", PhoneSim(0), seed=0, phrasing=1).goal.startswith("Write a new note")


def test_a_user_defined_task_file_runs_like_the_suite(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[[tasks]]\ntemplate = "ContactsAddContact"\n'
                    'params = { first = "Ada", last = "Lovelace", phone = "+1 555-0100" }\n'
                    'goal = "Save {first} {last}, {phone}, as a contact"\n'
                    '[[tasks]]\ntemplate = "ClockStartTimer"\nparams = { minutes = 7 }\n')
    specs = load_task_file(path)
    phone = PhoneSim(0)
    task = custom_task(specs[0], phone)
    assert task.goal == "Save Ada Lovelace, +1 555-0100, as a contact"
    task.solve(Oracle(phone))
    assert task.status(phone)["success"] and phone.app("contacts").find("Ada Lovelace").phone == "+1 555-0100"
    timer = custom_task(specs[1], phone)
    assert "7-minute" in timer.goal or "7 minutes" in timer.goal
    timer.solve(Oracle(phone))
    assert timer.status(phone)["success"] and phone.app("clock").timer_duration == 420


@pytest.mark.parametrize("text, words", [
    ('[[tasks]]\ntemplate = "Teleport"\n', "tasks[0] names no known template ('Teleport')"),
    ("tasks = []\n", "non-empty list 'tasks'"),
    ("[[tasks]\n", "not valid TOML"),
])
def test_bad_task_files_are_named(tmp_path, text, words):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(TaskError, match=words.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        load_task_file(path)


def test_a_task_files_inputs_drive_the_goal_and_the_check_alike():
    phone = PhoneSim(0)
    task = custom_task({"template": "ClockAddAlarm", "params": {"hour": 9, "minute": 0}, "goal": "Alarm at {time}"},
                       phone)
    assert task.goal == "Alarm at 9:00 AM"
    task.solve(Oracle(phone))
    assert task.status(phone)["success"] and phone.app("clock").find(9, 0) is not None


@pytest.mark.parametrize("spec, words", [
    ({"template": "ClockAddAlarm", "params": {"hour": 31}}, "31:.. is not a time of day"),
    ({"template": "ClockAddAlarm", "params": {"time": "9:00 AM"}}, "has no parameter 'time'"),
    ({"template": "CalendarAddEvent", "params": {"hour": 23}}, "the hour must be 0 to 22"),
    ({"template": "CalendarAddEvent", "params": {"date": "tomorrow"}}, "is not a date as YYYY-MM-DD"),
    ({"template": "ContactsAddContact", "params": {"phone": "call me"}}, "is not a phone number"),
    ({"template": "ClockStartTimer", "params": {"minutes": 600}}, "1 to 99 minutes"),
    ({"template": "ClockStartTimer", "params": {"hours": 2}}, "has no parameter 'hours'; it takes minutes"),
    ({"template": "ClockStartTimer", "params": {"minutes": "7"}}, "parameter 'minutes' must be a int"),
    ({"template": "ClockStartTimer", "goal": "Time {eggs} for me"}, "names an unknown parameter"),
    ({"template": "ClockStartTimer", "colour": "red"}, "not colour"),
    ({"params": {}}, "needs a 'template'"),
])
def test_bad_custom_tasks_are_named(spec, words):
    with pytest.raises(TaskError, match=words):
        custom_task(spec, PhoneSim(0))


def test_the_oracle_solves_every_template_through_the_bus(sim_daemon, hub):
    """The same runs against `podium sim phone`, the oracle holding only a RemotePhone; the harness
    sets tasks up and reads success through the daemon's harness methods."""
    from control.bus.hub import connect

    phone = RemotePhone(sim_daemon, hub=hub.endpoint)
    failures = []
    with connect(sim_daemon, hub.endpoint, timeout=60) as harness:
        names = [t["name"] for t in harness.call("tasks")]
        assert names == list(registry())
        for name in names:
            for seed in SEEDS:
                instance = harness.call("setup_task", name, seed)
                before = harness.call("task_status")
                oracle = Oracle(phone)                 # the script, given only what the harness said
                registry()[name](instance["params"], instance["goal"], seed).solve(oracle)
                after = harness.call("task_status")
                if before["done"] or not after["success"]:
                    failures.append((name, seed, instance["goal"], before, after))
    assert failures == []
