"""From a JSONAction and the observation it was chosen on to screen points, for every device.

Written once so that a phone through Appium, the simulator and any other device put a tap, a
scroll or a swipe at the same pixels for the same action, and refuse the same bad actions before
anything is touched.
"""
from __future__ import annotations

from typing import NamedTuple

from control.phone.action import (
    DOUBLE_TAP,
    INPUT_TEXT,
    LONG_PRESS,
    SCROLL,
    SWIPE,
    TARGETED,
    InvalidAction,
    JSONAction,
)
from control.phone.observation import Bounds, Observation

Point = tuple[int, int]

TAP_MS = 50
LONG_PRESS_MS = 1000
DOUBLE_TAP_GAP_MS = 100
SCROLL_MS = 400
SWIPE_MS = 500
# Swipes stop this fraction short of the screen edges: on phones with gesture navigation a drag
# that starts at the very edge is the system's Home or Back gesture, not the app's swipe.
EDGE_MARGIN = 0.05


class Gesture(NamedTuple):
    """An action resolved to the screen: `point` for taps and text targets, `path` for drags."""

    action: JSONAction
    point: Point | None = None
    path: tuple[Point, Point] | None = None


def resolve(action: JSONAction, observation: Observation | None,
            screen_size: tuple[int, int] | None = None) -> Gesture:
    """Where `action` lands; InvalidAction for an index or point that is not on this screen."""
    if observation is not None:
        screen_size = observation.screen_size
    kind = action.action_type
    point = _target(action, observation, screen_size) if kind in TARGETED else None
    if kind == SCROLL:
        return Gesture(action, path=scroll_path(action, observation, screen_size))
    if kind == SWIPE:
        if screen_size is None:
            raise InvalidAction("swipe: the screen size is not known yet; observe() first")
        return Gesture(action, path=swipe_path(action.direction, screen_size))
    return Gesture(action, point=point)


def _target(action: JSONAction, observation: Observation | None,
            screen_size: tuple[int, int] | None) -> Point | None:
    if action.index is not None:
        if observation is None:
            raise InvalidAction(f"{action.action_type} by index needs an observation: observe() first")
        return observation.element(action.index).bounds.center
    if action.x is None:
        return None
    if screen_size is not None:
        width, height = screen_size
        if not (action.x < width and action.y < height):
            raise InvalidAction(f"{action.action_type} at ({action.x}, {action.y}) is off the screen "
                                f"({width}x{height})")
    return action.x, action.y


def scroll_path(action: JSONAction, observation: Observation | None,
                screen_size: tuple[int, int] | None) -> tuple[Point, Point]:
    """AndroidWorld's scroll: from the centre of the region (element `index`, else the screen)
    to its edge, against the direction, so the content moves the way `direction` says."""
    if screen_size is None:
        raise InvalidAction("scroll: the screen size is not known yet; observe() first")
    width, height = screen_size
    if action.index is not None:
        b = _target_bounds(action, observation)
        region = Bounds(max(b.left, 0), max(b.top, 0), min(b.right, width), min(b.bottom, height))
    elif action.x is not None:
        _target(action, observation, screen_size)  # validates the point
        region = _around(action.x, action.y, width, height)
    else:
        region = Bounds(0, 0, width, height)
    cx, cy = region.center
    margin_x, margin_y = max(1, region.width // 10), max(1, region.height // 10)
    end = {"down": (cx, region.top + margin_y), "up": (cx, region.bottom - margin_y),
           "right": (region.left + margin_x, cy), "left": (region.right - margin_x, cy)}
    return (cx, cy), end[action.direction]


def _target_bounds(action: JSONAction, observation: Observation | None) -> Bounds:
    if observation is None:
        raise InvalidAction(f"{action.action_type} by index needs an observation: observe() first")
    return observation.element(action.index).bounds


def _around(x: int, y: int, width: int, height: int) -> Bounds:
    """A region centred on (x, y), as large as the screen allows (scroll at a point)."""
    half_w, half_h = min(x, width - 1 - x), min(y, height - 1 - y)
    return Bounds(x - half_w, y - half_h, x + half_w + 1, y + half_h + 1)


def swipe_path(direction: str, screen_size: tuple[int, int]) -> tuple[Point, Point]:
    """AndroidWorld's swipe: the finger crosses the screen in `direction`, through its middle."""
    width, height = screen_size
    mx, my = width // 2, height // 2
    left, right = int(width * EDGE_MARGIN), int(width * (1 - EDGE_MARGIN))
    top, bottom = int(height * EDGE_MARGIN), int(height * (1 - EDGE_MARGIN))
    paths = {"up": ((mx, bottom), (mx, top)), "down": ((mx, top), (mx, bottom)),
             "left": ((right, my), (left, my)), "right": ((left, my), (right, my))}
    return paths[direction]


__all__ = ["DOUBLE_TAP", "DOUBLE_TAP_GAP_MS", "Gesture", "INPUT_TEXT", "LONG_PRESS", "LONG_PRESS_MS",
           "SCROLL_MS", "SWIPE_MS", "TAP_MS", "resolve", "scroll_path", "swipe_path"]
