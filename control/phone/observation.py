"""What a phone shows: `UIElement`s from the accessibility tree and the `Observation` of one moment.

Both are frozen. An observation carries the screenshot as an RGB numpy array (PNG bytes on demand),
the elements parsed from UiAutomator2's page source, the foreground package and activity, the
screen size in the coordinates that bounds and actions use, and when it was taken.

On the bus an observation travels as a plain tree (`to_tree` / `from_tree`): the screenshot as one
raw array frame, the elements as maps, nothing pickled.
"""
from __future__ import annotations

import io
import time
from dataclasses import asdict, dataclass, field, fields
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np

from control.errors import PodiumError


class BadObservation(PodiumError, ValueError):
    """An observation (or its wire form) that breaks the contract."""


class Bounds(NamedTuple):
    """An element's rectangle in screen pixels: left, top, right, bottom (right/bottom exclusive)."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def center(self) -> tuple[int, int]:
        return (self.left + self.right) // 2, (self.top + self.bottom) // 2

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def area(self) -> int:
        return max(0, self.width) * max(0, self.height)

    def __str__(self) -> str:  # UiAutomator2's own notation
        return f"[{self.left},{self.top}][{self.right},{self.bottom}]"


@dataclass(frozen=True, slots=True)
class UIElement:
    """One node of the accessibility tree, with UiAutomator2's attributes."""

    class_name: str
    bounds: Bounds
    text: str = ""
    content_desc: str = ""
    resource_id: str = ""
    package: str = ""
    hint: str = ""
    clickable: bool = False
    long_clickable: bool = False
    scrollable: bool = False
    checkable: bool = False
    checked: bool = False
    focusable: bool = False
    focused: bool = False
    enabled: bool = True
    selected: bool = False
    password: bool = False

    @property
    def label(self) -> str:
        """What a person would call it: its text, else its description, else its hint."""
        return self.text or self.content_desc or self.hint

    @property
    def editable(self) -> bool:
        return self.class_name.endswith("EditText")

    def to_tree(self) -> dict[str, Any]:
        tree = asdict(self)
        tree["bounds"] = list(self.bounds)
        return tree

    @classmethod
    def from_tree(cls, tree: Any) -> UIElement:
        if not isinstance(tree, dict):
            raise BadObservation(f"an element must be a map, got {type(tree).__name__}")
        unknown = set(tree) - _ELEMENT_FIELDS
        if unknown:
            raise BadObservation(f"unknown element field(s) {sorted(map(str, unknown))}")
        bounds = tree.get("bounds")
        if (not isinstance(bounds, (list, tuple)) or len(bounds) != 4
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in bounds)):
            raise BadObservation(f"element bounds must be 4 integers, got {bounds!r}")
        for name, kind in _ELEMENT_TYPES.items():
            if name in tree and not isinstance(tree[name], kind):
                raise BadObservation(f"element field {name!r} must be {kind.__name__}, got "
                                     f"{type(tree[name]).__name__}")
        if "class_name" not in tree:
            raise BadObservation("an element needs 'class_name'")
        return cls(**{**tree, "bounds": Bounds(*bounds)})

    def describe(self) -> str:
        """A one-line description for prompts and logs: class, label, id and state."""
        kind = self.class_name.rsplit(".", 1)[-1]
        parts = [kind]
        if self.label:
            parts.append(repr(self.label))
        if self.resource_id:
            parts.append(f"id={self.resource_id.rsplit('/', 1)[-1]}")
        states = [s for s in ("clickable", "long_clickable", "scrollable", "checkable", "focused")
                  if getattr(self, s)]
        if self.checkable:
            states.append("checked" if self.checked else "unchecked")
        if not self.enabled:
            states.append("disabled")
        if states:
            parts.append("(" + ", ".join(states) + ")")
        return " ".join(parts)


_ELEMENT_FIELDS = {f.name for f in fields(UIElement)}
_ELEMENT_TYPES = {f.name: (str if f.type == "str" else bool) for f in fields(UIElement)
                  if f.type in ("str", "bool")}


