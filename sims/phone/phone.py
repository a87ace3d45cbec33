"""`PhoneSim`: a simulated Android phone with real apps, usable in process as a `PhoneDevice`, over
the bus (`podium sim phone`) and over HTTP with the Appium protocol (`sims.phone.server`).

What it models, as Android does it:
- the home screen (some apps on it, all of them in the app drawer one swipe up), a status bar
  (time, Wi-Fi, Bluetooth, airplane mode, battery), apps with a back stack each (Back pops it, and
  from an app's first screen goes home; Home keeps every app's stack; reopening resumes it);
- a soft keyboard whenever a text field has focus (tap its keys, or type), whose Enter key is the
  field's action (search, next field, done); Back hides it first;
- modal dialogs (Back or a tap outside cancels them), toasts that fade after a few seconds;
- lists longer than the screen that scroll with a drag, switches, checkboxes, sliders;
- a dark theme that repaints everything.
Time is virtual: it starts at a date drawn from the seed and moves 2 s per action (`wait`: 5 s),
so runs are reproducible and a timer counts down with the agent's actions.

All app state lives in the app objects (`phone.app("contacts").contacts`...); the task suite sets
it up and reads success from it. Agents never see it: they observe and act like anyone else.
"""
from __future__ import annotations

import contextlib
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import numpy as np

from control.phone.action import InvalidAction, JSONAction
from control.phone.device import DeviceClosed, PhoneDevice
from control.phone.gestures import resolve
from control.phone.keys import BACK, ENTER, HOME, KEYCODES, keycode
from control.phone.observation import Bounds, Observation
from control.phone.page_source import parse_page_source
from sims.phone.hierarchy import Window, nodes, page_source
from sims.phone.render import Renderer, encode_png
from sims.phone.ui import BUTTON, FRAME, IMAGE, LINEAR, TEXT, VIEW_GROUP, Dialog, Route, Ui, View

T = TypeVar("T")
LAUNCHER = "com.google.android.apps.nexuslauncher"
SYSTEM_UI = "com.android.systemui"
KEYBOARD = "com.google.android.inputmethod.latin"
ACTION_SECONDS, WAIT_SECONDS, TOAST_SECONDS = 2, 5, 4
KEY_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")
_CHAR_KEYS = {code: name[len("KEYCODE_"):].lower() for name, code in KEYCODES.items()
              if len(name) == len("KEYCODE_") + 1}
_TYPEABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f]")   # no keyboard types these (tab and newline it does)
_CHAR_KEYS.update({KEYCODES["KEYCODE_SPACE"]: " ", KEYCODES["KEYCODE_PERIOD"]: ".",
                   KEYCODES["KEYCODE_COMMA"]: ","})


@dataclass
class Frame:
    """One moment of the screen: windows (drawing order), their page source, and, made on first
    use, its pixels and PNG. A frame never changes once composed, so it is painted outside the
    phone's lock (its own lock keeps two threads from painting it twice)."""

    version: int
    windows: list[Window]
    source: str
    theme: str
    pixels: np.ndarray | None = None
    png: bytes | None = None
    painting: threading.Lock = field(default_factory=threading.Lock)


