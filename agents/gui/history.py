"""History as the recent GUI-agent work found it helps (HiconAgent, HAR-GUI):

- every past action is an anchor, kept for the whole episode, with one sentence on its effect,
  worked out from the screens before and after it (what appeared, what went, which switch flipped,
  what a field now reads, which app or screen it led to);
- screenshots only for the last k steps (the current one included); older screens are dropped;
- a reflection note when an action had no visible effect or left the app unexpectedly, so the
  model does not repeat it;
- a loop detector: the same action with no effect, again and again, is caught and broken.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from control.phone.action import JSONAction
from control.phone.observation import Observation, UIElement

LOOP_LIMIT = 2   # the same no-effect action this many times in a row is a loop


def is_keyboard(element: UIElement) -> bool:
    return "inputmethod" in element.package


def app_name(package: str) -> str:
    """A readable name for a package: 'com.google.android.deskclock' -> 'deskclock'."""
    return package.rsplit(".", 1)[-1] if package else "?"


def field_name(element: UIElement) -> str:
    """What a text field is for: its hint, else its id."""
    return element.hint or element.resource_id.rsplit("/", 1)[-1] or element.label


def element_name(element: UIElement) -> str:
    """What a step acted on, named stably: a field by what it is for, a switch by what it
    switches (its text flips between ON and OFF), anything else by its label."""
    if element.editable:
        return field_name(element)
    if element.content_desc and (element.checkable or is_slider(element)):
        return element.content_desc
    return element.label


def screen_labels(observation: Observation, limit: int | None = 80) -> list[str]:
    """The labels a screen shows, in order, without the keyboard's keys and text fields."""
    return [e.label for e in observation.elements if e.label and not is_keyboard(e) and not e.editable][:limit]


def element_at(observation: Observation, x: int, y: int) -> UIElement | None:
    """The element a tap at (x, y) lands on, as a person would name it: the smallest labelled one
    holding the point."""
    under = [e for e in observation.elements if e.label and e.bounds.left <= x < e.bounds.right
             and e.bounds.top <= y < e.bounds.bottom]
    return min(under, key=lambda e: e.bounds.area) if under else None


def relative_point(element: UIElement, x: int, y: int) -> list[float]:
    """Where (x, y) lies within the element: 0..1 across and down (a memory replays a tap there)."""
    b = element.bounds
    return [round(min(1.0, max(0.0, (x - b.left) / max(1, b.width))), 3),
            round(min(1.0, max(0.0, (y - b.top) / max(1, b.height))), 3)]


def level_reading(label: str) -> int | None:
    """A percentage label's value ('80%' -> 80): how a slider shows its level."""
    match = re.fullmatch(r"(\d{1,3})\s?%", label.strip())
    return int(match.group(1)) if match else None


def acted_on(observation: Observation, action: JSONAction) -> UIElement | None:
    """The element an action acts on: the one it names by index, else the one under its point."""
    if action.index is not None and 0 <= action.index < len(observation.elements):
        return observation.elements[action.index]
    if action.x is not None and action.y is not None:
        return element_at(observation, action.x, action.y)
    return None


def is_slider(element: UIElement) -> bool:
    """A SeekBar: its text is its reading ('50%'), its description what it sets."""
    return element.class_name.endswith("SeekBar")


def screen_name(package: str, activity: str) -> str:
    """'com.android.settings', '.NetworkDashboard' -> 'settings/NetworkDashboard': where a step was."""
    return f"{app_name(package)}/{activity.lstrip('.').removesuffix('Activity') or '?'}"


def describe_action(action: JSONAction, before: Observation | None) -> str:
    """'tapped [3] TextView 'Battery'', 'typed "Ada" into [2] EditText 'First name''..."""
    target = ""
    if action.index is not None and before is not None and 0 <= action.index < len(before.elements):
        target = f"[{action.index}] {before.elements[action.index].describe()}"
    elif action.x is not None:
        target = f"({action.x}, {action.y})"
    kind = action.action_type
    words = {
        "click": f"tapped {target}", "double_tap": f"double-tapped {target}", "long_press": f"long-pressed {target}",
        "scroll": f"scrolled {action.direction}" + (f" in {target}" if target else ""),
        "swipe": f"swiped {action.direction}",
        "input_text": f"typed {action.text!r}" + (f" into {target}" if target else ""),
        "keyboard_enter": f"pressed {action.keycode or 'Enter'}", "navigate_home": "went home",
        "navigate_back": "went back", "open_app": f"opened {action.app_name}", "wait": "waited",
        "status": f"declared the task {action.goal_status}", "answer": f"answered {action.text!r}"}
    return words[kind]


def _labels(obs: Observation) -> dict[str, UIElement]:
    return {e.label: e for e in obs.elements if e.label and not is_keyboard(e)}


def _switches(obs: Observation) -> dict[str, UIElement]:
    """Checkable elements by what they are about: a switch's text flips with it ('ON', 'OFF'),
    its description ('Wi-Fi') does not."""
    return {e.content_desc or e.label: e for e in obs.elements if e.checkable and (e.content_desc or e.label)}


