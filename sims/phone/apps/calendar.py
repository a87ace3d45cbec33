"""Calendar: a month view, a day's events, an event's page, adding and deleting events."""
from __future__ import annotations

import calendar as cal
import random
import re
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import TYPE_CHECKING

from control.phone.observation import Bounds
from sims.phone.apps import App
from sims.phone.apps.clock import format_time
from sims.phone.ui import TEXT, VIEW_GROUP, Dialog, Field, Route, Screen, Ui, View

if TYPE_CHECKING:
    from sims.phone.phone import PhoneSim

SEED_EVENTS = ("Dentist", "Team lunch", "Yoga class", "Piano lesson", "Book club", "Car service", "Haircut",
               "Parent-teacher meeting", "Flight to Lisbon", "Budget review", "Coffee with Rosa", "Gym")
DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
TIME = re.compile(r"^(\d{1,2}):(\d{2})$")


@dataclass
class Event:
    id: int
    title: str
    day: date
    start: time
    end: time

    @property
    def when(self) -> str:
        return f"{format_time(self.start.hour, self.start.minute)} – {format_time(self.end.hour, self.end.minute)}"


def parse_date(text: str) -> date | None:
    match = DATE.match(text.strip())
    try:
        return date(*map(int, match.groups())) if match else None
    except ValueError:
        return None


def parse_time(text: str) -> time | None:
    match = TIME.match(text.strip())
    if not match:
        return None
    hour, minute = map(int, match.groups())
    return time(hour, minute) if hour < 24 and minute < 60 else None


