"""JSONAction: AndroidWorld's action, the one action contract of podium's GUI half.

Devices, the phone simulator and the GUI agent all speak it. The fields are AndroidWorld's
(google-research/android_world, env/json_action.py), and so is the JSON form:

    {"action_type": "click", "index": 3}
    {"action_type": "input_text", "text": "Alice", "index": 5, "clear_text": true}
    {"action_type": "scroll", "direction": "down"}
    {"action_type": "status", "goal_status": "complete"}

Unlike AndroidWorld's dataclass it is frozen and validated as a whole on construction: the type is
known, `index` and `x`/`y` are exclusive, every field the type needs is there and no field it does
not use is set (a device must never silently ignore part of an action). Anything wrong raises
`InvalidAction` naming the field.

Semantics, as AndroidWorld actuates them: `index` names an element of the observation the action
was chosen on, and clicking it taps the centre of its bounds. `scroll` moves the content (scroll
"down" drags the finger upwards, inside the element `index` or the whole screen); `swipe` moves
the finger (swipe "up" from the bottom edge to the top). `input_text` taps its target when one is
given, clears the field when `clear_text` is set, types, then presses Enter. `keyboard_enter`
presses `keycode` when given (any `KEYCODE_*`), else Enter. `status` and `answer` end an episode
and touch nothing on the device.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from control.errors import PodiumError

CLICK, DOUBLE_TAP, LONG_PRESS = "click", "double_tap", "long_press"
SCROLL, SWIPE = "scroll", "swipe"
INPUT_TEXT, KEYBOARD_ENTER = "input_text", "keyboard_enter"
NAVIGATE_HOME, NAVIGATE_BACK, OPEN_APP = "navigate_home", "navigate_back", "open_app"
STATUS, ANSWER, WAIT = "status", "answer", "wait"

DIRECTIONS = ("up", "down", "left", "right")
GOAL_STATUSES = ("complete", "infeasible")
FIELDS = ("action_type", "index", "x", "y", "text", "direction", "goal_status", "app_name", "keycode",
          "clear_text")

# Per type: the fields it must have and the ones it may have. "target" is `index` or `x`+`y`.
_REQUIRED: dict[str, tuple[str, ...]] = {
    CLICK: ("target",), DOUBLE_TAP: ("target",), LONG_PRESS: ("target",),
    SCROLL: ("direction",), SWIPE: ("direction",),
    INPUT_TEXT: ("text",), KEYBOARD_ENTER: (), NAVIGATE_HOME: (), NAVIGATE_BACK: (),
    OPEN_APP: ("app_name",), STATUS: ("goal_status",), ANSWER: ("text",), WAIT: (),
}
_OPTIONAL: dict[str, tuple[str, ...]] = {
    SCROLL: ("target",), INPUT_TEXT: ("target", "clear_text"), KEYBOARD_ENTER: ("keycode",),
}
ACTION_TYPES = tuple(_REQUIRED)
TARGETED = frozenset(t for t in ACTION_TYPES if "target" in _REQUIRED[t] + _OPTIONAL.get(t, ()))
# Actions that leave the device alone: the episode's bookkeeping, not a gesture.
NO_DEVICE_EFFECT = frozenset({STATUS, ANSWER})


class InvalidAction(PodiumError, ValueError):
    """An action that is malformed, or that cannot apply to the current screen."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class JSONAction:
    """One action on a phone; see the module docstring for the contract."""

    action_type: str
    index: int | None = None
    x: int | None = None
    y: int | None = None
    text: str | None = None
    direction: str | None = None
    goal_status: str | None = None
    app_name: str | None = None
    keycode: str | None = None
    clear_text: bool | None = None

    TYPES: ClassVar[tuple[str, ...]] = ACTION_TYPES

    def __post_init__(self) -> None:
        kind = self.action_type
        if not isinstance(kind, str) or kind not in _REQUIRED:
            raise InvalidAction(f"unknown action_type {kind!r}; expected one of {', '.join(ACTION_TYPES)}")
        self._check_types()
        present = self._present()
        if self.index is not None and (self.x is not None or self.y is not None):
            raise InvalidAction(f"{kind}: give either 'index' or 'x' and 'y', not both")
        if (self.x is None) != (self.y is None):
            raise InvalidAction(f"{kind}: 'x' and 'y' go together (got only {'x' if self.y is None else 'y'})")
        allowed = set(_REQUIRED[kind]) | set(_OPTIONAL.get(kind, ()))
        for name in _REQUIRED[kind]:
            if name not in present:
                need = "'index' or 'x' and 'y'" if name == "target" else repr(name)
                raise InvalidAction(f"{kind} needs {need}")
        extra = sorted(present - allowed)
        if extra:
            fields = ", ".join("'index'/'x'/'y'" if f == "target" else repr(f) for f in extra)
            raise InvalidAction(f"{kind} does not take {fields}")
        if kind == ANSWER and not self.text.strip():
            raise InvalidAction("answer needs a non-empty 'text'")
        if kind == OPEN_APP and not self.app_name.strip():
            raise InvalidAction("open_app needs a non-empty 'app_name'")

    def _check_types(self) -> None:
        for name in ("index", "x", "y"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value < 0):
                raise InvalidAction(f"'{name}' must be a non-negative integer, got {value!r}")
        for name in ("text", "app_name"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise InvalidAction(f"'{name}' must be a string, got {type(value).__name__}")
        if self.direction is not None and self.direction not in DIRECTIONS:
            raise InvalidAction(f"'direction' must be one of {', '.join(DIRECTIONS)}, got {self.direction!r}")
        if self.goal_status is not None and self.goal_status not in GOAL_STATUSES:
            raise InvalidAction(f"'goal_status' must be one of {', '.join(GOAL_STATUSES)}, "
                                f"got {self.goal_status!r}")
        if self.keycode is not None and (not isinstance(self.keycode, str)
                                         or not self.keycode.startswith("KEYCODE_")
                                         or len(self.keycode) == len("KEYCODE_")):
            raise InvalidAction(f"'keycode' must be an Android key name like 'KEYCODE_ENTER', got {self.keycode!r}")
        if self.clear_text is not None and not isinstance(self.clear_text, bool):
            raise InvalidAction(f"'clear_text' must be true or false, got {self.clear_text!r}")

    def _present(self) -> set[str]:
        present = {f for f in FIELDS[1:] if getattr(self, f) is not None} - {"index", "x", "y"}
        if self.index is not None or self.x is not None:
            present.add("target")
        return present

    # -- conversions -----------------------------------------------------------------------------
    def as_dict(self) -> dict[str, Any]:
        """The fields that are set, AndroidWorld's JSON layout."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JSONAction:
        """Build from a parsed JSON object; InvalidAction naming unknown keys or bad values.

        Numbers written as integral floats (540.0) or digit strings ("3" for an index), as models
        and other tools often write them, are accepted as integers."""
        if not isinstance(data, Mapping):
            raise InvalidAction(f"an action must be a JSON object, got {type(data).__name__}")
        unknown = sorted(str(k) for k in data if k not in FIELDS)
        if unknown:
            raise InvalidAction(f"unknown action field(s) {', '.join(map(repr, unknown))}; "
                                f"fields are {', '.join(FIELDS)}")
        if data.get("action_type") is None:
            raise InvalidAction("an action needs 'action_type'")
        values = {k: (_integral(v) if k in ("index", "x", "y") else v)
                  for k, v in data.items() if v is not None}
        return cls(**values)

    @classmethod
    def from_json(cls, text: str | bytes) -> JSONAction:
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidAction(f"not valid JSON: {exc}") from None
        return cls.from_dict(data)

    @classmethod
    def coerce(cls, action: JSONAction | Mapping[str, Any] | str) -> JSONAction:
        """A JSONAction from itself, a dict or a JSON string."""
        if isinstance(action, JSONAction):
            return action
        if isinstance(action, (str, bytes)):
            return cls.from_json(action)
        return cls.from_dict(action)

    def __str__(self) -> str:
        return self.to_json()


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return value
    return value
