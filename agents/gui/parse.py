"""From a model's text to a JSONAction: AndroidWorld's JSON, and UI-TARS-style function calls.

    Reason: the Wi-Fi row is visible.  Action: {"action_type": "click", "index": 4}
    ```json
    {"action_type": "input_text", "text": "Ada", "index": 2}
    ```
    Thought: open the drawer.  Action: click(point='<point>540 1200</point>')
    Action: type(content='hello\\n')          Action: scroll(point='(540,1200)', direction='down')
    Action: finished(content='done')        Action: press_back()

UI-TARS coordinates come in three conventions, chosen by the caller: `relative` (0..1000 on each
axis, UI-TARS 1.0), `resized` (pixels of the image the model saw after its processor resized it:
Qwen2.5-VL and UI-TARS-1.5), or `screen` (pixels of the phone's screen). They are mapped to the
screen's pixels. A box `(x1,y1,x2,y2)` means its centre.

Anything that does not parse raises `ParseError` saying what was wrong, which the agent sends back
to the model once as a correction.
"""
from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any

from control.errors import PodiumError
from control.phone.action import InvalidAction, JSONAction

CONVENTIONS = ("relative", "resized", "screen")


class ParseError(PodiumError, ValueError):
    """Model output that holds no usable action; the message says what to fix."""


@dataclass(frozen=True)
class Parsed:
    action: JSONAction
    reasoning: str
    format: str                 # "json" or "uitars"


@dataclass(frozen=True)
class Frame:
    """The geometry a model's coordinates refer to."""

    screen: tuple[int, int]                 # (width, height) of the phone's screen
    resized: tuple[int, int] | None = None  # (width, height) of the image the model saw
    convention: str = "resized"


def parse(text: str, frame: Frame) -> Parsed:
    """The action in `text`, whichever of the two formats it uses."""
    if not isinstance(text, str) or not text.strip():
        raise ParseError("the reply is empty: answer with one action")
    if _UITARS_CALL.search(text) and not _looks_like_json_action(text):
        return parse_uitars(text, frame)
    return parse_json(text)


def _looks_like_json_action(text: str) -> bool:
    return "action_type" in text


# -- AndroidWorld JSON --------------------------------------------------------------------------
def parse_json(text: str) -> Parsed:
    """An AndroidWorld JSON action anywhere in `text` (fenced, after 'Action:', or bare)."""
    reasoning = _reasoning(text)
    found = None
    for candidate in json_objects(text):
        if isinstance(candidate, dict) and "action_type" in candidate:
            found = candidate
            break
    if found is None:
        raise ParseError('no JSON action found: reply with an object like {"action_type": "click", "index": 3}')
    try:
        return Parsed(JSONAction.from_dict(found), reasoning, "json")
    except InvalidAction as exc:
        raise ParseError(f"the action is not valid: {exc}") from None


def json_objects(text: str) -> list[Any]:
    """Every JSON (or Python-literal) object in `text`, in order."""
    decoder = json.JSONDecoder()
    found: list[Any] = []
    for match in re.finditer(r"\{", text):
        start = match.start()
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            end = _matching_brace(text, start)
            if end is None:
                continue
            try:   # {'action_type': 'click'}: Python literals, which models write too (never eval'd)
                value = ast.literal_eval(text[start:end + 1])
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                continue
        found.append(value)
    return found


