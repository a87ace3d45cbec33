"""The explorer: drives a phone on its own and turns what it finds into memories, with no human
labels. Through the PhoneDevice interface only, like the agent.

1. Curiosity: for `curiosity_steps` it taps what it has not tapped yet (fewest tries first, on the
   screens it has seen least), opens apps it has not opened, goes back or home when a screen has
   nothing new. It notes what it meets: apps, switches and their state, buttons, and the forms
   behind them (their fields' hints).
2. Target focus: it proposes concrete goals from what it met ("Turn Bluetooth off", "Open the
   Timer tab in Clock", "Add a contact with the first name 'Mira'") and pursues each with the
   agent (any backend), from the home screen. The critic judges each attempt; the sink stores
   what passes.
"""
from __future__ import annotations

import random
import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agents.gui.agent import AgentConfig, GuiAgent
from agents.gui.backends import Memory
from agents.gui.history import element_name, is_keyboard, is_slider, level_reading, relative_point, screen_name
from control.phone.action import JSONAction
from control.phone.device import DeviceError, PhoneDevice
from control.phone.observation import Observation, UIElement

CREATE = re.compile(r"^(add|new|create)\b", re.I)
WORDS = ("Mira", "Juno", "Pavel", "Ilse", "Tomas", "Nadia", "Quill", "Rosa")
APP_VISIT = 12    # curiosity's steps per app opened: a calendar's thirty days must not eat the budget
TOPICS = ("garden plan", "road trip", "book club", "tax forms", "piano practice", "pasta recipe")


@dataclass
class Findings:
    """What curiosity met, per app (the app's name as the launcher shows it)."""

    apps: set[str] = field(default_factory=set)
    switches: dict[tuple[str, str], bool] = field(default_factory=dict)     # (app, label) -> checked
    tabs: set[tuple[str, str]] = field(default_factory=set)                 # (app, label)
    forms: dict[tuple[str, str], list[str]] = field(default_factory=dict)   # (app, create button) -> hints
    screens: Counter = field(default_factory=Counter)
    # (app, slider, "max" or "min") -> the way there from opening the app: memory steps, the slider's
    # tap last, recorded when that tap set the slider all the way (for the pursuit to follow)
    levels: dict[tuple[str, str, str], list[dict[str, Any]]] = field(default_factory=dict)
    readings: dict[tuple[str, str], int] = field(default_factory=dict)    # (app, slider) -> its last reading (%)


@dataclass
class ExploreReport:
    steps: int = 0
    goals: list[dict[str, Any]] = field(default_factory=list)     # goal, status, accepted, stored id
    findings: Findings = field(default_factory=Findings)


def _tab_bar(observation: Observation) -> list[str]:
    """Labels of a row of two to five short, clickable texts near the top, one of them selected:
    the app's tabs."""
    rows: dict[int, list] = {}
    for e in observation.elements:
        top_quarter = e.bounds.top < observation.screen_size[1] // 4
        if e.clickable and e.label and not e.editable and not e.checkable and top_quarter \
                and len(e.label.split()) <= 2 and not any(ch.isdigit() for ch in e.label):
            rows.setdefault(e.bounds.top, []).append(e)
    for row in rows.values():
        if 2 <= len(row) <= 5 and any(e.selected for e in row):
            return [e.label for e in row if not e.selected]
    return []


def _tappable(observation: Observation) -> list[UIElement]:
    """Elements a tap on does something: clickable ones, and the labels inside a clickable row (a
    settings row is a clickable container whose texts are not clickable themselves)."""
    rows = [e.bounds for e in observation.elements if e.clickable and not e.label]
    return [e for e in observation.elements if e.clickable or any(
        r.left <= e.bounds.center[0] < r.right and r.top <= e.bounds.center[1] < r.bottom for r in rows)]


def _level_goal(slider: str, end: str) -> str:
    """The goal of setting a slider all the way, in words, not as a label ("brightness level"):
    capitalised, the goal reader would take it for someone's name."""
    return f"Set {slider.lower()} to its {'maximum' if end == 'max' else 'minimum'}."


def _name(element: UIElement) -> str:
    """What curiosity counts tries of: a slider by what it sets (its text is its reading, which a tap changes)."""
    return element_name(element) if is_slider(element) else element.label


