"""Calendar tasks: add events (by date, today, from a message), delete, read, count; and an event
that does not exist."""
from __future__ import annotations

import calendar as cal
import random
import re
from datetime import date, time, timedelta
from typing import Any

from sims.phone.apps.clock import format_time
from sims.phone.oracle import Oracle
from sims.phone.phone import PhoneSim
from sims.phone.tasks.base import Task, TaskError, require
from sims.phone.tasks.contacts import ensure, pick

NEW_EVENTS = ("Vet appointment", "Pottery class", "Quarterly review", "Concert", "Passport renewal",
              "Dinner with Omar", "Swim lesson", "Plumber visit")


def spoken(day: date) -> str:
    return f"{cal.month_name[day.month]} {day.day}"


def pages(phone: PhoneSim, day: date) -> int:
    """How many months the month view must be paged from today's to show `day`."""
    today = phone.now.date()
    return abs((day.year - today.year) * 12 + day.month - today.month)


def on_date(phone: PhoneSim, inputs: dict[str, Any]) -> dict[str, Any]:
    """Check the input `date` (YYYY-MM-DD) and add how the goal says it, and the paging it takes."""
    try:
        day = date.fromisoformat(inputs["date"])
    except ValueError:
        raise TaskError(f"date {inputs['date']!r} is not a date as YYYY-MM-DD") from None
    return {**inputs, "day": spoken(day), "pages": pages(phone, day)}


class _OnADay(Task):
    """A task that opens one day of the calendar: paging months counts towards its optimum."""

    @classmethod
    def derive(cls, phone: PhoneSim, inputs: dict[str, Any]) -> dict[str, Any]:
        return on_date(phone, inputs)

    def optimal_steps(self) -> int:
        return self.optimal + self.params["pages"]


def go_to_month(o: Oracle, day: date) -> None:
    """Page the month view to `day`'s month, reading its title."""
    for _ in range(24):
        title = next(e.text for e in o.look().elements if e.resource_id.endswith("/month_title"))
        month_name, year = title.rsplit(" ", 1)
        shown = (int(year), list(cal.month_name).index(month_name))
        if shown == (day.year, day.month):
            return
        o.tap("Next month" if shown < (day.year, day.month) else "Previous month")


def open_day(o: Oracle, day: date) -> None:
    o.open("Calendar")
    go_to_month(o, day)
    name = f"{day:%A, %B} {day.day}"   # a cell says "Friday, October 2" or "Friday, October 2, 1 event"
    cell = next(i for i, e in enumerate(o.look().elements)
                if e.content_desc == name or e.content_desc.startswith(name + ", "))
    o.tap_at(*o.look().elements[cell].bounds.center)