def _matching_brace(text: str, start: int) -> int | None:
    depth = 0
    for i in range(start, min(len(text), start + 4000)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    return None


def _reasoning(text: str) -> str:
    """What the model wrote before its action: 'Reason: ...' or 'Thought: ...', else the prose."""
    match = re.search(r"(?:Reason|Thought|Reasoning)\s*:\s*(.*?)(?:\n\s*Action\s*:|$)", text, re.S | re.I)
    if match:
        return match.group(1).strip()
    head = re.split(r"```|\{|\bAction\s*:", text, maxsplit=1)[0]
    return head.strip()


# -- UI-TARS function calls ---------------------------------------------------------------------
_UITARS_CALL = re.compile(r"\b(click|left_single|left_double|long_press|type|scroll|drag|swipe|press_home|"
                          r"press_back|hotkey|finished|open_app|wait|call_user)\s*\(", re.I)
_POINT = re.compile(r"<point>\s*(-?[\d.]+)[\s,]+(-?[\d.]+)\s*</point>"
                    r"|<\|box_start\|>\s*\(?\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*\)?"
                    r"(?:\s*,?\s*\(?\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*\)?)?\s*<\|box_end\|>"
                    r"|\[?\(?\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*(?:,\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*)?\)?\]?")
_ARGS = re.compile(r"(\w+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\")", re.S)
KEYS = {"enter": "KEYCODE_ENTER", "back": "KEYCODE_BACK", "home": "KEYCODE_HOME", "delete": "KEYCODE_DEL",
        "backspace": "KEYCODE_DEL", "tab": "KEYCODE_TAB", "space": "KEYCODE_SPACE", "escape": "KEYCODE_ESCAPE"}


def parse_uitars(text: str, frame: Frame) -> Parsed:
    """A UI-TARS-style call, the last one after 'Action:' if there are several."""
    part = text.split("Action:")[-1] if "Action:" in text else text
    calls = list(_UITARS_CALL.finditer(part))
    if not calls:
        raise ParseError("no action call found: reply like click(point='<point>540 1200</point>')")
    call = calls[-1]
    name = call.group(1).lower()
    body = _call_body(part, call.end())
    args = {k: _unescape(a if a is not None else b) for k, a, b in _ARGS.findall(body)}
    reasoning = _reasoning(text)
    try:
        action = _uitars_action(name, args, body, frame)
    except InvalidAction as exc:
        raise ParseError(f"{name}(...) is not a valid action: {exc}") from None
    return Parsed(action, reasoning, "uitars")


def _call_body(text: str, start: int) -> str:
    """The text between a call's parentheses (quotes may hold parentheses)."""
    depth, quote = 1, None
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if ch == "\\":
                continue
            if ch == quote and text[i - 1] != "\\":
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return text[start:i]
    raise ParseError("the action call is not closed: a ')' is missing")


def _unescape(value: str) -> str:
    return value.replace("\\n", "\n").replace("\\'", "'").replace('\\"', '"')


def _uitars_action(name: str, args: dict[str, str], body: str, frame: Frame) -> JSONAction:
    if name in ("click", "left_single", "left_double", "long_press"):
        x, y = _point(args.get("point") or args.get("start_box") or body, frame)
        kind = {"left_double": "double_tap", "long_press": "long_press"}.get(name, "click")
        return JSONAction(kind, x=x, y=y)
    if name == "type":
        content = args.get("content")
        if content is None:
            raise ParseError("type(...) needs content='...'")
        return JSONAction("input_text", text=content.rstrip("\n"))
    if name == "scroll":
        direction = (args.get("direction") or "").lower()
        where = args.get("point") or args.get("start_box")
        if where:
            x, y = _point(where, frame)
            return JSONAction("scroll", direction=direction, x=x, y=y)
        return JSONAction("scroll", direction=direction)
    if name in ("drag", "swipe"):
        start = _point(args.get("start_point") or args.get("start_box") or "", frame)
        end = _point(args.get("end_point") or args.get("end_box") or "", frame)
        dx, dy = end[0] - start[0], end[1] - start[1]
        direction = ("down" if dy > 0 else "up") if abs(dy) >= abs(dx) else ("right" if dx > 0 else "left")
        return JSONAction("swipe", direction=direction)   # the finger's direction
    if name == "press_home":
        return JSONAction("navigate_home")
    if name == "press_back":
        return JSONAction("navigate_back")
    if name == "hotkey":
        key = (args.get("key") or "").lower()
        if key not in KEYS:
            raise ParseError(f"hotkey {key!r} is not a key this phone has; keys: {', '.join(KEYS)}")
        if key == "back":
            return JSONAction("navigate_back")
        if key == "home":
            return JSONAction("navigate_home")
        return JSONAction("keyboard_enter", keycode=KEYS[key])
    if name == "open_app":
        return JSONAction("open_app", app_name=args.get("app_name", ""))
    if name == "wait":
        return JSONAction("wait")
    if name == "finished":
        content = (args.get("content") or "").strip()
        return JSONAction("answer", text=content) if content else JSONAction("status", goal_status="complete")
    if name == "call_user":
        return JSONAction("status", goal_status="infeasible")
    raise ParseError(f"{name}(...) is not an action this phone supports")


def _point(text: str, frame: Frame) -> tuple[int, int]:
    match = _POINT.search(text or "")
    if match is None:
        raise ParseError(f"no coordinates in {text[:60]!r}: write point='<point>x y</point>'")
    numbers = [float(g) for g in match.groups() if g is not None]
    if len(numbers) == 4:   # a box: its centre
        x, y = (numbers[0] + numbers[2]) / 2, (numbers[1] + numbers[3]) / 2
    else:
        x, y = numbers[0], numbers[1]
    return _to_screen(x, y, frame)


def _to_screen(x: float, y: float, frame: Frame) -> tuple[int, int]:
    width, height = frame.screen
    if frame.convention == "relative":
        sx, sy = x / 1000 * width, y / 1000 * height
    elif frame.convention == "resized":
        rw, rh = frame.resized or frame.screen
        sx, sy = x * width / rw, y * height / rh
    else:
        sx, sy = x, y
    if not (0 <= sx < width and 0 <= sy < height):
        raise ParseError(f"the point ({x:g}, {y:g}) is off the screen ({frame.convention} coordinates)")
    return int(sx), int(sy)
