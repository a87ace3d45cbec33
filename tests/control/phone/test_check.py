"""The conformance check fails each kind of broken phone, naming the breach."""
from __future__ import annotations

import numpy as np
import pytest

from control.phone import ConformanceError, Observation, UIElement, UnsupportedCommand, check_phone
from control.phone.observation import Bounds
from tests.control.phone.conftest import ToyPhone


def test_a_good_phone_conforms_strictly(toy):
    report = check_phone(toy, strict=True)
    assert report.unsupported == {} and report.observations >= 15 and toy.closed
    assert "conforms" in str(report)


class AcceptsAnything(ToyPhone):
    def act(self, action) -> None:
        self.log.append(action)


class ElementOffScreen(ToyPhone):
    def observe(self) -> Observation:
        obs = super().observe()
        rogue = UIElement("android.widget.Button", Bounds(300, 600, 400, 700), text="rogue")
        return Observation(obs.screenshot, (*obs.elements, rogue), obs.screen_size, obs.package)


class WrongApp(ToyPhone):
    def current_app(self) -> str:
        self._check_open()
        return "com.other"

    def observe(self) -> Observation:
        obs = super().observe()
        return Observation(obs.screenshot, obs.elements, obs.screen_size, "toy.launcher")


class NoHome(ToyPhone):
    def act(self, action) -> None:
        if isinstance(action, dict) or not hasattr(action, "action_type") or action.action_type != "navigate_home":
            return super().act(action)
        raise UnsupportedCommand("toy:0 has no home key")

    def reset(self) -> Observation:
        raise UnsupportedCommand("toy:0 has no home key")


class WorksAfterClose(ToyPhone):
    def close(self) -> None:
        pass


class RaisesOddly(ToyPhone):
    def act(self, action) -> None:
        from control.phone import JSONAction

        if JSONAction.coerce(action).action_type == "swipe":
            raise RuntimeError("motor jammed")
        super().act(action)


class ReturnsArray(ToyPhone):
    def observe(self):
        return np.zeros((4, 4, 3), np.uint8)


@pytest.mark.parametrize("phone, words", [
    (AcceptsAnything(), "act({'action_type': 'teleport'}) succeeded; it must raise InvalidAction"),
    (ElementOffScreen(), "has bounds [300,600][400,700] outside the 360x640 screen"),
    (WrongApp(), "current_app() says 'com.other' but observe() says 'toy.launcher'"),
    (WorksAfterClose(), "observe() after close() succeeded; it must raise DeviceClosed"),
    (RaisesOddly(), "act({\"action_type\":\"swipe\",\"direction\":\"left\"}) raised RuntimeError: motor jammed"),
    (ReturnsArray(), "returned ndarray, not an Observation"),
    (object(), "object is not a PhoneDevice"),
])
def test_each_breach_is_named(phone, words):
    with pytest.raises(ConformanceError) as info:
        check_phone(phone)
    assert words in str(info.value)


def test_unsupported_commands_are_reported_and_fail_only_strict_checks():
    report = check_phone(NoHome())
    assert set(report.unsupported) == {"reset", "navigate_home"}
    with pytest.raises(ConformanceError, match="does not support: reset, navigate_home"):
        check_phone(NoHome(), strict=True)