class Explorer:
    def __init__(self, device: PhoneDevice, agent: GuiAgent, remember: Callable[[str, Any], dict[str, Any]], *,
                 curiosity_steps: int = 120, goals: int = 10, seed: int = 0) -> None:
        self.device, self.agent, self.remember = device, agent, remember
        self.curiosity_steps, self.goals = curiosity_steps, goals
        self.rng = random.Random(seed)
        self.tried: Counter = Counter()          # (screen, label) -> taps
        self.report = ExploreReport()
        self._app = ""                           # the app last opened (launcher name)
        self._pending_form: tuple[str, str] | None = None
        self._route: list[dict[str, Any]] = []   # memory steps since the app was opened
        self._visit = 0                          # steps since then
        self._sliding: tuple[str, str] | None = None   # (slider, end) just tapped: its reading comes next

    def run(self) -> ExploreReport:
        self.curiosity()
        for goal in self.propose()[:self.goals]:
            self.pursue(goal)
        return self.report

    # -- curiosity ---------------------------------------------------------------------------------
    def curiosity(self) -> None:
        observation = self.device.reset()
        for _ in range(self.curiosity_steps):
            self.note(observation)
            action = self.next_action(observation)
            try:
                self.device.act(action)
            except DeviceError:
                pass                               # refused (a stale index): look again
            self.report.steps += 1
            observation = self.device.observe()

    def next_action(self, observation: Observation) -> JSONAction:
        screen = screen_name(observation.package, observation.activity)
        elements = [e for e in _tappable(observation) if e.label and not e.editable
                    and not is_keyboard(e) and "systemui" not in e.package]
        if "launcher" in observation.package:
            unopened = [e.label for e in elements if (screen, e.label) not in self.tried]
            if unopened:
                label = self.rng.choice(unopened)
                self.tried[(screen, label)] += 1
                self._app = label
                self._route = [{"screen": screen, "action": "open_app", "text": label}]
                self._visit = 0
                return JSONAction("open_app", app_name=label)
            self.tried.clear()                     # every app opened: another round, deeper
            return JSONAction("swipe", direction="up")
        self._visit += 1
        if self._visit > APP_VISIT:                # this app has had its share: the next one, from home
            self._visit = 0
            return JSONAction("navigate_home")
        fresh = [e for e in elements if self.tried[(screen, _name(e))] == 0]
        if fresh:
            element = self.rng.choice(fresh)
        elif self.rng.random() < 0.5:
            self._route.append({"screen": screen, "action": "navigate_back"})
            return JSONAction("navigate_back")
        else:
            element = min(elements, key=lambda e: (self.tried[(screen, _name(e))], self.rng.random()), default=None)
            if element is None:
                return JSONAction("navigate_home")
        tries = self.tried[(screen, _name(element))]
        self.tried[(screen, _name(element))] += 1
        if CREATE.match(element.label):
            self._pending_form = (self._app, element.label)
        if is_slider(element):
            return self._slide(screen, element, "max" if tries % 2 == 0 else "min")
        self._route.append({"screen": screen, "action": "click", "target": element_name(element)})
        return JSONAction("click", index=observation.elements.index(element))

    def _slide(self, screen: str, slider: UIElement, end: str) -> JSONAction:
        """A slider's ends are what there is to try on it (its middle is where a plain tap lands)."""
        b = slider.bounds
        x = b.right - 1 if end == "max" else b.left
        y = b.top + b.height // 2
        self._route.append({"screen": screen, "action": "click", "target": element_name(slider),
                            "at": relative_point(slider, x, y)})
        self._sliding = (element_name(slider), end)
        return JSONAction("click", x=x, y=y)

    def note(self, observation: Observation) -> None:
        findings = self.report.findings
        app = self._app if "launcher" not in observation.package else ""
        findings.screens[screen_name(observation.package, observation.activity)] += 1
        if "launcher" in observation.package:
            findings.apps.update(e.label for e in observation.elements if e.clickable and e.label and not e.editable)
            return
        for element in observation.elements:
            name = element.content_desc or element.label
            if element.class_name.endswith(("Switch", "CheckBox")) and name and name.upper() not in ("ON", "OFF") \
                    and len(name) < 30:
                findings.switches[(app, name)] = bool(element.checked)
        findings.tabs.update((app, label) for label in _tab_bar(observation))
        if self._sliding:
            name, end = self._sliding
            self._sliding = None
            slider = next((e for e in observation.elements if is_slider(e) and element_name(e) == name), None)
            reading = level_reading(slider.text) if slider is not None else None
            if reading is not None:
                findings.readings[(app, name)] = reading
            if reading is not None and (reading >= 95 if end == "max" else reading <= 5):
                findings.levels.setdefault((app, name, end), [*self._route, {"screen": self._route[-1]["screen"],
                                                                             "action": "status", "text": "complete"}])
        hints = [e.hint for e in observation.elements if e.editable and e.hint and "search" not in e.hint.casefold()]
        if self._pending_form and hints:
            findings.forms.setdefault(self._pending_form, hints)
            self._pending_form = None

    # -- target focus ------------------------------------------------------------------------------
    def propose(self) -> list[str]:
        """Concrete goals from what curiosity met, shuffled (seeded)."""
        findings, goals = self.report.findings, []
        for (_, label), checked in sorted(findings.switches.items()):
            goals.append(f"Turn {label} {'off' if checked else 'on'}.")
        for app, label in sorted(findings.tabs):
            if app:
                goals.append(f"Open the {label} tab in {app}.")
        for app, name in sorted({(app, name) for app, name, _ in findings.levels}):
            reading = findings.readings.get((app, name), 50)     # where curiosity left it: the goal moves it
            goals.append(_level_goal(name, "min" if reading >= 50 else "max"))
        for (app, button), hints in sorted(findings.forms.items()):
            words = [h for h in hints if re.search(r"title|name|label|message|subject", h, re.I)]
            if not words:
                continue                  # a form of numbers and dates: no goal a word can name
            value = self.rng.choice(WORDS) if "name" in words[0].casefold() else self.rng.choice(TOPICS)
            goals.append(f'{button} in {app} with the {words[0].lower()} "{value}".')
        self.rng.shuffle(goals)
        return goals

    def pursue(self, goal: str) -> None:
        """Try a proposed goal from the home screen. A level goal gets the way curiosity found as
        guidance (the agent has no rule for where on a slider to tap): the critic then judges
        whether following it from scratch did what the goal says."""
        self.device.reset()
        hints = [Memory(task=_level_goal(name, end), app=app, steps=route)
                 for (app, name, end), route in self.report.findings.levels.items()
                 if goal in (_level_goal(name, "max"), _level_goal(name, "min"))]
        result = self.agent.run(self.device, goal, memories=hints[:1])
        verdict = self.remember(goal, result)
        self.report.steps += result.actions
        self.report.goals.append({"goal": goal, "status": result.status, "steps": result.actions,
                                  "accepted": verdict.get("accepted"), "id": verdict.get("id")})


