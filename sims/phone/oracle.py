"""The scripted oracle: solves tasks through the `PhoneDevice` interface only.

It observes, finds elements by what they show (text, description, hint), scrolls lists to find
what is below the fold, and acts with JSON actions, exactly as an agent could. It never touches
the simulator's state: a task whose oracle passes is solvable by looking at the screen.
"""
from __future__ import annotations

from control.errors import PodiumError
from control.phone.action import JSONAction
from control.phone.device import PhoneDevice
from control.phone.observation import Observation, UIElement


class OracleStuck(PodiumError, RuntimeError):
    """The oracle could not find what its script expected on the screen."""


class Oracle:
    def __init__(self, device: PhoneDevice, max_steps: int = 80) -> None:
        self.device = device
        self.max_steps = max_steps
        self.steps = 0          # every action
        self.scrolls = 0        # of which scrolls to find something
        self.trace: list[JSONAction] = []

    # -- seeing ----------------------------------------------------------------------------------
    def look(self) -> Observation:
        return self.device.observe()

    def elements(self) -> list[UIElement]:
        return list(self.look().elements)

    def index(self, label: str | None = None, *, desc: str | None = None, hint: str | None = None,
              rid: str | None = None, contains: bool = False, scroll: bool = True) -> int:
        """The index of the first element showing `label` (text or description), or with that
        description, hint or resource-id suffix; scrolls the screen's list down to find it."""
        wanted = f"{label or desc or hint or rid!r}"
        seen: tuple = ()
        for _ in range(12):
            obs = self.look()
            for i, e in enumerate(obs.elements):
                if _matches(e, label, desc, hint, rid, contains):
                    return i
            listing = next((i for i, e in enumerate(obs.elements) if e.scrollable), None)
            labels = tuple(e.label for e in obs.elements)
            if not scroll or listing is None or labels == seen:
                break
            seen = labels
            self._act(JSONAction("scroll", direction="down", index=listing), scroll=True)
        raise OracleStuck(f"no element {wanted} on the screen")

    def text_near(self, label: str) -> str:
        """The text shown right after the element labelled `label` (a row's value)."""
        obs = self.look()
        i = self.index(label, scroll=False)
        return obs.elements[i + 1].text if i + 1 < len(obs.elements) else ""

    def texts(self, *, rid: str | None = None) -> list[str]:
        """Every text on screen (with that resource-id suffix), top to bottom."""
        return [e.text for e in self.look().elements if e.text and (rid is None or e.resource_id.endswith(rid))]

    def all_texts(self, rid: str) -> list[str]:
        """Texts with resource-id suffix `rid` in the whole scrolled list (scrolling to its end)."""
        found: list[str] = []
        seen: tuple = ()
        while True:
            obs = self.look()
            found += [e.text for e in obs.elements if e.resource_id.endswith(rid) and e.text not in found]
            listing = next((i for i, e in enumerate(obs.elements) if e.scrollable), None)
            labels = tuple(e.label for e in obs.elements)
            if listing is None or labels == seen:
                return found
            seen = labels
            self._act(JSONAction("scroll", direction="down", index=listing), scroll=True)

    # -- acting ----------------------------------------------------------------------------------
    def _act(self, action: JSONAction, scroll: bool = False) -> None:
        if self.steps >= self.max_steps:
            raise OracleStuck(f"gave up after {self.max_steps} actions")
        self.device.act(action)
        self.steps += 1
        self.scrolls += scroll
        self.trace.append(action)

    def tap(self, label: str | None = None, **match: object) -> None:
        self._act(JSONAction("click", index=self.index(label, **match)))

    def tap_at(self, x: int, y: int) -> None:
        self._act(JSONAction("click", x=x, y=y))

    def type(self, text: str, *, into: str, clear: bool = True) -> None:
        """Type into the field showing `into` as its hint or text."""
        obs = self.look()
        index = next((i for i, e in enumerate(obs.elements) if e.editable and into.casefold()
                      in (e.hint.casefold(), e.text.casefold())), None)
        if index is None:
            index = self.index(hint=into)
        self._act(JSONAction("input_text", text=text, index=index, clear_text=clear))

    def toggle(self, label: str, on: bool) -> None:
        """Set the switch described as `label` on or off (tapping only if it must change)."""
        i = self.index(desc=label)
        if self.look().elements[i].checked != on:
            self._act(JSONAction("click", index=i))

    def open(self, app: str) -> None:
        self._act(JSONAction("open_app", app_name=app))

    def back(self) -> None:
        self._act(JSONAction("navigate_back"))

    def home(self) -> None:
        self._act(JSONAction("navigate_home"))

    def answer(self, text: str) -> None:
        self._act(JSONAction("answer", text=text))

    def complete(self) -> None:
        self._act(JSONAction("status", goal_status="complete"))

    def infeasible(self) -> None:
        self._act(JSONAction("status", goal_status="infeasible"))


def _matches(e: UIElement, label: str | None, desc: str | None, hint: str | None, rid: str | None,
             contains: bool) -> bool:
    def same(shown: str, wanted: str) -> bool:
        shown, wanted = shown.strip().casefold(), wanted.strip().casefold()
        return bool(shown) and (wanted in shown if contains else shown == wanted)
    if label is not None and not (same(e.text, label) or same(e.content_desc, label)):
        return False
    if desc is not None and not same(e.content_desc, desc):
        return False
    if hint is not None and not same(e.hint, hint):
        return False
    return rid is None or e.resource_id.endswith(f"/{rid}")