@dataclass(frozen=True, eq=False)  # eq would compare screenshots element-wise
class Observation:
    """The phone at one moment. `screen_size` is (width, height) in the pixels of element bounds
    and action coordinates; the screenshot may have another resolution (then scale by the ratio)."""

    screenshot: np.ndarray
    elements: tuple[UIElement, ...]
    screen_size: tuple[int, int]
    package: str = ""
    activity: str = ""
    timestamp: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        shot = self.screenshot
        if not isinstance(shot, np.ndarray) or shot.dtype != np.uint8 or shot.ndim != 3 or shot.shape[2] != 3:
            got = (f"{shot.dtype} array of shape {shot.shape}" if isinstance(shot, np.ndarray)
                   else type(shot).__name__)
            raise BadObservation(f"the screenshot must be an HxWx3 uint8 RGB array, got {got}")
        if shot.shape[0] == 0 or shot.shape[1] == 0:
            raise BadObservation(f"the screenshot is empty ({shot.shape})")
        if shot.flags.writeable:  # frozen means frozen: nobody edits a recorded screen
            shot = shot.copy()
            shot.flags.writeable = False
            object.__setattr__(self, "screenshot", shot)
        if not isinstance(self.elements, tuple) or not all(isinstance(e, UIElement) for e in self.elements):
            raise BadObservation("elements must be a tuple of UIElement")
        size = self.screen_size
        if (not isinstance(size, tuple) or len(size) != 2
                or not all(isinstance(v, int) and v > 0 for v in size)):
            raise BadObservation(f"screen_size must be (width, height) in pixels, got {size!r}")

    @property
    def screenshot_size(self) -> tuple[int, int]:
        """(width, height) of the screenshot itself."""
        return self.screenshot.shape[1], self.screenshot.shape[0]

    @cached_property
    def png(self) -> bytes:
        """The screenshot as PNG bytes (encoded once, on first use)."""
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(self.screenshot).save(buffer, format="PNG", compress_level=1)
        return buffer.getvalue()

    def element(self, index: int) -> UIElement:
        """Element `index`, or InvalidAction naming how many there are."""
        from control.phone.action import InvalidAction

        if not isinstance(index, int) or not 0 <= index < len(self.elements):
            raise InvalidAction(f"element index {index!r} is out of range: the screen has "
                                f"{len(self.elements)} element(s) (0..{len(self.elements) - 1})")
        return self.elements[index]

    def find(self, label: str) -> int | None:
        """Index of the first element whose text or description equals `label` (case-insensitive)."""
        wanted = label.strip().casefold()
        for i, element in enumerate(self.elements):
            if wanted in (element.text.strip().casefold(), element.content_desc.strip().casefold()):
                return i
        return None

    def describe(self, limit: int | None = None) -> str:
        """The element list as numbered lines: what an agent's prompt shows."""
        lines = [f"[{i}] {e.describe()}" for i, e in enumerate(self.elements[:limit])]
        return "\n".join(lines)

    # -- the wire --------------------------------------------------------------------------------
    def to_tree(self) -> dict[str, Any]:
        return {"screenshot": self.screenshot, "elements": [e.to_tree() for e in self.elements],
                "screen_size": list(self.screen_size), "package": self.package,
                "activity": self.activity, "timestamp": self.timestamp}

    @classmethod
    def from_tree(cls, tree: Any) -> Observation:
        if not isinstance(tree, dict):
            raise BadObservation(f"an observation must be a map, got {type(tree).__name__}")
        missing = {"screenshot", "elements", "screen_size"} - set(tree)
        if missing:
            raise BadObservation(f"an observation needs {sorted(missing)}")
        elements = tree["elements"]
        if not isinstance(elements, list):
            raise BadObservation("observation elements must be a list")
        size = tree["screen_size"]
        for name in ("package", "activity"):
            if not isinstance(tree.get(name, ""), str):
                raise BadObservation(f"observation {name!r} must be a string")
        stamp = tree.get("timestamp", 0.0)
        if not isinstance(stamp, (int, float)) or isinstance(stamp, bool):
            raise BadObservation("observation 'timestamp' must be a number")
        return cls(screenshot=tree["screenshot"],
                   elements=tuple(UIElement.from_tree(e) for e in elements),
                   screen_size=tuple(size) if isinstance(size, list) else size,
                   package=tree.get("package", ""), activity=tree.get("activity", ""),
                   timestamp=float(stamp))
