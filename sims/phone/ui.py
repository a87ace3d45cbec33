"""The simulator's view tree: one tree per screen gives both the page source and the pixels.

A `View` is an Android view as UiAutomator2 reports it (class, text, content-desc, resource-id,
bounds, flags) plus what the simulator needs to draw it (`paint`, `tone`) and to react to it
(`on_tap`, `on_long_press`, `on_drag`, `field`). Apps build trees with the `Ui` helpers below,
which lay views out top to bottom and keep sizes proportional to the screen width, so any
resolution works.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field  # `field` is also a View attribute
from typing import Any

from control.phone.observation import Bounds

Handler = Callable[[], Any]

# Android classes, by role
TEXT, BUTTON, EDIT, IMAGE_BUTTON = ("android.widget.TextView", "android.widget.Button",
                                    "android.widget.EditText", "android.widget.ImageButton")
SWITCH, CHECKBOX, SEEKBAR = "android.widget.Switch", "android.widget.CheckBox", "android.widget.SeekBar"
FRAME, LINEAR, RECYCLER = ("android.widget.FrameLayout", "android.widget.LinearLayout",
                           "androidx.recyclerview.widget.RecyclerView")
VIEW_GROUP, IMAGE = "android.view.ViewGroup", "android.widget.ImageView"


@dataclass
class Field:
    """What an EditText edits: a value in app state, and what Enter does (the IME action)."""

    key: str                                  # unique on the screen: how focus finds it again
    get: Callable[[], str]
    set: Callable[[str], None]
    on_enter: Handler | None = None           # search, next field, send...; None: hide the keyboard
    numeric: bool = False                     # digits only (hours, minutes, phone numbers)
    max_length: int = 200


@dataclass(eq=False)
class View:
    cls: str
    bounds: Bounds
    text: str = ""
    desc: str = ""
    rid: str = ""                             # short id; the page source adds "<package>:id/"
    hint: str = ""
    clickable: bool = False
    long_clickable: bool = False
    checkable: bool = False
    checked: bool = False
    focusable: bool = False
    focused: bool = False
    enabled: bool = True
    selected: bool = False
    scrollable: bool = False
    password: bool = False
    paint: str = ""                           # how render.py draws it; "" draws nothing of its own
    tone: str = ""                            # colour role: accent, muted, danger, strong...
    size: str = "body"                        # text size role: caption, body, title, headline, display
    value: float = 0.0                        # sliders: 0..1
    on_tap: Handler | None = None
    on_long_press: Handler | None = None
    on_drag: Callable[[str, int], bool] | None = None   # direction, distance in px -> handled?
    on_slide: Callable[[float], None] | None = None     # sliders: the fraction where it was touched
    field: Field | None = None
    key: str = ""                             # stable identity among siblings (list rows: the item)
    children: list[View] = dataclass_field(default_factory=list)

    def add(self, *views: View | None) -> View:
        self.children.extend(v for v in views if v is not None)
        return self

    def walk(self) -> Any:
        """This view and every descendant, depth first, in drawing order."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class Route:
    """One screen of an app's back stack: its name, arguments, and state that lives with it
    (list scroll positions, form drafts)."""

    name: str
    args: dict[str, Any] = dataclass_field(default_factory=dict)
    state: dict[str, Any] = dataclass_field(default_factory=dict)


@dataclass
class Dialog:
    """A modal dialog: a title, a body built like a screen, buttons (label, handler or None to
    just close). Tapping outside or Back cancels it."""

    title: str
    body: Callable[[Ui, Column], list[View]] | None = None
    buttons: Sequence[tuple[str, Handler | None]] = (("OK", None),)
    state: dict[str, Any] = dataclass_field(default_factory=dict)
    message: str = ""
    keep_open: bool = False                   # set by a handler that refuses (e.g. a bad time)


@dataclass
class Screen:
    """What an app shows for a route: a title, the views below the app bar, a floating button,
    app-bar actions, and whether an Up arrow leads back."""

    title: str
    views: list[View]
    fab: View | None = None
    actions: list[View] = dataclass_field(default_factory=list)
    up: bool = False
    activity: str = "MainActivity"
    app_bar: bool = True


class Column:
    """A cursor that hands out rows from top to bottom inside [left, right) x [top, bottom)."""

    def __init__(self, left: int, top: int, right: int, bottom: int) -> None:
        self.left, self.top, self.right, self.bottom = left, top, right, bottom
        self.y = top

    def take(self, height: int, *, inset: int = 0) -> Bounds | None:
        """The next `height` pixels, or None when they do not fit (the view is off screen)."""
        if self.y + height > self.bottom:
            self.y = self.bottom
            return None
        bounds = Bounds(self.left + inset, self.y, self.right - inset, self.y + height)
        self.y += height
        return bounds

    def skip(self, height: int) -> None:
        self.y = min(self.bottom, self.y + height)

    def rest(self) -> Bounds:
        return Bounds(self.left, self.y, self.right, self.bottom)