class Calendar(App):
    package = "com.google.android.calendar"
    label = "Calendar"

    def __init__(self, phone: PhoneSim, rng: random.Random) -> None:
        super().__init__(phone, rng)
        today = phone.start_time.date()
        self.events: list[Event] = []
        self._next_id = 1
        for title in rng.sample(SEED_EVENTS, 8):
            day = today + timedelta(days=rng.randrange(-10, 25))
            hour = rng.randrange(8, 19)
            self.add(title, day, time(hour, rng.choice((0, 30))), time(min(23, hour + 1), 0))
        self.month = (today.year, today.month)

    # -- state -----------------------------------------------------------------------------------
    @property
    def today(self) -> date:
        return self.phone.now.date()

    def add(self, title: str, day: date, start: time, end: time) -> Event:
        event = Event(self._next_id, title, day, start, end)
        self._next_id += 1
        self.events.append(event)
        return event

    def on(self, day: date) -> list[Event]:
        return sorted((e for e in self.events if e.day == day), key=lambda e: (e.start, e.id))

    def find(self, title: str, day: date | None = None) -> Event | None:
        wanted = title.strip().casefold()
        return next((e for e in self.events if e.title.strip().casefold() == wanted and (day is None or e.day == day)),
                    None)

    def by_id(self, event_id: int) -> Event | None:
        return next((e for e in self.events if e.id == event_id), None)

    # -- screens ---------------------------------------------------------------------------------
    def screen_main(self, route: Route, ui: Ui) -> Screen:
        year, month = self.month
        header = Bounds(0, ui.top, ui.width, ui.top + ui.dp(150))
        views: list[View | None] = [
            ui.icon_button(Bounds(ui.dp(30), header.top + ui.dp(20), ui.dp(150), header.bottom - ui.dp(20)), "left",
                           "Previous month", lambda: self._shift(-1), rid="prev"),
            ui.text(Bounds(ui.dp(170), header.top, ui.width - ui.dp(170), header.bottom),
                    f"{cal.month_name[month]} {year}", size="title", rid="month_title"),
            ui.icon_button(Bounds(ui.width - ui.dp(150), header.top + ui.dp(20), ui.width - ui.dp(30),
                                  header.bottom - ui.dp(20)), "right", "Next month", lambda: self._shift(1),
                           rid="next")]
        width = ui.width // 7
        names_top = header.bottom
        for i, name in enumerate(("S", "M", "T", "W", "T", "F", "S")):
            views.append(View(TEXT, Bounds(i * width, names_top, (i + 1) * width, names_top + ui.dp(80)),
                              text=name, paint="center", size="caption", tone="muted", key=f"weekday:{i}"))
        grid_top = names_top + ui.dp(90)
        cell_h = min(ui.dp(200), (ui.bottom - grid_top - ui.dp(220)) // 6)
        grid = View(VIEW_GROUP, Bounds(0, grid_top, ui.width, grid_top + 6 * cell_h), rid="month_grid",
                    on_drag=self._swipe_month, key="grid")
        weeks = cal.Calendar(firstweekday=6).monthdayscalendar(year, month)
        for r, week in enumerate(weeks):
            for c, day_number in enumerate(week):
                if not day_number:
                    continue
                day = date(year, month, day_number)
                count = len(self.on(day))
                desc = f"{day:%A, %B} {day.day}" + (f", {count} event{'s' if count != 1 else ''}" if count else "")
                grid.add(View(TEXT, Bounds(c * width, grid_top + r * cell_h, (c + 1) * width,
                                           grid_top + (r + 1) * cell_h),
                              text=str(day_number), desc=desc, clickable=True, focusable=True, paint="cell",
                              checked=bool(count), tone="today" if day == self.today else "",
                              on_tap=lambda d=day: self.open("day", day=d.isoformat()), key=f"day:{day}"))
        views.append(grid)
        return Screen("Calendar", views, fab=ui.fab("Create new event", lambda: self._new(self.today)),
                      activity="AllInOneActivity")

    def _shift(self, months: int) -> None:
        year, month = self.month
        month += months
        year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
        self.month = (year, month)

    def _swipe_month(self, direction: str, distance: int) -> bool:
        if direction in ("left", "right"):  # the finger goes right: the earlier month comes in
            self._shift(1 if direction == "right" else -1)
            return True
        return False

    def _new(self, day: date) -> None:
        self.open("edit", day=day.isoformat())
        self.phone.focus = "calendar:title"

    def screen_day(self, route: Route, ui: Ui) -> Screen:
        day = date.fromisoformat(route.args["day"])
        area = Bounds(0, ui.top, ui.width, ui.bottom)

        def row(event: Event, b: Bounds) -> View | None:
            return ui.row(b, event.title, event.when, key=f"event:{event.id}", rid="event_row",
                          on_tap=lambda: self.open("event", id=event.id))
        listing = ui.list("events_list", self.on(day), ui.dp(200), row, area, empty="No events")
        return Screen(f"{day:%a, %b} {day.day}", [listing], fab=ui.fab("Create new event", lambda: self._new(day)),
                      up=True, activity="DayActivity")

    def screen_event(self, route: Route, ui: Ui) -> Screen:
        event = self.by_id(route.args["id"])
        if event is None:
            return self.gone(ui, "event", "EventInfoActivity")
        col = ui.column(48)
        col.skip(ui.dp(40))
        views = [ui.text(col.take(ui.dp(150)), event.title, size="headline", rid="title"),
                 ui.text(col.take(ui.dp(100)), f"{event.day:%A, %B} {event.day.day}, {event.day.year}",
                         rid="when_date"),
                 ui.text(col.take(ui.dp(100)), event.when, rid="when_time", tone="muted")]
        actions = [ui.icon_button(ui.action_slot(0), "delete", "Delete event", lambda: self._confirm_delete(event),
                                  rid="delete")]
        return Screen("", views, actions=actions, up=True, activity="EventInfoActivity")

    def _confirm_delete(self, event: Event) -> None:
        def delete() -> None:
            self.events = [e for e in self.events if e.id != event.id]
            self.close()
            self.toast("Event deleted")
        self.dialog(Dialog("Delete event?", message=event.title, buttons=(("Cancel", None), ("Delete", delete))))

    def screen_edit(self, route: Route, ui: Ui) -> Screen:
        draft = route.state.setdefault("draft", {"title": "", "date": route.args["day"], "start": "", "end": ""})
        col = ui.column(48)
        col.skip(ui.dp(30))
        fields = (("title", "Add title"), ("date", "Date (YYYY-MM-DD)"), ("start", "Start time (HH:MM)"),
                  ("end", "End time (HH:MM)"))
        views: list[View | None] = []
        for i, (name, hint) in enumerate(fields):
            following = fields[i + 1][0] if i + 1 < len(fields) else None
            binding = Field(f"calendar:{name}", lambda n=name: draft[n], lambda v, n=name: draft.__setitem__(n, v),
                            on_enter=(lambda n=following: setattr(self.phone, "focus", f"calendar:{n}"))
                            if following else None)
            views.append(ui.field(col.take(ui.dp(150)), binding, hint=hint, rid=name))
            col.skip(ui.dp(30))
        save = ui.button(ui.action_slot(0), "Save", lambda: self._save(draft), rid="save", style="text")
        return Screen("New event", views, actions=[save], up=True, activity="EditEventActivity")

    def _save(self, draft: dict[str, str]) -> None:
        title, day = draft["title"].strip(), parse_date(draft["date"])
        start, end = parse_time(draft["start"]), parse_time(draft["end"] or draft["start"])
        problem = ("Add a title" if not title else "Enter the date as YYYY-MM-DD" if day is None
                   else "Enter the start time as HH:MM" if start is None else "Enter the end time as HH:MM"
                   if end is None else "The event ends before it starts" if end < start else "")
        if problem:
            self.toast(problem)
            return
        self.add(title, day, start, end)
        self.month = (day.year, day.month)
        self.close()
        self.toast("Event saved")
