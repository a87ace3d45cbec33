"""A small phone that lives only in these tests: enough state to check the contract, the checker
and the bus path strictly (the Appium fake driver lacks keys and apps)."""
from __future__ import annotations

import numpy as np
import pytest

from control.phone import DeviceClosed, JSONAction, Observation, PhoneDevice, UIElement
from control.phone.gestures import resolve
from control.phone.observation import Bounds

SIZE = (360, 640)


class ToyPhone(PhoneDevice):
    """A launcher with two apps; 'notes' has a text field. Every action is logged."""

    name = "toy:0"

    def __init__(self) -> None:
        self.app, self.typed, self.log = "launcher", "", []
        self.closed = False
        self._last: Observation | None = None

    def _screen(self) -> tuple[UIElement, ...]:
        if self.app == "launcher":
            return (UIElement("android.widget.TextView", Bounds(20, 100, 160, 180), text="Notes",
                              clickable=True, package="toy.launcher"),
                    UIElement("android.widget.TextView", Bounds(200, 100, 340, 180), text="Clock",
                              clickable=True, package="toy.launcher"))
        return (UIElement("android.widget.EditText", Bounds(20, 60, 340, 120), text=self.typed,
                          clickable=True, focused=True, package=f"toy.{self.app}"),)

    def observe(self) -> Observation:
        self._check_open()
        pixels = np.full((SIZE[1], SIZE[0], 3), 40 if self.app == "launcher" else 200, np.uint8)
        self._last = Observation(pixels, self._screen(), SIZE, self.current_app(), "Main")
        return self._last

    def act(self, action) -> None:
        self._check_open()
        gesture = resolve(JSONAction.coerce(action), self._last, SIZE)
        kind = gesture.action.action_type
        self.log.append(kind)
        if kind == "click" and self.app == "launcher" and gesture.point[1] < 180:
            self.app = "notes" if gesture.point[0] < 180 else "clock"
        elif kind in ("navigate_home", "navigate_back"):
            self.app = "launcher"
        elif kind == "input_text":
            self.typed += gesture.action.text
        elif kind == "open_app":
            self.app = gesture.action.app_name.removeprefix("toy.").lower()

    def reset(self) -> Observation:
        self._check_open()
        self.app = "launcher"
        return self.observe()

    def current_app(self) -> str:
        self._check_open()
        return f"toy.{self.app}"

    def close(self) -> None:
        self.closed = True

    def _check_open(self) -> None:
        if self.closed:
            raise DeviceClosed("toy:0 is closed")


@pytest.fixture
def toy() -> ToyPhone:
    return ToyPhone()