def summarize(before: Observation, after: Observation, action: JSONAction) -> tuple[str, bool]:
    """One sentence on what `action` changed on screen, and whether anything visibly changed."""
    changes: list[str] = []
    if before.package != after.package:
        changes.append(f"the app changed from {app_name(before.package)} to {app_name(after.package)}")
    elif before.activity != after.activity:
        changes.append(f"the screen changed to {after.activity.lstrip('.').removesuffix('Activity') or 'another'}")
    old_switches, new_switches = _switches(before), _switches(after)
    for name, element in new_switches.items():
        was = old_switches.get(name)
        if was is not None and was.checked != element.checked:
            changes.append(f"'{name}' is now {'on' if element.checked else 'off'}")
    old, new = _labels(before), _labels(after)
    edited = [(e.hint or e.resource_id.rsplit("/", 1)[-1], e.text) for e in after.elements
              if e.editable and e.text and not any(b.editable and b.text == e.text and b.hint == e.hint
                                                   for b in before.elements)]
    changes += [f"the field '{hint}' now reads {text!r}" for hint, text in edited[:2]]
    keyboard_before = any(is_keyboard(e) for e in before.elements)
    keyboard_after = any(is_keyboard(e) for e in after.elements)
    if keyboard_after != keyboard_before:
        changes.append("the keyboard " + ("appeared" if keyboard_after else "closed"))
    if before.package == after.package and before.activity == after.activity:
        appeared = [label for label in new if label not in old and not new[label].editable]
        gone = [label for label in old if label not in new]
        if appeared:
            changes.append("new on screen: " + ", ".join(repr(a) for a in appeared[:3]) +
                           (f" and {len(appeared) - 3} more" if len(appeared) > 3 else ""))
        if gone:
            changes.append("gone from screen: " + ", ".join(repr(g) for g in gone[:3]) +
                           (f" and {len(gone) - 3} more" if len(gone) > 3 else ""))
    changed = bool(changes) or not np.array_equal(before.screenshot, after.screenshot)
    if not changes:
        changes.append("the screen looks the same" if not changed else "the screen changed slightly")
    return f"After it {describe_action(action, before)}: {'; '.join(changes)}.", bool(changes) and changed


@dataclass
class Anchor:
    """One past step as the model sees it: the action and a sentence on its effect."""

    step: int
    action: JSONAction
    summary: str
    effect: bool
    reflection: str = ""
    screen: str = ""         # where it was taken: screen_name(package, activity)
    target: str = ""         # the name of the element it acted on (by index, or under its point)
    seen: tuple[str, ...] = ()   # the labels of the screen it was taken on: what was read along the way

    def line(self) -> str:
        note = f" Note: {self.reflection}" if self.reflection else ""
        return f"Step {self.step}: {self.action.to_json()} -> {self.summary}{note}"


@dataclass
class History:
    """Every anchor of the episode, and the screens of the last `screens` steps."""

    screens: int = 1
    anchors: list[Anchor] = field(default_factory=list)
    _shots: list[np.ndarray] = field(default_factory=list)

    def add(self, before: Observation, after: Observation, action: JSONAction) -> Anchor:
        summary, effect = summarize(before, after, action)
        acted = acted_on(before, action)
        target = element_name(acted) if acted is not None else ""
        seen = tuple(screen_labels(before, limit=None))
        anchor = Anchor(len(self.anchors) + 1, action, summary, effect, self._reflect(before, after, action, effect),
                        screen_name(before.package, before.activity), target, seen)
        self.anchors.append(anchor)
        self._shots = (self._shots + [before.screenshot])[-max(0, self.screens - 1):] if self.screens > 1 else []
        return anchor

    def add_failure(self, action: JSONAction | None, error: str) -> Anchor:
        """A step whose action could not be parsed or was refused by the phone."""
        shown = action if action is not None else JSONAction("wait")
        anchor = Anchor(len(self.anchors) + 1, shown, f"That step failed: {error}", False,
                        "fix the action: " + error[:160])
        self.anchors.append(anchor)
        return anchor

    def _reflect(self, before: Observation, after: Observation, action: JSONAction, effect: bool) -> str:
        kind = action.action_type
        if kind in ("status", "answer", "wait"):
            return ""
        if not effect:
            return f"{describe_action(action, before)} had no visible effect; do not repeat it, try something else"
        left = before.package != after.package and kind not in ("navigate_home", "navigate_back", "open_app")
        if left and "launcher" in after.package:
            return "that left the app unexpectedly; reopen it if the task is not done"
        return ""

    def previous_screens(self) -> list[np.ndarray]:
        """Screenshots of the steps before the current one, at most `screens - 1` of them."""
        return list(self._shots)

    def lines(self) -> list[str]:
        return [anchor.line() for anchor in self.anchors]

    def stuck_on(self) -> JSONAction | None:
        """The action repeated LOOP_LIMIT times in a row without effect, if any: a loop."""
        tail = self.anchors[-LOOP_LIMIT:]
        if len(tail) < LOOP_LIMIT or any(a.effect for a in tail):
            return None
        first = tail[0].action
        return first if all(a.action == first for a in tail) else None

    def tried(self, action: JSONAction) -> int:
        """How many times `action` was taken with no effect in this episode."""
        return sum(1 for a in self.anchors if a.action == action and not a.effect)
