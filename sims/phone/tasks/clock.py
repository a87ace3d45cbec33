"""Clock tasks: alarms (add, label, switch off, delete, move), timer, stopwatch, a question, and a
world clock this app does not have."""
from __future__ import annotations

import random
from typing import Any

from sims.phone.apps.clock import format_time
from sims.phone.oracle import Oracle
from sims.phone.phone import PhoneSim
from sims.phone.tasks.base import Task, require


def draw_time(rng: random.Random, taken: set[tuple[int, int]]) -> dict[str, Any]:
    hour, minute = next((h, m) for h, m in ((rng.randrange(5, 23), rng.choice((0, 10, 15, 20, 30, 40, 45, 50)))
                                            for _ in range(200)) if (h, m) not in taken)
    return {"hour": hour, "minute": minute}


def with_time(inputs: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Check `<prefix>hour`/`<prefix>minute` and add `<prefix>time`, as the Clock app writes it."""
    hour, minute = inputs[f"{prefix}hour"], inputs[f"{prefix}minute"]
    require(0 <= hour <= 23 and 0 <= minute <= 59, f"{hour}:{minute:02d} is not a time of day (hour 0-23, minute 0-59)")
    return {**inputs, f"{prefix}time": format_time(hour, minute)}


def taken(phone: PhoneSim) -> set[tuple[int, int]]:
    return {(a.hour, a.minute) for a in phone.app("clock").alarms}


def set_time_in_picker(o: Oracle, hour: int, minute: int, current_pm: bool) -> None:
    """Fill the open time picker: hour, minute, AM/PM, OK."""
    o.type(str((hour % 12) or 12), into="Hour")
    o.type(f"{minute:02d}", into="Minute")
    if (hour >= 12) != current_pm:
        o.tap("PM" if hour >= 12 else "AM")
    o.tap("OK")


def existing_alarm(phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
    alarm = rng.choice(sorted(phone.app("clock").alarms, key=lambda a: a.id))
    return {"hour": alarm.hour, "minute": alarm.minute}


class _AlarmTask(Task):
    """A task about one alarm: its inputs are an hour and a minute, its goal says the time."""

    @classmethod
    def derive(cls, phone: PhoneSim, inputs: dict[str, Any]) -> dict[str, Any]:
        return with_time(inputs)


def ensure_alarm(phone: PhoneSim, params: dict[str, Any], enabled: bool | None = None) -> Any:
    clock = phone.app("clock")
    alarm = clock.find(params["hour"], params["minute"]) or clock.add_alarm(params["hour"], params["minute"])
    if enabled is not None:
        alarm.enabled = enabled
    return alarm


class ClockAddAlarm(_AlarmTask):
    app, difficulty, optimal = "Clock", "medium", 6
    goals = ("Set an alarm for {time}.", "Wake me up at {time}: add an alarm.", "Create a new alarm at {time}.")
    draw = classmethod(lambda cls, phone, rng: draw_time(rng, taken(phone)))

    def optimal_steps(self) -> int:
        return self.optimal + (self.params["hour"] >= 12)   # the picker starts at AM

    def succeeded(self, phone: PhoneSim) -> bool:
        alarm = phone.app("clock").find(self.params["hour"], self.params["minute"])
        return alarm is not None and alarm.enabled

    def solve(self, o: Oracle) -> None:
        o.open("Clock")
        o.tap("Add alarm")
        set_time_in_picker(o, self.params["hour"], self.params["minute"], current_pm=False)
        o.complete()


class ClockAddLabelledAlarm(_AlarmTask):
    app, difficulty, optimal = "Clock", "hard", 10
    goals = ("Set an alarm for {time} labelled \"{label}\".", "Add a {time} alarm called {label}.",
             "I need an alarm at {time} with the label {label}.")

    @classmethod
    def draw(cls, phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
        return {**draw_time(rng, taken(phone)), "label": rng.choice(["Yoga", "Pills", "Call mom", "Laundry", "Bus"])}

    @classmethod
    def derive(cls, phone: PhoneSim, inputs: dict[str, Any]) -> dict[str, Any]:
        require(0 < len(inputs["label"].strip()) <= 40, "an alarm label must be 1 to 40 characters")
        return with_time(inputs)

    def optimal_steps(self) -> int:
        return self.optimal + (self.params["hour"] >= 12)

    def succeeded(self, phone: PhoneSim) -> bool:
        alarm = phone.app("clock").find(self.params["hour"], self.params["minute"])
        return alarm is not None and alarm.enabled and alarm.label.casefold() == self.params["label"].casefold()

    def solve(self, o: Oracle) -> None:
        o.open("Clock")
        o.tap("Add alarm")
        set_time_in_picker(o, self.params["hour"], self.params["minute"], current_pm=False)
        o.tap(self.params["time"])
        o.tap("Label")
        o.type(self.params["label"], into="Label")
        o.tap("OK")
        o.complete()


class ClockDisableAlarm(_AlarmTask):
    app, difficulty, optimal = "Clock", "easy", 3
    goals = ("Turn off my {time} alarm.", "Disable the alarm at {time}, but keep it.", "Switch off the {time} alarm.")
    draw = classmethod(lambda cls, phone, rng: existing_alarm(phone, rng))

    def setup(self, phone: PhoneSim) -> None:
        ensure_alarm(phone, self.params, enabled=True)

    def succeeded(self, phone: PhoneSim) -> bool:
        alarm = phone.app("clock").find(self.params["hour"], self.params["minute"])
        return alarm is not None and not alarm.enabled

    def solve(self, o: Oracle) -> None:
        o.open("Clock")
        o.toggle(f"{self.params['time']} alarm", False)
        o.complete()


class ClockDeleteAlarm(_AlarmTask):
    app, difficulty, optimal = "Clock", "medium", 4
    goals = ("Delete the {time} alarm.", "Remove my alarm for {time}.",
             "I don't need the {time} alarm any more: delete it.")
    draw = classmethod(lambda cls, phone, rng: existing_alarm(phone, rng))

    def setup(self, phone: PhoneSim) -> None:
        ensure_alarm(phone, self.params)

    def succeeded(self, phone: PhoneSim) -> bool:
        clock = phone.app("clock")
        return clock.find(self.params["hour"], self.params["minute"]) is None

    def solve(self, o: Oracle) -> None:
        o.open("Clock")
        o.tap(self.params["time"])
        o.tap("Delete")
        o.complete()


class ClockMoveAlarm(Task):
    app, difficulty, optimal = "Clock", "hard", 7
    goals = ("Change my {time} alarm to {new_time}.", "Move the {time} alarm to {new_time}.",
             "Make the alarm that rings at {time} ring at {new_time} instead.")

    @classmethod
    def draw(cls, phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
        old = existing_alarm(phone, rng)
        new = draw_time(rng, taken(phone))
        return {**old, "new_hour": new["hour"], "new_minute": new["minute"]}

    @classmethod
    def derive(cls, phone: PhoneSim, inputs: dict[str, Any]) -> dict[str, Any]:
        params = with_time(with_time(inputs), "new_")
        require(params["time"] != params["new_time"], "moving an alarm needs a new time")
        return params

    def setup(self, phone: PhoneSim) -> None:
        ensure_alarm(phone, self.params)

    def optimal_steps(self) -> int:
        return self.optimal + ((self.params["hour"] >= 12) != (self.params["new_hour"] >= 12))

    def succeeded(self, phone: PhoneSim) -> bool:
        clock = phone.app("clock")
        moved = clock.find(self.params["new_hour"], self.params["new_minute"])
        return moved is not None and clock.find(self.params["hour"], self.params["minute"]) is None

    def solve(self, o: Oracle) -> None:
        o.open("Clock")
        o.tap(self.params["time"])
        o.tap(self.params["time"])          # the big time on the alarm's page opens the picker
        set_time_in_picker(o, self.params["new_hour"], self.params["new_minute"], current_pm=self.params["hour"] >= 12)
        o.complete()


class ClockStartTimer(Task):
    app, difficulty, optimal = "Clock", "medium", 4
    goals = ("Start a {minutes}-minute timer.", "Set a timer for {minutes} minutes and start it.",
             "Time {minutes} minutes for me.")

    @classmethod
    def draw(cls, phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
        return {"minutes": rng.choice([2, 3, 5, 8, 10, 12, 15, 20, 25, 30, 45])}

    @classmethod
    def derive(cls, phone: PhoneSim, inputs: dict[str, Any]) -> dict[str, Any]:
        require(1 <= inputs["minutes"] <= 99, "a timer here runs 1 to 99 minutes")
        return inputs

    def optimal_steps(self) -> int:
        return self.optimal + len(f"{self.params['minutes']}00")

    def setup(self, phone: PhoneSim) -> None:
        phone.app("clock").timer_duration = 0

    def succeeded(self, phone: PhoneSim) -> bool:
        clock = phone.app("clock")
        return clock.timer_duration == 60 * self.params["minutes"] and clock.timer_started is not None

    def solve(self, o: Oracle) -> None:
        o.open("Clock")
        o.tap("Timer")
        for digit in f"{self.params['minutes']}00":
            o.tap(digit)
        o.tap("Start")
        o.complete()


class ClockStartStopwatch(Task):
    app, difficulty, optimal = "Clock", "easy", 4
    goals = ("Start the stopwatch.", "Start timing with the stopwatch.", "Run the stopwatch.")

    def succeeded(self, phone: PhoneSim) -> bool:
        return phone.app("clock").stopwatch_started is not None

    def solve(self, o: Oracle) -> None:
        o.open("Clock")
        o.tap("Stopwatch")
        o.tap("Start")
        o.complete()


class ClockEarliestAlarmAnswer(Task):
    app, difficulty, kind, optimal, answer_kind = "Clock", "medium", "answer", 2, "time"
    goals = ("What time is my earliest alarm that is switched on?", "When does my first active alarm of the day ring?",
             "Of the alarms that are on, which rings earliest?")

    def setup(self, phone: PhoneSim) -> None:
        clock = phone.app("clock")
        if not any(a.enabled for a in clock.alarms):
            min(clock.alarms, key=lambda a: (a.hour, a.minute)).enabled = True

    def expected(self, phone: PhoneSim) -> tuple[int, int]:
        first = min((a for a in phone.app("clock").alarms if a.enabled), key=lambda a: (a.hour, a.minute))
        return first.hour, first.minute

    def solve(self, o: Oracle) -> None:
        o.open("Clock")
        elements = o.look().elements
        on = [e.content_desc.removesuffix(" alarm") for e in elements
              if e.class_name.endswith("Switch") and e.checked]
        o.answer(on[0])


class ClockWorldClockInfeasible(Task):
    app, difficulty, kind, optimal = "Clock", "medium", "infeasible", 2
    goals = ("Add a world clock for {city}.", "Show {city}'s time in the Clock app's world clock.",
             "Put {city} on my world clock list.")

    @classmethod
    def draw(cls, phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
        return {"city": rng.choice(["Tokyo", "Lagos", "Lima", "Oslo", "Sydney"])}

    def solve(self, o: Oracle) -> None:
        o.open("Clock")   # tabs: Alarm, Timer, Stopwatch; no world clock
        o.infeasible()