def existing_event(phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
    event = rng.choice(sorted(phone.app("calendar").events, key=lambda e: e.id))
    return {"title": event.title, "date": event.day.isoformat(), "hour": event.start.hour,
            "minute": event.start.minute}


class _AnEvent(_OnADay):
    """A task about one event on one day, at an hour and minute."""

    @classmethod
    def derive(cls, phone: PhoneSim, inputs: dict[str, Any]) -> dict[str, Any]:
        require(0 <= inputs["hour"] <= 22 and 0 <= inputs["minute"] <= 59,
                f"{inputs['hour']}:{inputs['minute']:02d} is not an hour (0-22) and minute (0-59) to start at")
        return {**on_date(phone, inputs), "time": format_time(inputs["hour"], inputs["minute"])}


def ensure_event(phone: PhoneSim, params: dict[str, Any]) -> Any:
    calendar = phone.app("calendar")
    day = date.fromisoformat(params["date"])
    return calendar.find(params["title"], day) or calendar.add(
        params["title"], day, time(params["hour"], params["minute"]), time(min(23, params["hour"] + 1), 0))


def fill_event(o: Oracle, title: str, day: date | None, start: time, end: time | None) -> None:
    """The new-event form: title, date (when not the preset one), start, end, Save."""
    o.type(title, into="Add title")
    if day is not None:
        o.type(day.isoformat(), into="Date (YYYY-MM-DD)")
    o.type(f"{start:%H:%M}", into="Start time (HH:MM)")
    if end is not None:
        o.type(f"{end:%H:%M}", into="End time (HH:MM)")
    o.tap("Save")


class CalendarAddEvent(Task):
    app, difficulty, optimal = "Calendar", "hard", 8
    goals = ("Add \"{title}\" to my calendar on {day}, from {start} to {end}.",
             "Schedule {title} on {day} between {start} and {end}.",
             "Put an event in my calendar: {title}, {day}, {start} to {end}.")

    @classmethod
    def draw(cls, phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
        day = phone.now.date() + timedelta(days=rng.randrange(2, 40))
        return {"title": rng.choice(NEW_EVENTS), "date": day.isoformat(), "hour": rng.randrange(8, 19)}

    @classmethod
    def derive(cls, phone: PhoneSim, inputs: dict[str, Any]) -> dict[str, Any]:
        require(0 <= inputs["hour"] <= 22, f"the event starts at {inputs['hour']}:00 and lasts 90 minutes: the hour "
                                           "must be 0 to 22")
        require(bool(inputs["title"].strip()), "an event needs a title")
        return {**on_date(phone, inputs), "start": format_time(inputs["hour"], 0),
                "end": format_time(inputs["hour"] + 1, 30)}

    def succeeded(self, phone: PhoneSim) -> bool:
        event = phone.app("calendar").find(self.params["title"], date.fromisoformat(self.params["date"]))
        return event is not None and event.start == time(self.params["hour"], 0) and \
            event.end == time(self.params["hour"] + 1, 30)

    def solve(self, o: Oracle) -> None:
        o.open("Calendar")
        o.tap("Create new event")
        fill_event(o, self.params["title"], date.fromisoformat(self.params["date"]), time(self.params["hour"], 0),
                   time(self.params["hour"] + 1, 30))
        o.complete()


class CalendarAddEventToday(Task):
    app, difficulty, optimal = "Calendar", "medium", 6
    goals = ("Add an event \"{title}\" today at {start}.", "Put {title} in my calendar for today at {start}.",
             "I have {title} today at {start}; add it to the calendar.")

    @classmethod
    def draw(cls, phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
        hour = rng.randrange(max(8, phone.now.hour + 1), 22) if phone.now.hour < 21 else 22
        return {"title": rng.choice(NEW_EVENTS), "hour": hour}

    @classmethod
    def derive(cls, phone: PhoneSim, inputs: dict[str, Any]) -> dict[str, Any]:
        require(0 <= inputs["hour"] <= 23, f"hour {inputs['hour']} is not an hour of the day (0-23)")
        return {**inputs, "start": format_time(inputs["hour"], 30)}

    def succeeded(self, phone: PhoneSim) -> bool:
        event = phone.app("calendar").find(self.params["title"], phone.now.date())
        return event is not None and event.start == time(self.params["hour"], 30)

    def solve(self, o: Oracle) -> None:
        o.open("Calendar")
        o.tap("Create new event")               # today is the preset date
        fill_event(o, self.params["title"], None, time(self.params["hour"], 30), None)
        o.complete()


class CalendarDeleteEvent(_AnEvent):
    app, difficulty, optimal = "Calendar", "medium", 6
    goals = ("Delete {title} on {day} from my calendar.", "Cancel my {title} event on {day}.",
             "Remove the calendar event {title} ({day}).")
    draw = classmethod(lambda cls, phone, rng: existing_event(phone, rng))

    def setup(self, phone: PhoneSim) -> None:
        ensure_event(phone, self.params)

    def succeeded(self, phone: PhoneSim) -> bool:
        return phone.app("calendar").find(self.params["title"], date.fromisoformat(self.params["date"])) is None

    def solve(self, o: Oracle) -> None:
        open_day(o, date.fromisoformat(self.params["date"]))
        o.tap(self.params["title"])
        o.tap("Delete event")
        o.tap("Delete")
        o.complete()


class CalendarEventTimeAnswer(_AnEvent):
    app, difficulty, kind, optimal, answer_kind = "Calendar", "medium", "answer", 3, "time"
    goals = ("What time is my {title} on {day}?", "When does {title} start on {day}?",
             "At what time is {title} on {day}?")
    draw = classmethod(lambda cls, phone, rng: existing_event(phone, rng))

    def setup(self, phone: PhoneSim) -> None:
        ensure_event(phone, self.params)

    def expected(self, phone: PhoneSim) -> tuple[int, int]:
        event = phone.app("calendar").find(self.params["title"], date.fromisoformat(self.params["date"]))
        return (event.start.hour, event.start.minute) if event else (-1, -1)

    def solve(self, o: Oracle) -> None:
        open_day(o, date.fromisoformat(self.params["date"]))
        when = o.look().elements[o.index(self.params["title"]) + 1].text
        o.answer(when.split(" – ")[0])


class CalendarCountEventsAnswer(_OnADay):
    app, difficulty, kind, optimal, answer_kind = "Calendar", "easy", "answer", 3, "count"
    goals = ("How many events do I have on {day}?", "Count my calendar events on {day}.",
             "How busy am I on {day}: how many events?")

    @classmethod
    def draw(cls, phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
        day = phone.now.date() + timedelta(days=rng.randrange(0, 10))
        return {"date": day.isoformat(), "extra": rng.randrange(1, 3)}

    @classmethod
    def derive(cls, phone: PhoneSim, inputs: dict[str, Any]) -> dict[str, Any]:
        require(0 <= inputs["extra"] <= len(NEW_EVENTS), f"extra events must be 0 to {len(NEW_EVENTS)}")
        return on_date(phone, inputs)

    def setup(self, phone: PhoneSim) -> None:
        calendar = phone.app("calendar")
        day = date.fromisoformat(self.params["date"])
        for i in range(self.params["extra"]):
            calendar.add(NEW_EVENTS[i], day, time(9 + i, 0), time(10 + i, 0))

    def expected(self, phone: PhoneSim) -> int:
        return len(phone.app("calendar").on(date.fromisoformat(self.params["date"])))

    def solve(self, o: Oracle) -> None:
        open_day(o, date.fromisoformat(self.params["date"]))
        o.answer(str(sum(e.resource_id.endswith("/event_row") for e in o.look().elements)))


class CalendarEventFromMessage(_AnEvent):
    app, apps, difficulty, optimal = "Calendar", ("Messages", "Calendar"), "hard", 9
    goals = ("{name} texted me about a meeting: put it in my calendar.",
             "Add the event {name} messaged me about to my calendar.",
             "Read {name}'s last message and schedule what it proposes.")

    @classmethod
    def draw(cls, phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
        day = phone.now.date() + timedelta(days=rng.randrange(1, 20))
        return {**pick(phone, rng), "title": rng.choice(NEW_EVENTS), "date": day.isoformat(),
                "hour": rng.randrange(9, 20), "minute": rng.choice((0, 30))}

    def optimal_steps(self) -> int:
        return self.optimal        # the form takes the date typed: no paging

    def setup(self, phone: PhoneSim) -> None:
        contact = ensure(phone, self.params["name"], self.params["phone"])
        phone.app("messages").receive(contact.phone, f"Let's meet for {self.params['title']} on {self.params['day']} "
                                                     f"at {self.params['time']}")

    def succeeded(self, phone: PhoneSim) -> bool:
        event = phone.app("calendar").find(self.params["title"], date.fromisoformat(self.params["date"]))
        return event is not None and event.start == time(self.params["hour"], self.params["minute"])

    def solve(self, o: Oracle) -> None:
        o.open("Messages")
        o.tap(self.params["name"])
        text = [e.text for e in o.look().elements if e.content_desc.startswith("Received")][-1]
        found = re.search(r"for (.+) on (\w+) (\d+) at (\d+):(\d+) (AM|PM)", text)
        title, month_name, day_number, hour, minute, half = found.groups()
        o.open("Calendar")
        shown = next(e.text for e in o.look().elements if e.resource_id.endswith("/month_title"))
        this_month, year = shown.rsplit(" ", 1)
        month = list(cal.month_name).index(month_name)
        # a date without a year is the next one to come: this year, or next if its month is past
        year = int(year) + (month < list(cal.month_name).index(this_month))
        o.tap("Create new event")
        fill_event(o, title, date(year, month, int(day_number)),
                   time(int(hour) % 12 + (12 if half == "PM" else 0), int(minute)), None)
        o.complete()


class CalendarDeleteMissingInfeasible(_OnADay):
    app, difficulty, kind, optimal = "Calendar", "medium", "infeasible", 3
    goals = ("Delete my {title} event on {day}.", "Cancel {title} on {day}.",
             "Remove {title} ({day}) from my calendar.")

    @classmethod
    def draw(cls, phone: PhoneSim, rng: random.Random) -> dict[str, Any]:
        day = phone.now.date() + timedelta(days=rng.randrange(1, 12))
        return {"title": rng.choice(["Opera night", "Hackathon", "Wine tasting"]), "date": day.isoformat()}

    def setup(self, phone: PhoneSim) -> None:
        calendar = phone.app("calendar")
        calendar.events = [e for e in calendar.events if e.title != self.params["title"]]

    def solve(self, o: Oracle) -> None:
        open_day(o, date.fromisoformat(self.params["date"]))
        o.infeasible()
