"""Clock: alarms (add with a time picker, edit, label, toggle, delete), a timer and a stopwatch.

Timer and stopwatch run on the phone's virtual clock, which moves with every action.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from control.phone.observation import Bounds
from sims.phone.apps import App
from sims.phone.ui import Column, Dialog, Field, Route, Screen, Ui, View

if TYPE_CHECKING:
    from sims.phone.phone import PhoneSim

TABS = ("Alarm", "Timer", "Stopwatch")
LABELS = ("Gym", "Wake up", "Meds", "School run", "Standup", "")


@dataclass
class Alarm:
    id: int
    hour: int          # 0..23
    minute: int
    label: str = ""
    enabled: bool = True
    vibrate: bool = True

    @property
    def time(self) -> str:
        return format_time(self.hour, self.minute)


def format_time(hour: int, minute: int) -> str:
    """'7:05 AM', as the Clock app writes it."""
    suffix = "AM" if hour < 12 else "PM"
    return f"{(hour % 12) or 12}:{minute:02d} {suffix}"


def hms(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600:02d}h {seconds // 60 % 60:02d}m {seconds % 60:02d}s"


class Clock(App):
    package = "com.google.android.deskclock"
    label = "Clock"

    def __init__(self, phone: PhoneSim, rng: random.Random) -> None:
        super().__init__(phone, rng)
        times = sorted(rng.sample([(h, m) for h in range(5, 23) for m in (0, 15, 30, 45)], 4))
        self.alarms = [Alarm(i + 1, h, m, rng.choice(LABELS), rng.random() < 0.6) for i, (h, m) in enumerate(times)]
        self._next_id = len(self.alarms) + 1
        self.timer_digits = ""              # what was typed on the keypad, as on Android
        self.timer_duration = 0             # seconds of the running (or paused) timer; 0: none
        self.timer_started: float | None = None
        self.timer_left = 0.0
        self.stopwatch_started: float | None = None
        self.stopwatch_total = 0.0
        self.laps: list[float] = []

    # -- state -----------------------------------------------------------------------------------
    def add_alarm(self, hour: int, minute: int, label: str = "", enabled: bool = True) -> Alarm:
        alarm = Alarm(self._next_id, hour, minute, label, enabled)
        self._next_id += 1
        self.alarms.append(alarm)
        return alarm

    def find(self, hour: int, minute: int) -> Alarm | None:
        return next((a for a in self.alarms if (a.hour, a.minute) == (hour, minute)), None)

    def by_id(self, alarm_id: int) -> Alarm | None:
        return next((a for a in self.alarms if a.id == alarm_id), None)

    @property
    def timer_remaining(self) -> float:
        if self.timer_started is None:
            return self.timer_left
        return max(0.0, self.timer_left - (self.phone.elapsed - self.timer_started))

    @property
    def timer_running(self) -> bool:
        return self.timer_started is not None and self.timer_remaining > 0

    @property
    def stopwatch(self) -> float:
        running = 0.0 if self.stopwatch_started is None else self.phone.elapsed - self.stopwatch_started
        return self.stopwatch_total + running

    # -- screens ---------------------------------------------------------------------------------
    def screen_main(self, route: Route, ui: Ui) -> Screen:
        tab = route.state.setdefault("tab", "Alarm")
        strip = ui.tabs(Bounds(0, ui.top, ui.width, ui.top + ui.dp(130)), TABS, tab,
                        lambda name: route.state.__setitem__("tab", name))
        ui.top += ui.dp(150)
        views, fab = getattr(self, f"_{tab.lower()}")(route, ui)
        return Screen("Clock", [strip, *views], fab=fab, activity="DeskClock")

    def _alarm(self, route: Route, ui: Ui) -> tuple[list[View | None], View | None]:
        area = Bounds(0, ui.top, ui.width, ui.bottom)
        ordered = sorted(self.alarms, key=lambda a: (a.hour, a.minute, a.id))

        def row(alarm: Alarm, b: Bounds) -> View | None:
            mid = b.top + b.height // 2
            switch = ui.switch(Bounds(b.right - ui.dp(198), mid - ui.dp(42), b.right - ui.dp(48), mid + ui.dp(42)),
                               alarm.enabled, lambda: self._toggle(alarm), desc=f"{alarm.time} alarm",
                               rid="onoff")
            return ui.row(b, alarm.time, alarm.label or ("On" if alarm.enabled else "Off"), trailing=switch,
                          key=f"alarm:{alarm.id}", rid="alarm_row", on_tap=lambda: self.open("alarm", id=alarm.id))
        listing = ui.list("alarm_recycler_view", ordered, ui.dp(210), row, area, empty="No alarms")
        return [listing], ui.fab("Add alarm", lambda: self._pick_time(None))

    def _toggle(self, alarm: Alarm) -> None:
        alarm.enabled = not alarm.enabled
        if alarm.enabled:
            self.toast(f"Alarm set for {alarm.time}")

    def _pick_time(self, alarm: Alarm | None) -> None:
        """The time picker (keyboard mode): hour, minute, AM or PM."""
        hour = alarm.hour if alarm else 8
        state = {"hour": str((hour % 12) or 12), "minute": f"{alarm.minute if alarm else 0:02d}",
                 "pm": hour >= 12}

        def body(ui: Ui, col: Column) -> list[View | None]:
            row = col.take(ui.dp(150))
            third = (row.right - row.left) // 3
            hour_f = Field("clock:hour", lambda: state["hour"], lambda v: state.__setitem__("hour", v), numeric=True,
                           max_length=2, on_enter=lambda: setattr(self.phone, "focus", "clock:minute"))
            minute_f = Field("clock:minute", lambda: state["minute"], lambda v: state.__setitem__("minute", v),
                             numeric=True, max_length=2)
            views = [ui.field(Bounds(row.left, row.top, row.left + third - ui.dp(20), row.bottom), hour_f,
                              hint="Hour", rid="input_hour"),
                     ui.field(Bounds(row.left + third, row.top, row.left + 2 * third - ui.dp(20), row.bottom),
                              minute_f, hint="Minute", rid="input_minute")]
            ampm = Bounds(row.left + 2 * third, row.top, row.right, row.bottom)
            half = ampm.height // 2
            for i, (text, pm) in enumerate((("AM", False), ("PM", True))):
                views.append(View("android.widget.RadioButton",
                                  Bounds(ampm.left, ampm.top + i * half, ampm.right, ampm.top + (i + 1) * half),
                                  text=text, rid=text.lower(), clickable=True, checkable=True,
                                  checked=state["pm"] == pm, focusable=True, paint="tab",
                                  tone="accent" if state["pm"] == pm else "muted", selected=state["pm"] == pm,
                                  on_tap=lambda p=pm: state.__setitem__("pm", p)))
            return views

        def done() -> None:
            parsed = _parse(state["hour"], state["minute"], state["pm"])
            if parsed is None:
                self.toast("Enter a valid time")
                self.phone.dialog.keep_open = True
                return
            if alarm is None:
                created = self.add_alarm(*parsed)
                self.toast(f"Alarm set for {created.time}")
            else:
                alarm.hour, alarm.minute = parsed
                alarm.enabled = True
                self.toast(f"Alarm set for {alarm.time}")
        self.dialog(Dialog("Set time" if alarm is None else "Change time", body, (("Cancel", None), ("OK", done)),
                           state=state))

    def screen_alarm(self, route: Route, ui: Ui) -> Screen:
        alarm = self.by_id(route.args["id"])
        if alarm is None:
            return self.gone(ui, "alarm", "AlarmActivity")
        col = ui.column(48)
        col.skip(ui.dp(40))
        views = [ui.text(col.take(ui.dp(200)), alarm.time, size="display", rid="digital_clock",
                         on_tap=lambda: self._pick_time(alarm)),
                 ui.switch_row(col.take(ui.dp(190)), "Enabled", alarm.enabled, lambda: self._toggle(alarm)),
                 ui.row(col.take(ui.dp(190)), "Label", alarm.label or "Add label", key="label",
                        on_tap=lambda: self._edit_label(alarm)),
                 self._vibrate_row(ui, col.take(ui.dp(190)), alarm)]
        col.skip(ui.dp(40))
        views.append(ui.button(col.take(ui.dp(140), inset=ui.dp(200)), "Delete", lambda: self._delete(alarm),
                               rid="delete"))
        return Screen("Alarm", views, up=True, activity="AlarmActivity")

    def _vibrate_row(self, ui: Ui, bounds: Bounds | None, alarm: Alarm) -> View | None:
        """A checkbox row, as Android's alarm editor has one for vibration."""
        if bounds is None:
            return None

        def flip() -> None:
            alarm.vibrate = not alarm.vibrate
        mid = bounds.top + bounds.height // 2
        box = ui.checkbox(Bounds(bounds.right - ui.dp(140), mid - ui.dp(36), bounds.right - ui.dp(68), mid + ui.dp(36)),
                          alarm.vibrate, flip, desc="Vibrate")
        return ui.row(bounds, "Vibrate", on_tap=flip, key="vibrate", trailing=box)

    def _edit_label(self, alarm: Alarm) -> None:
        state = {"label": alarm.label}

        def body(ui: Ui, col: Column) -> list[View | None]:
            binding = Field("clock:label", lambda: state["label"], lambda v: state.__setitem__("label", v))
            return [ui.field(col.take(ui.dp(140)), binding, hint="Label", rid="label_input")]

        def done() -> None:
            alarm.label = state["label"].strip()
        self.dialog(Dialog("Label", body, (("Cancel", None), ("OK", done)), state=state))

    def _delete(self, alarm: Alarm) -> None:
        self.alarms = [a for a in self.alarms if a.id != alarm.id]
        self.close()
        self.toast("Alarm deleted")

    def _timer(self, route: Route, ui: Ui) -> tuple[list[View | None], View | None]:
        col = ui.column(48)
        if self.timer_duration:
            running = self.timer_running
            views = [ui.text(col.take(ui.dp(220)), hms(self.timer_remaining), size="headline", rid="timer_time",
                             desc=f"{hms(self.timer_remaining)} remaining")]
            col.skip(ui.dp(40))
            row = col.take(ui.dp(140))
            half = (row.right - row.left) // 2
            views += [ui.button(Bounds(row.left, row.top, row.left + half - ui.dp(20), row.bottom),
                                "Pause" if running else "Resume", self._pause_timer, rid="pause"),
                      ui.button(Bounds(row.left + half + ui.dp(20), row.top, row.right, row.bottom), "Delete",
                                self._delete_timer, rid="delete_timer", style="text")]
            return views, None
        shown = self.timer_digits.rjust(6, "0")
        views = [ui.text(col.take(ui.dp(220)), f"{shown[:2]}h {shown[2:4]}m {shown[4:]}s", size="headline",
                         rid="timer_setup_time")]
        col.skip(ui.dp(20))
        keys = ("123", "456", "789", "0")
        for keys_row in keys:
            row = col.take(ui.dp(170))
            if row is None:
                break
            width = (row.right - row.left) // 3
            for i, digit in enumerate(keys_row):
                left = row.left + (i + (1 if keys_row == "0" else 0)) * width
                views.append(ui.button(Bounds(left + ui.dp(20), row.top + ui.dp(10), left + width - ui.dp(20),
                                              row.bottom - ui.dp(10)), digit, lambda d=digit: self._type_digit(d),
                                       rid=f"timer_setup_digit_{digit}", style="text"))
        if self.timer_digits:
            views.append(ui.icon_button(Bounds(ui.width - ui.dp(220), ui.top + ui.dp(40), ui.width - ui.dp(60),
                                               ui.top + ui.dp(180)), "close", "Delete", self._erase_digit,
                                        rid="timer_setup_delete"))
        fab = ui.fab("Start", self._start_timer, glyph="send") if self.timer_digits.strip("0") else None
        return views, fab

    def _type_digit(self, digit: str) -> None:
        if len(self.timer_digits) < 6 and (self.timer_digits or digit != "0"):
            self.timer_digits += digit

    def _erase_digit(self) -> None:
        self.timer_digits = self.timer_digits[:-1]

    def _start_timer(self) -> None:
        shown = self.timer_digits.rjust(6, "0")
        self.start_timer(int(shown[:2]) * 3600 + int(shown[2:4]) * 60 + int(shown[4:]))
        self.timer_digits = ""

    def start_timer(self, seconds: int) -> None:
        self.timer_duration = self.timer_left = seconds
        self.timer_started = self.phone.elapsed

    def _pause_timer(self) -> None:
        if self.timer_started is None:
            self.timer_started = self.phone.elapsed
        else:
            self.timer_left, self.timer_started = self.timer_remaining, None

    def _delete_timer(self) -> None:
        self.timer_duration, self.timer_started, self.timer_left = 0, None, 0.0

    def _stopwatch(self, route: Route, ui: Ui) -> tuple[list[View | None], View | None]:
        col = ui.column(48)
        running = self.stopwatch_started is not None
        seconds = self.stopwatch
        views = [ui.text(col.take(ui.dp(220)), f"{int(seconds // 60):02d}:{seconds % 60:05.2f}", size="headline",
                         rid="stopwatch_time_text")]
        col.skip(ui.dp(40))
        row = col.take(ui.dp(140))
        half = (row.right - row.left) // 2
        views += [ui.button(Bounds(row.left, row.top, row.left + half - ui.dp(20), row.bottom),
                            "Pause" if running else "Start", self._start_stop, rid="start_pause"),
                  ui.button(Bounds(row.left + half + ui.dp(20), row.top, row.right, row.bottom),
                            "Lap" if running else "Reset", self._lap_reset, rid="lap_reset", style="text",
                            enabled=running or seconds > 0)]
        for i, lap in enumerate(reversed(self.laps[-5:])):
            views.append(ui.text(col.take(ui.dp(100)), f"Lap {len(self.laps) - i}: {lap:.2f}s", tone="muted",
                                 key=f"lap:{i}"))
        return views, None

    def _start_stop(self) -> None:
        if self.stopwatch_started is None:
            self.stopwatch_started = self.phone.elapsed
        else:
            self.stopwatch_total, self.stopwatch_started = self.stopwatch, None

    def _lap_reset(self) -> None:
        if self.stopwatch_started is not None:
            self.laps.append(self.stopwatch - sum(self.laps))
        else:
            self.stopwatch_total, self.laps = 0.0, []


def _parse(hour: str, minute: str, pm: bool) -> tuple[int, int] | None:
    """A 12-hour time from the picker's fields, as (hour 0..23, minute), or None if invalid."""
    if not (hour.isdigit() and minute.isdigit()):
        return None
    h, m = int(hour), int(minute)
    if not (1 <= h <= 12 and 0 <= m <= 59):
        return None
    return (h % 12) + (12 if pm else 0), m
