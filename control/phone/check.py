"""`check_phone`: the conformance check every PhoneDevice passes (like gymnasium's `check_env`).

It drives the device through the whole contract: reset and observe give well-formed observations
whose elements lie on the screen, `current_app` agrees with them, bad actions are refused with
`InvalidAction` before the device is touched, every action type is performed (or refused with
`UnsupportedCommand` naming what is missing), and `close` is idempotent and final.

It acts on the device (taps, scrolls, goes home): run it on a test phone or an emulator, not on
one holding anything you care about. `strict=True` also fails on unsupported action types.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from control.errors import PodiumError
from control.phone.action import ACTION_TYPES, InvalidAction, JSONAction
from control.phone.device import DeviceClosed, PhoneDevice, UnsupportedCommand
from control.phone.observation import Observation


class ConformanceError(PodiumError, AssertionError):
    """A PhoneDevice broke the contract; the message says where."""


@dataclass
class PhoneReport:
    """What the check saw: action types performed and those the device said it cannot do."""

    device: str
    performed: list[str] = field(default_factory=list)
    unsupported: dict[str, str] = field(default_factory=dict)
    observations: int = 0

    def __str__(self) -> str:
        lines = [f"{self.device}: conforms ({self.observations} observations checked); "
                 f"performed {', '.join(self.performed) or 'nothing'}"]
        lines += [f"  unsupported {kind}: {why}" for kind, why in self.unsupported.items()]
        return "\n".join(lines)


def check_phone(device: PhoneDevice, *, strict: bool = False, close: bool = True) -> PhoneReport:
    """Run `device` through the contract; ConformanceError on the first breach."""
    if not isinstance(device, PhoneDevice):
        raise ConformanceError(f"{type(device).__name__} is not a PhoneDevice")
    report = PhoneReport(getattr(device, "name", type(device).__name__))
    first = _reset(device, report)
    current = _checked(device.observe(), "observe()", report)
    if current.timestamp < first.timestamp:
        raise ConformanceError("observe() returned a timestamp older than the reset() before it")
    _check_current_app(device, current)
    _check_refusals(device, current, report)
    for action in _sample_actions(current):
        _perform(device, action, report)
        current = _checked(device.observe(), f"observe() after {action}", report)
    _reset(device, report)
    if strict and report.unsupported:
        raise ConformanceError(f"{report.device} does not support: {', '.join(report.unsupported)}")
    if close:
        _check_close(device)
    return report


def _reset(device: PhoneDevice, report: PhoneReport) -> Observation:
    """reset(), or observe() where the device cannot go home (recorded as unsupported)."""
    try:
        return _checked(device.reset(), "reset()", report)
    except UnsupportedCommand as exc:
        report.unsupported.setdefault("reset", str(exc))
        return _checked(device.observe(), "observe() (reset is unsupported)", report)


def _checked(observation: object, what: str, report: PhoneReport) -> Observation:
    if not isinstance(observation, Observation):
        raise ConformanceError(f"{what} returned {type(observation).__name__}, not an Observation")
    width, height = observation.screen_size
    for i, element in enumerate(observation.elements):
        b = element.bounds
        if not (0 <= b.left <= b.right <= width and 0 <= b.top <= b.bottom <= height):
            raise ConformanceError(f"{what}: element {i} ({element.describe()}) has bounds {b} outside "
                                   f"the {width}x{height} screen")
    if not isinstance(observation.package, str) or not isinstance(observation.activity, str):
        raise ConformanceError(f"{what}: package and activity must be strings")
    report.observations += 1
    return observation


def _check_current_app(device: PhoneDevice, observation: Observation) -> None:
    app = device.current_app()
    if not isinstance(app, str):
        raise ConformanceError(f"current_app() returned {type(app).__name__}, not a str")
    if app and observation.package and app != observation.package:
        raise ConformanceError(f"current_app() says {app!r} but observe() says {observation.package!r}")


def _check_refusals(device: PhoneDevice, observation: Observation, report: PhoneReport) -> None:
    """Bad actions must raise InvalidAction and leave the device where it was."""
    width, height = observation.screen_size
    bad = [{"action_type": "teleport"}, "not json", {"action_type": "click"},
           {"action_type": "click", "index": len(observation.elements) + 5},
           {"action_type": "click", "x": width + 10, "y": height // 2},
           {"action_type": "scroll", "direction": "sideways"}]
    for action in bad:
        _must_raise(InvalidAction, lambda a=action: device.act(a), f"act({action!r})")
    after = _checked(device.observe(), "observe() after refused actions", report)
    if after.package != observation.package:
        raise ConformanceError(f"refused actions changed the foreground app from {observation.package!r} "
                               f"to {after.package!r}")


def _sample_actions(observation: Observation) -> list[JSONAction]:
    """One action of every type, aimed at what this screen shows."""
    width, height = observation.screen_size
    target = ({"index": 0} if observation.elements else {"x": width // 2, "y": height // 2})
    app = observation.package or "com.android.settings"
    actions = [
        JSONAction("wait"), JSONAction("navigate_home"), JSONAction("click", **target),
        JSONAction("navigate_home"), JSONAction("double_tap", x=width // 2, y=height // 2),
        JSONAction("long_press", x=width // 2, y=height // 2), JSONAction("navigate_back"),
        JSONAction("scroll", direction="down"), JSONAction("scroll", direction="up"),
        JSONAction("swipe", direction="left"), JSONAction("swipe", direction="right"),
        JSONAction("input_text", text="podium"), JSONAction("keyboard_enter"),
        JSONAction("open_app", app_name=app), JSONAction("status", goal_status="complete"),
        JSONAction("answer", text="42"),
    ]
    assert {a.action_type for a in actions} == set(ACTION_TYPES)  # every type, by construction
    return actions


def _perform(device: PhoneDevice, action: JSONAction, report: PhoneReport) -> None:
    try:
        device.act(action)
    except UnsupportedCommand as exc:
        report.unsupported.setdefault(action.action_type, str(exc))
        return
    except InvalidAction as exc:
        # Typing with no text field focused may be refused; nothing else a valid action may be.
        if action.action_type != "input_text":
            raise ConformanceError(f"act({action}) refused a valid action: {exc}") from exc
    except Exception as exc:
        raise ConformanceError(f"act({action}) raised {type(exc).__name__}: {exc}") from exc
    if action.action_type not in report.performed:
        report.performed.append(action.action_type)


def _check_close(device: PhoneDevice) -> None:
    device.close()
    device.close()  # idempotent
    for what, call in (("observe()", device.observe), ("current_app()", device.current_app),
                       ("act()", lambda: device.act({"action_type": "wait"}))):
        _must_raise(DeviceClosed, call, f"{what} after close()")


def _must_raise(expected: type[Exception], call: Callable[[], object], what: str) -> None:
    try:
        call()
    except expected:
        return
    except Exception as exc:
        raise ConformanceError(f"{what} raised {type(exc).__name__} ({exc}), not {expected.__name__}") from exc
    raise ConformanceError(f"{what} succeeded; it must raise {expected.__name__}")