class Ui:
    """Widgets, sized for a screen `width` pixels wide (Android's 1080-px design grid)."""

    def __init__(self, width: int, height: int, content_top: int, content_bottom: int,
                 route: Route | None, focus: str | None, bar: tuple[int, int] | None = None) -> None:
        self.width, self.height = width, height
        self.top, self.bottom = content_top, content_bottom
        self.route = route
        self.focus = focus
        self.bar = bar                            # the app bar's top and bottom, when there is one

    def dp(self, pixels_at_1080: float) -> int:
        return max(1, round(pixels_at_1080 * self.width / 1080))

    def action_slot(self, index: int) -> Bounds:
        """Where app-bar action `index` (counted from the right) goes."""
        top, bottom = self.bar or (0, self.top)
        right = self.width - self.dp(24) - index * self.dp(130)
        return Bounds(right - self.dp(120), top + self.dp(24), right, bottom - self.dp(24))

    def column(self, margin: int = 0) -> Column:
        return Column(self.dp(margin), self.top, self.width - self.dp(margin), self.bottom)

    # -- leaves ----------------------------------------------------------------------------------
    def text(self, bounds: Bounds | None, text: str, *, size: str = "body", tone: str = "", rid: str = "",
             desc: str = "", on_tap: Handler | None = None, key: str = "") -> View | None:
        if bounds is None:
            return None
        return View(TEXT, bounds, text=text, desc=desc, rid=rid, paint="text", size=size, tone=tone,
                    clickable=on_tap is not None, focusable=on_tap is not None, on_tap=on_tap, key=key)

    def button(self, bounds: Bounds | None, text: str, on_tap: Handler | None, *, rid: str = "",
               style: str = "filled", enabled: bool = True, desc: str = "") -> View | None:
        if bounds is None:
            return None
        return View(BUTTON, bounds, text=text, desc=desc, rid=rid, clickable=enabled, focusable=True,
                    enabled=enabled, paint="button" if style == "filled" else "textbutton",
                    tone="" if enabled else "muted", on_tap=on_tap if enabled else None)

    def icon_button(self, bounds: Bounds | None, glyph: str, desc: str, on_tap: Handler, *,
                    rid: str = "") -> View | None:
        if bounds is None:
            return None
        return View(IMAGE_BUTTON, bounds, desc=desc, rid=rid, clickable=True, focusable=True,
                    paint=f"glyph:{glyph}", on_tap=on_tap)

    def field(self, bounds: Bounds | None, binding: Field, *, hint: str, rid: str = "",
              password: bool = False) -> View | None:
        if bounds is None:
            return None
        focused = binding.key == self.focus
        return View(EDIT, bounds, text=binding.get(), hint=hint, rid=rid, clickable=True, long_clickable=True,
                    focusable=True, focused=focused, password=password, paint="field", field=binding,
                    tone="accent" if focused else "", key=binding.key)

    def switch(self, bounds: Bounds, checked: bool, on_toggle: Handler, *, desc: str = "",
               rid: str = "switch_widget") -> View:
        return View(SWITCH, bounds, text="ON" if checked else "OFF", desc=desc, rid=rid, clickable=True,
                    checkable=True, checked=checked, focusable=True, paint="switch", on_tap=on_toggle)

    def checkbox(self, bounds: Bounds, checked: bool, on_toggle: Handler, *, desc: str = "") -> View:
        return View(CHECKBOX, bounds, desc=desc, rid="checkbox", clickable=True, checkable=True,
                    checked=checked, focusable=True, paint="checkbox", on_tap=on_toggle)

    def slider(self, bounds: Bounds | None, value: float, on_slide: Callable[[float], None], *,
               desc: str, rid: str = "seekbar") -> View | None:
        if bounds is None:
            return None
        return View(SEEKBAR, bounds, text=f"{round(value * 100)}%", desc=desc, rid=rid, clickable=True,
                    focusable=True, scrollable=False, paint="slider", value=value, on_slide=on_slide,
                    on_drag=lambda direction, distance: False)

    def fab(self, desc: str, on_tap: Handler, *, glyph: str = "plus", rid: str = "fab") -> View:
        size = self.dp(168)
        right, bottom = self.width - self.dp(48), self.bottom - self.dp(48)
        return View(IMAGE_BUTTON, Bounds(right - size, bottom - size, right, bottom), desc=desc, rid=rid,
                    clickable=True, focusable=True, paint=f"fab:{glyph}", on_tap=on_tap)

    # -- composites ------------------------------------------------------------------------------
    def row(self, bounds: Bounds | None, title: str, subtitle: str = "", *, on_tap: Handler | None = None,
            on_long_press: Handler | None = None, key: str = "", avatar: str = "", rid: str = "",
            trailing: View | None = None, strong: bool = False) -> View | None:
        """A list row: optional avatar, a title, a subtitle below it, an optional trailing view."""
        if bounds is None:
            return None
        row = View(LINEAR, bounds, clickable=on_tap is not None, long_clickable=on_long_press is not None,
                   focusable=on_tap is not None, paint="row", on_tap=on_tap, on_long_press=on_long_press,
                   key=key, rid=rid)
        left = bounds.left + self.dp(48)
        if avatar:
            size = min(self.dp(112), bounds.height - self.dp(24))
            top = bounds.top + (bounds.height - size) // 2
            row.add(View(IMAGE, Bounds(left, top, left + size, top + size), paint=f"avatar:{avatar[:1].upper()}"))
            left += size + self.dp(40)
        right = (trailing.bounds.left - self.dp(24)) if trailing else bounds.right - self.dp(48)
        mid = bounds.top + bounds.height // 2
        if subtitle:
            row.add(View(TEXT, Bounds(left, mid - self.dp(62), right, mid), text=title, rid="title",
                         paint="text", size="body", tone="strong" if strong else ""),
                    View(TEXT, Bounds(left, mid + self.dp(4), right, mid + self.dp(58)), text=subtitle,
                         rid="summary", paint="text", size="caption", tone="muted"))
        else:
            row.add(View(TEXT, Bounds(left, mid - self.dp(34), right, mid + self.dp(34)), text=title,
                         rid="title", paint="text", size="body", tone="strong" if strong else ""))
        return row.add(trailing)

    def switch_row(self, bounds: Bounds | None, title: str, checked: bool, on_toggle: Handler,
                   subtitle: str = "", *, key: str = "") -> View | None:
        """A settings row whose switch toggles; tapping the row toggles too, as on Android."""
        if bounds is None:
            return None
        size_w, size_h = self.dp(150), self.dp(84)
        mid = bounds.top + bounds.height // 2
        switch = self.switch(Bounds(bounds.right - self.dp(48) - size_w, mid - size_h // 2,
                                    bounds.right - self.dp(48), mid + size_h // 2), checked, on_toggle,
                             desc=title)
        return self.row(bounds, title, subtitle, on_tap=on_toggle, key=key or title, trailing=switch)

    def list(self, key: str, items: Sequence[Any], row_height: int,
             make_row: Callable[[Any, Bounds], View | None], area: Bounds, *, empty: str = "") -> View:
        """A scrollable list (RecyclerView) over `area`: only rows on screen are in the tree. Its
        scroll position lives in the route, so Back returns to where the user was."""
        state = self.route.state if self.route is not None else {}
        visible = max(1, area.height // row_height)
        last_start = max(0, len(items) - visible)
        start = min(state.get(f"scroll:{key}", 0), last_start)
        state[f"scroll:{key}"] = start

        def scroll(direction: str, distance: int) -> bool:
            if direction not in ("up", "down"):
                return False
            rows = max(1, round(distance / row_height))
            new = min(last_start, max(0, start + (rows if direction == "down" else -rows)))
            state[f"scroll:{key}"] = new
            return new != start

        view = View(RECYCLER, area, rid=key, scrollable=len(items) > visible, focusable=True,
                    on_drag=scroll, key=key)
        for i, item in enumerate(items[start:start + visible]):
            top = area.top + i * row_height
            view.add(make_row(item, Bounds(area.left, top, area.right, top + row_height)))
        if not items and empty:
            view.add(self.text(Bounds(area.left, area.top + self.dp(120), area.right, area.top + self.dp(220)),
                               empty, tone="muted"))
        return view

    def tabs(self, bounds: Bounds, names: Sequence[str], selected: str, on_select: Callable[[str], None]) -> View:
        """A tab strip: one clickable tab per name, the selected one marked."""
        strip = View(LINEAR, bounds, rid="tabs")
        width = bounds.width // len(names)
        for i, name in enumerate(names):
            strip.add(View(TEXT, Bounds(bounds.left + i * width, bounds.top, bounds.left + (i + 1) * width,
                                        bounds.bottom), text=name, desc=name, clickable=True, focusable=True,
                           selected=name == selected, paint="tab", tone="accent" if name == selected else "muted",
                           on_tap=lambda n=name: on_select(n), key=f"tab:{name}"))
        return strip