def explore_phones(hub: str, names: list[str], backend: Any, echo: Any, *, curiosity_steps: int, goals: int,
                   max_steps: int = 15, seed: int = 0, timeout: float = 60.0
                   ) -> tuple[list[tuple[str, dict[str, Any]]], list[tuple[str, str]]]:
    """One Explorer per phone daemon on the hub, each on its own thread, sharing `backend` and one
    EchoTrail (`echo`) that judges and stores what they find. Returns (phone, goal report) rows,
    and (phone, problem) for each phone that failed: one failing must not hide what the others found."""
    from control.phone import RemotePhone

    pursued: list[tuple[str, dict[str, Any]]] = []
    failures: list[tuple[str, str]] = []
    lock = threading.Lock()

    def on(index: int, name: str) -> None:
        keep = lambda goal, result: echo.remember(goal, result, provenance="explored", source=f"explorer/{name}")
        try:
            with RemotePhone(name, hub=hub, timeout=timeout) as phone:
                report = Explorer(phone, GuiAgent(backend, AgentConfig(max_steps=max_steps)), keep,
                                  curiosity_steps=curiosity_steps, goals=goals, seed=seed * 100 + index).run()
        except Exception as exc:
            with lock:
                failures.append((name, f"{type(exc).__name__}: {exc}"))
            return
        with lock:
            pursued.extend((name, goal) for goal in report.goals)

    threads = [threading.Thread(target=on, args=(i, n), daemon=True) for i, n in enumerate(names)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return pursued, failures