class PhoneSim(PhoneDevice):
    """A simulated phone; see the module docstring. Thread-safe: the bus and HTTP may share it."""

    def __init__(self, seed: int = 0, *, width: int = 1080, height: int = 2400, name: str = "sim:phone") -> None:
        if width < 240 or height < 400:
            raise ValueError(f"a phone screen of {width}x{height} is too small (at least 240x400)")
        self.name, self.size = name, (width, height)
        self._lock = threading.RLock()
        self.renderer = Renderer(width, height)
        self.s = Sizes(width, height)
        self._closed = False
        self._painter: ThreadPoolExecutor | None = None
        self.restore(seed)

    def restore(self, seed: int) -> None:
        """Back to the state seed `seed` gives: apps, content, clock, home screen (a factory reset)."""
        from sims.phone.apps import build_apps
        from sims.phone.apps.launcher import Launcher

        with self._lock:
            self.seed = seed
            rng = random.Random(seed)
            self.start_time = datetime(2026, 10, 1, 8, 0) + timedelta(days=rng.randrange(60),
                                                                    minutes=15 * rng.randrange(40))
            self.elapsed = 0.0
            self.battery = rng.randrange(35, 96)
            self.apps = build_apps(self, rng)
            self.launcher = Launcher(self)
            self.foreground = LAUNCHER
            self.stacks: dict[str, list[Route]] = {}
            self.focus: str | None = None
            self.dialog: Dialog | None = None
            self.toast_text, self.toast_until = "", 0.0
            self.agent_status: str | None = None   # the episode's last `status` / `answer`, for harnesses
            self.agent_answer: str | None = None
            self.activity = ""
            self._last: Observation | None = None
            self.version = getattr(self, "version", 0) + 1
            self._frame: Frame | None = None

    # -- time ------------------------------------------------------------------------------------
    @property
    def now(self) -> datetime:
        return self.start_time + timedelta(seconds=self.elapsed)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.elapsed += seconds
            self._changed()

    # -- state changes ---------------------------------------------------------------------------
    def app(self, name: str) -> Any:
        """An app by package, label or short name ('contacts'); KeyError naming the installed ones."""
        wanted = name.strip().casefold()
        for app in self.apps.values():
            if wanted in (app.package.casefold(), app.label.casefold(), type(app).__name__.casefold()):
                return app
        raise KeyError(f"no app {name!r} on this phone; installed: {', '.join(a.label for a in self.apps.values())}")

    def _changed(self) -> None:
        self.version += 1
        self._frame = None

    def stack(self, package: str) -> list[Route]:
        return self.stacks.setdefault(package, [Route(self.apps[package].root)])

    def push(self, package: str, route: Route) -> None:
        self.stack(package).append(route)
        self.focus = None

    def pop(self, package: str) -> None:
        """Back within an app: its previous screen, or home from its first one."""
        stack = self.stack(package)
        self.focus = None
        leave = getattr(self.apps[package], "leave", None)
        if leave is not None:  # an editor that saves on the way out
            leave(stack[-1])
        if len(stack) > 1:
            stack.pop()
        else:
            self.stacks.pop(package, None)
            if self.foreground == package:
                self.foreground = LAUNCHER

    def show_dialog(self, dialog: Dialog) -> None:
        self.dialog, self.focus = dialog, None

    def toast(self, text: str) -> None:
        self.toast_text, self.toast_until = text, self.elapsed + TOAST_SECONDS

    def launch(self, name: str) -> None:
        """Open an app by package or label (resuming its back stack); InvalidAction if not installed.
        The launcher's own package opens the home screen, as activating it does on Android."""
        with self._lock:
            if name.strip() == LAUNCHER:
                self.home()
                return
            try:
                app = self.app(name)
            except KeyError as exc:
                raise InvalidAction(str(exc.args[0])) from None
            self.dialog, self.focus = None, None
            self.launcher.drawer = False
            self.foreground = app.package
            self.stack(app.package)
            self._changed()

    def terminate(self, name: str) -> bool:
        """Stop an app (its back stack is gone); True if it was running."""
        with self._lock:
            app = self.app(name)
            running = app.package in self.stacks
            self.stacks.pop(app.package, None)
            if self.foreground == app.package:
                self.foreground, self.dialog, self.focus = LAUNCHER, None, None
            self._changed()
            return running

    def home(self) -> None:
        with self._lock:
            self.foreground, self.dialog, self.focus = LAUNCHER, None, None
            self.launcher.drawer = False
            self._changed()

    def back(self) -> None:
        with self._lock:
            if self.focus is not None:
                self.focus = None            # the keyboard goes first
            elif self.dialog is not None:
                self.dialog = None
            elif self.foreground == LAUNCHER:
                self.launcher.drawer = False
            else:
                self.pop(self.foreground)
            self._changed()

    # -- the screen ------------------------------------------------------------------------------
    def frame(self) -> Frame:
        """The current screen (built once per change)."""
        with self._lock:
            if self.toast_text and self.elapsed >= self.toast_until:
                self.toast_text = ""
                self._frame = None
            if self._frame is None or self._frame.version != self.version:
                windows = self._compose()
                self._frame = Frame(self.version, windows, page_source(windows, *self.size), self.theme)
            return self._frame

    def pixels(self) -> np.ndarray:
        return self._paint(self.frame())

    def png(self) -> bytes:
        frame = self.frame()
        pixels = self._paint(frame)
        with frame.painting:
            if frame.png is None:
                frame.png = encode_png(pixels)
            return frame.png

    def _paint(self, frame: Frame) -> np.ndarray:
        with frame.painting:
            if frame.pixels is None:
                frame.pixels = self.renderer.render([w.root for w in frame.windows], frame.theme)
            return frame.pixels

    def prepare_screenshot(self) -> None:
        """Start painting the current frame in the background: a client that acted will ask for
        the screen next, and meanwhile asks for the page source or runs its own code."""
        if self._painter is None:
            self._painter = ThreadPoolExecutor(1, thread_name_prefix="podium-paint")
        self._painter.submit(self.png)

    @property
    def theme(self) -> str:
        return "dark" if self.app("settings").dark_theme else "light"

    def _compose(self) -> list[Window]:
        s = self.s
        keyboard = self.focus is not None
        content_bottom = s.height - s.nav - (s.keyboard if keyboard else 0)
        windows = [self._app_window(content_bottom), Window(SYSTEM_UI, self._status_bar())]
        if self.dialog is not None:
            windows.append(Window(self.foreground, self._dialog_window()))
        if keyboard:
            windows.append(Window(KEYBOARD, self._keyboard()))
        if self.toast_text:
            windows.append(Window(SYSTEM_UI, self._toast()))
        focused = {v.field.key for w in windows for v in w.root.walk() if v.field is not None}
        if self.focus is not None and self.focus not in focused:  # its screen is gone
            self.focus = None
            return self._compose()
        return windows

    def _app_window(self, content_bottom: int) -> Window:
        s = self.s
        if self.foreground == LAUNCHER:
            ui = Ui(s.width, s.height, s.status, content_bottom, None, self.focus)
            root = View(FRAME, Bounds(0, 0, s.width, s.height), key=LAUNCHER)
            return Window(LAUNCHER, root.add(*self.launcher.views(ui)))
        app = self.apps[self.foreground]
        route = self.stack(app.package)[-1]
        top = s.status + s.app_bar
        ui = Ui(s.width, s.height, top, content_bottom, route, self.focus, bar=(s.status, top))
        screen = app.screen(route, ui)
        if not screen.app_bar:
            ui.top = s.status
        root = View(FRAME, Bounds(0, 0, s.width, s.height), key=app.package, paint="fill:bg")
        if screen.app_bar:
            bar = View(VIEW_GROUP, Bounds(0, s.status, s.width, top), rid="toolbar", paint="panel:bar")
            left = s.dp(48)
            if screen.up:
                bar.add(ui.icon_button(Bounds(s.dp(24), s.status + s.dp(24), s.dp(144), top - s.dp(24)), "back",
                                       "Navigate up", lambda: self.pop(app.package)))
                left = s.dp(170)
            right = s.width - s.dp(24) - len(screen.actions) * s.dp(130)
            bar.add(View(TEXT, Bounds(left, s.status, right, top), text=screen.title, rid="title",
                         paint="text", size="title"))
            bar.add(*screen.actions)
            root.add(bar)
        root.add(*screen.views, screen.fab)
        self.activity = f"{app.package}/.{screen.activity}"
        return Window(app.package, root)

    def _status_bar(self) -> View:
        s = self.s
        settings = self.app("settings")
        bar = View(FRAME, Bounds(0, 0, s.width, s.status), rid="status_bar", paint="panel:bar")
        bar.add(View(TEXT, Bounds(s.dp(48), 0, s.dp(300), s.status), text=self.now.strftime("%-H:%M"),
                     rid="clock", paint="text", size="caption"))
        x = s.width - s.dp(48)
        x -= s.dp(150)
        bar.add(View(TEXT, Bounds(x, 0, x + s.dp(150), s.status), text=f"{self.battery}%",
                     desc=f"Battery {self.battery} percent", rid="battery", paint="text", size="caption"))
        icons = [("airplane", "Airplane mode on", settings.airplane), ("wifi", "Wi-Fi signal full", settings.wifi),
                 ("bluetooth", "Bluetooth on", settings.bluetooth)]
        for glyph, desc, shown in icons:
            if shown:
                x -= s.dp(72)
                bar.add(View(IMAGE, Bounds(x, s.dp(12), x + s.dp(60), s.status - s.dp(12)), desc=desc,
                             rid=f"{glyph}_icon", paint=f"glyph:{glyph}"))
        return bar

    def _dialog_window(self) -> View:
        s = self.s
        dialog = self.dialog
        width = s.width - s.dp(160)
        left = s.dp(80)
        top = s.height // 4
        panel = View(FRAME, Bounds(left, top, left + width, top + 10), rid="dialog", paint="dialog")
        ui = Ui(s.width, s.height, top, s.height - s.nav, None, self.focus)
        col = ui.column()
        col.left, col.right, col.y = left + s.dp(56), left + width - s.dp(56), top + s.dp(48)
        panel.add(ui.text(col.take(s.dp(90)), dialog.title, size="title", rid="alertTitle"))
        if dialog.message:
            panel.add(ui.text(col.take(s.dp(110)), dialog.message, rid="message", tone="muted"))
        if dialog.body is not None:
            panel.add(*[v for v in dialog.body(ui, col) if v is not None])
        col.skip(s.dp(30))
        row = col.take(s.dp(120))
        button_width = s.dp(260)
        x = col.right
        buttons = View(LINEAR, Bounds(col.left, row.top, col.right, row.bottom), rid="buttonPanel")
        for i, (label, handler) in enumerate(reversed(dialog.buttons)):
            x0 = x - button_width
            buttons.add(View(BUTTON, Bounds(x0, row.top, x, row.bottom), text=label, rid=f"button{i + 1}",
                             clickable=True, focusable=True, paint="textbutton",
                             tone="danger" if label.lower() in ("delete", "remove") else "",
                             on_tap=lambda h=handler: self._dialog_button(h)))
            x = x0 - s.dp(20)
        panel.add(buttons)
        panel.bounds = Bounds(left, top, left + width, row.bottom + s.dp(40))
        return panel

    def _dialog_button(self, handler: Callable[[], Any] | None) -> None:
        dialog = self.dialog
        if handler is not None:
            handler()
        if dialog is self.dialog and not dialog.keep_open:
            self.dialog = None
        if self.dialog is not None:
            self.dialog.keep_open = False

    def _keyboard(self) -> View:
        s = self.s
        top = s.height - s.nav - s.keyboard
        pad = View(FRAME, Bounds(0, top, s.width, s.height), rid="keyboard_holder", paint="panel:keyboard")
        rows = list(KEY_ROWS) + [None]
        key_h = (s.keyboard - s.dp(40)) // len(rows)
        for r, keys in enumerate(rows):
            y = top + s.dp(20) + r * key_h
            if keys is None:  # the bottom row: delete, space, enter
                spec = [("Delete", "del", self._delete_char, 0.2), ("space", " ", lambda: self.type_text(" "), 0.55),
                        ("Enter", "enter", self.enter, 0.25)]
                x = s.dp(10)
                for desc, label, handler, share in spec:
                    w = int((s.width - s.dp(20)) * share)
                    pad.add(View(BUTTON, Bounds(x + s.dp(6), y + s.dp(8), x + w - s.dp(6), y + key_h - s.dp(8)),
                                 text=label if desc != "space" else "", desc=desc, clickable=True, paint="key",
                                 on_tap=handler, key=f"key:{desc}"))
                    x += w
                continue
            w = (s.width - s.dp(20)) // 10
            x = s.dp(10) + (10 - len(keys)) * w // 2
            for ch in keys:
                pad.add(View(BUTTON, Bounds(x + s.dp(6), y + s.dp(8), x + w - s.dp(6), y + key_h - s.dp(8)),
                             text=ch, desc=ch, clickable=True, paint="key",
                             on_tap=lambda c=ch: self.type_text(c), key=f"key:{ch}"))
                x += w
        return pad

    def _toast(self) -> View:
        s = self.s
        face_w = min(s.width - s.dp(120), s.dp(40) + len(self.toast_text) * s.dp(26))
        left = (s.width - face_w) // 2
        bottom = s.height - s.nav - s.dp(200) - (s.keyboard if self.focus else 0)
        return View(TEXT, Bounds(left, bottom - s.dp(110), left + face_w, bottom), text=self.toast_text,
                    rid="toast", paint="toast")

    # -- input -----------------------------------------------------------------------------------
    def hit(self, x: int, y: int) -> tuple[Window, View] | None:
        """The topmost view at (x, y) that reacts to touch, with its window (toasts take no touch)."""
        for window in reversed(self.frame().windows):
            if window.root.rid == "toast" or not _contains(window.root.bounds, x, y):
                continue
            found = _deepest(window.root, x, y)
            return (window, found) if found is not None else (window, window.root)
        return None

    def _touch(self, x: int, y: int) -> tuple[Window, View] | None:
        """What a finger coming down at (x, y) reaches. With a dialog open, only the dialog (and
        the keyboard) take touches; a touch anywhere else cancels the dialog, as on Android."""
        hit = self.hit(x, y)
        if self.dialog is not None and (hit is None or (hit[0].root.rid != "dialog" and hit[0].package != KEYBOARD)):
            self.dialog = None
            return None
        return hit

    def tap(self, x: int, y: int) -> None:
        with self._lock:
            hit = self._touch(x, y)
            if hit is not None:
                view = hit[1]
                if view.field is not None:
                    self.focus = view.field.key
                if view.on_slide is not None:
                    b = view.bounds
                    view.on_slide(min(1.0, max(0.0, (x - b.left) / max(1, b.width - 1))))
                elif view.on_tap is not None:
                    view.on_tap()
            self._changed()

    def long_press(self, x: int, y: int) -> None:
        with self._lock:
            hit = self._touch(x, y)
            if hit is not None:
                view = _deepest(hit[0].root, x, y, want="on_long_press")
                if view is not None:
                    view.on_long_press()
                elif hit[1].field is not None:
                    self.focus = hit[1].field.key
            self._changed()

    def drag(self, start: tuple[int, int], end: tuple[int, int]) -> None:
        """A finger from `start` to `end`: scrolls what is under `start`, moves a slider, opens the
        app drawer... The content moves with the finger: a finger going up scrolls 'down'."""
        with self._lock:
            (x0, y0), (x1, y1) = start, end
            dx, dy = x1 - x0, y1 - y0
            if abs(dy) >= abs(dx):
                direction, distance = ("down" if dy < 0 else "up"), abs(dy)
            else:
                direction, distance = ("right" if dx < 0 else "left"), abs(dx)
            hit = self._touch(x0, y0)
            if hit is not None:
                slider = _deepest(hit[0].root, x0, y0, want="on_slide")
                if slider is not None:
                    b = slider.bounds
                    slider.on_slide(min(1.0, max(0.0, (x1 - b.left) / max(1, b.width - 1))))
                else:
                    for view in _under(hit[0].root, x0, y0, want="on_drag"):
                        if view.on_drag(direction, distance):
                            break
            self._changed()

    def type_text(self, text: str) -> bool:
        """Type into the focused field (as the keyboard would); False when nothing has focus."""
        with self._lock:
            view = self.focused_view()
            if view is None:
                return False
            self.set_text(view, view.field.get() + text)
            return True

    def set_text(self, view: View, text: str) -> None:
        """Replace a field's text (Appium's clear, and set-value with replace). What a keyboard
        cannot type (control characters, lone surrogates) is dropped, and the length is capped."""
        with self._lock:
            binding = view.field
            text = _TYPEABLE.sub("", text.encode("utf-16", "surrogatepass").decode("utf-16", "replace"))
            if binding.numeric:
                text = "".join(ch for ch in text if ch.isdigit())
            binding.set(text.replace("\ufffd", "")[:binding.max_length])
            self._changed()

    def type_into(self, view: View, text: str, *, enter: bool = False) -> None:
        """Focus `view` (a text field) and type `text` after what it holds; Enter if asked."""
        with self._lock:
            self.focus = view.field.key
            self.type_text(text)
            if enter:
                self.enter()

    def focused_view(self) -> View | None:
        if self.focus is None:
            return None
        for window in self.frame().windows:
            for view in window.root.walk():
                if view.field is not None and view.field.key == self.focus:
                    return view
        return None

    def _delete_char(self) -> None:
        view = self.focused_view()
        if view is not None:
            view.field.set(view.field.get()[:-1])
            self._changed()

    def enter(self) -> None:
        """The keyboard's action key: the focused field's action, else hide the keyboard."""
        with self._lock:
            view = self.focused_view()
            if view is not None and view.field.on_enter is not None:
                view.field.on_enter()
            elif view is not None:
                self.focus = None
            self._changed()

    def press_key(self, code: int) -> None:
        with self._lock:
            if code == BACK:
                self.back()
            elif code == HOME:
                self.home()
            elif code == ENTER:
                self.enter()
            elif code == KEYCODES["KEYCODE_DEL"]:
                self._delete_char()
            elif code in _CHAR_KEYS:
                self.type_text(_CHAR_KEYS[code])
            else:
                self._changed()  # a key with no meaning here (volume, camera...) still happened

    def hide_keyboard(self) -> bool:
        with self._lock:
            shown = self.focus is not None
            self.focus = None
            self._changed()
            return shown

    @property
    def current_activity(self) -> str:
        self.frame()
        if self.foreground == LAUNCHER:
            return ".NexusLauncherActivity"
        return "." + self.activity.rsplit("/.", 1)[-1]

    # -- PhoneDevice -----------------------------------------------------------------------------
    def _guard(self, work: Callable[[], T]) -> T:
        with self._lock:
            if self._closed:
                raise DeviceClosed(f"{self.name} is closed")
            return work()

    def observe(self) -> Observation:
        return self._guard(self._observe)

    def _observe(self) -> Observation:
        frame = self.frame()
        screen = parse_page_source(frame.source)
        self._last = Observation(self.pixels(), screen.elements, self.size, self.foreground,
                                 self.current_activity, time.time())
        return self._last

    def current_app(self) -> str:
        return self._guard(lambda: self.foreground)

    def reset(self) -> Observation:
        def work() -> Observation:
            self.home()
            return self._observe()
        return self._guard(work)

    def close(self) -> None:
        self._closed = True

    def act(self, action: JSONAction | Mapping[str, Any] | str) -> None:
        self._guard(lambda: self._act(JSONAction.coerce(action)))

    def _act(self, action: JSONAction) -> None:
        gesture = resolve(action, self._last, self.size)   # InvalidAction before anything changes
        kind = action.action_type
        if kind == "input_text":
            self._check_text_target(gesture.point)
        key = keycode(action.keycode) if kind == "keyboard_enter" else None
        if kind == "open_app":
            self.app_exists(action.app_name)
        self.elapsed += WAIT_SECONDS if kind == "wait" else ACTION_SECONDS
        if kind == "click":
            self.tap(*gesture.point)
        elif kind == "double_tap":
            self.tap(*gesture.point)
            self.tap(*gesture.point)
        elif kind == "long_press":
            self.long_press(*gesture.point)
        elif kind in ("scroll", "swipe"):
            self.drag(*gesture.path)
        elif kind == "input_text":
            if gesture.point is not None:
                self.tap(*gesture.point)
            field = self.focused_view()
            if field is not None:           # (the checks above make sure there is one)
                if action.clear_text:
                    self.set_text(field, "")
                self.type_text(action.text)
                self.enter()
        elif kind == "keyboard_enter":
            self.press_key(key)
        elif kind == "navigate_home":
            self.home()
        elif kind == "navigate_back":
            self.back()
        elif kind == "open_app":
            self.launch(action.app_name)
        elif kind == "status":
            self.agent_status = action.goal_status
        elif kind == "answer":
            self.agent_answer = action.text
        self._changed()

    def _check_text_target(self, point: tuple[int, int] | None) -> None:
        if point is None:
            if self.focused_view() is None:
                raise InvalidAction("input_text without a target needs a focused text field; none has focus "
                                    "(give 'index' or 'x'/'y' of a text field)")
            return
        hit = self.hit(*point)
        if hit is not None and self.dialog is not None and hit[0].root.rid != "dialog" and hit[0].package != KEYBOARD:
            raise InvalidAction(f"input_text at {point}: a dialog ({self.dialog.title!r}) is open and that field is "
                                "behind it; type into the dialog, or close it first")
        if hit is None or hit[1].field is None:
            what = f"{hit[1].cls.rsplit('.', 1)[-1]} {hit[1].text or hit[1].desc!r}" if hit else "nothing"
            raise InvalidAction(f"input_text at {point}: that is {what}, not a text field")

    def app_exists(self, name: str) -> None:
        if name.strip() == LAUNCHER:
            return
        try:
            self.app(name)
        except KeyError as exc:
            raise InvalidAction(str(exc.args[0])) from None

    # -- for the HTTP side and the harness -------------------------------------------------------
    @contextlib.contextmanager
    def changing(self) -> Iterator[PhoneSim]:
        """Hold the phone while a harness edits app state directly; the screen is rebuilt after."""
        with self._lock:
            try:
                yield self
            finally:
                self._changed()

    def elements(self) -> list[tuple[str, str, View]]:
        """Every node of the current screen: (identity, package, view), in page-source order."""
        return list(nodes(self.frame().windows))


class Sizes:
    """The system UI's measurements for one screen size."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.status = self.dp(84)
        self.app_bar = self.dp(168)
        self.nav = self.dp(48)
        self.keyboard = min(self.dp(880), height * 2 // 5)

    def dp(self, value: float) -> int:
        return max(1, round(value * self.width / 1080))


def _contains(b: Bounds, x: int, y: int) -> bool:
    return b.left <= x < b.right and b.top <= y < b.bottom


def _deepest(view: View, x: int, y: int, want: str | None = None) -> View | None:
    """The last-drawn (topmost) descendant containing (x, y) that reacts: has `want`, or any of
    a tap handler, a text field or a slider when `want` is None."""
    for child in reversed(view.children):
        if _contains(child.bounds, x, y):
            found = _deepest(child, x, y, want)
            if found is not None:
                return found
    if want is not None:
        return view if getattr(view, want) is not None else None
    reacts = view.on_tap is not None or view.field is not None or view.on_slide is not None
    return view if reacts and view.enabled else None


def _under(view: View, x: int, y: int, want: str) -> list[View]:
    """Every view containing (x, y) with `want`, innermost first (a drag goes to the innermost
    scrollable that takes it)."""
    found: list[View] = []
    for child in reversed(view.children):
        if _contains(child.bounds, x, y):
            found += _under(child, x, y, want)
    if getattr(view, want) is not None:
        found.append(view)
    return found
