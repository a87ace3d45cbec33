"""`AndroidDevice`: a phone or emulator driven through an Appium server (UiAutomator2 driver).

    device = AndroidDevice("http://127.0.0.1:4723", "emulator-5554")
    obs = device.observe()                      # screenshot + UiAutomator2 elements + package
    device.act({"action_type": "click", "index": 3})

Every action maps to what a person would do, sent the way appium-python-client sends it: taps,
presses and drags as W3C touch-pointer actions (`POST .../actions`), keys (Enter, Back, Home and
any `keycode`) as `mobile: pressKey`, apps opened with `mobile: activateApp` (by package, or by the
label on the home screen or in the app drawer), text typed into the focused field. Actions are
validated against the last observation before anything is sent (`InvalidAction`); a command the
server does not implement raises `UnsupportedCommand` naming it.

Sessions die (the server restarts, the device reboots) and servers stall. When a command fails:
- it provably never ran (connection refused, or the server answered "invalid session id"): the
  session is replaced and the call repeated, an action only if nothing of it had been sent yet;
- it got no answer in time, or the connection broke mid-request: a short probe asks whether the
  session is still alive. Alive: the same session goes on; a read is repeated once, an action is
  not (`CommandTimedOut`: it may still run). Dead: the old session is ended (DELETE, best effort,
  so no orphan keeps the phone), a new one opened, and a read is repeated; an action is not
  (`SessionLost`), and the next call uses the new session.
A call therefore takes at most about two command timeouts, a probe and one session opening.
"""
from __future__ import annotations

import io
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from control.extras import require

require("android", "appium", "PIL", what="devices.android (phones through Appium)")

import urllib3  # noqa: E402  (selenium's HTTP layer; its errors say whether a request ran)
from appium import webdriver  # noqa: E402
from appium.options.common import AppiumOptions  # noqa: E402
from appium.webdriver.client_config import AppiumClientConfig  # noqa: E402
from PIL import Image  # noqa: E402
from selenium.common.exceptions import (  # noqa: E402
    InvalidSessionIdException,
    NoSuchElementException,
    UnknownMethodException,
    WebDriverException,
)
from selenium.webdriver.common.actions import interaction  # noqa: E402
from selenium.webdriver.common.actions.action_builder import ActionBuilder  # noqa: E402
from selenium.webdriver.common.actions.pointer_input import PointerInput  # noqa: E402
from selenium.webdriver.remote.command import Command  # noqa: E402

from control.phone import gestures  # noqa: E402
from control.phone.action import InvalidAction, JSONAction  # noqa: E402
from control.phone.device import DeviceClosed, DeviceError, PhoneDevice, SessionLost, UnsupportedCommand  # noqa: E402
from control.phone.keys import BACK, HOME, keycode  # noqa: E402
from control.phone.observation import Observation  # noqa: E402
from control.phone.page_source import parse_page_source  # noqa: E402

log = logging.getLogger(__name__)
T = TypeVar("T")

# W3C capabilities that take no vendor prefix; any other bare key gets "appium:".
W3C_CAPABILITIES = frozenset({"platformName", "browserName", "browserVersion", "acceptInsecureCerts",
                              "pageLoadStrategy", "proxy", "setWindowRect", "timeouts",
                              "unhandledPromptBehavior", "strictFileInteractability", "webSocketUrl"})
PACKAGE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$")
# Launcher labels of stock apps -> packages (AOSP and Google builds of the emulator images); a
# device's own `apps` mapping comes first. Anything else is opened by its label on screen.
STOCK_APPS = {"settings": "com.android.settings", "chrome": "com.android.chrome",
              "contacts": "com.google.android.contacts", "clock": "com.google.android.deskclock",
              "calendar": "com.google.android.calendar", "camera": "com.android.camera2",
              "messages": "com.google.android.apps.messaging", "phone": "com.google.android.dialer",
              "files": "com.google.android.documentsui", "photos": "com.google.android.apps.photos",
              "gmail": "com.google.android.gm", "maps": "com.google.android.apps.maps",
              "youtube": "com.google.android.youtube", "play store": "com.android.vending"}


PROBE_TIMEOUT = 3.0  # seconds for the is-the-session-alive probe and for ending a dead session
# Messages of UiAutomator2 when the on-device server or the device itself went away: the session is
# as good as dead, though the server has not said "invalid session id" yet.
_CRASH_MARKERS = ("instrumentation process is not running", "socket hang up", "could not proxy command",
                  "econnreset", "econnrefused")


class SessionError(DeviceError):
    """No Appium session could be opened (server unreachable, driver or device missing)."""


class CommandTimedOut(DeviceError, TimeoutError):
    """A command got no answer in time while its session stayed alive: it may still take effect."""


class AppNotFound(DeviceError):
    """open_app found no app of that name on the home screen or in the app drawer."""


class _Interrupted(Exception):
    """Internal: a command did not complete. `ran`: it may have reached the device (a timeout or a
    broken connection); otherwise it provably did not (refused, or an unknown session)."""

    def __init__(self, command: str, ran: bool, cause: BaseException) -> None:
        super().__init__(f"{command}: {cause}")
        self.command, self.ran, self.cause = command, ran, cause


def w3c_capabilities(udid: str | None, extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """UiAutomator2 defaults, then the caller's capabilities (bare names get 'appium:')."""
    caps: dict[str, Any] = {"platformName": "Android", "appium:automationName": "UiAutomator2",
                            "appium:noReset": True, "appium:newCommandTimeout": 600}
    if udid:
        caps["appium:udid"] = udid
    for key, value in (extra or {}).items():
        caps[key if ":" in key or key in W3C_CAPABILITIES else f"appium:{key}"] = value
    return caps


class AndroidDevice(PhoneDevice):
    """One Android phone or emulator behind the Appium server at `server_url`."""

    def __init__(self, server_url: str = "http://127.0.0.1:4723", udid: str | None = None, *,
                 capabilities: Mapping[str, Any] | None = None, apps: Mapping[str, str] | None = None,
                 name: str | None = None, command_timeout: float = 30.0,
                 session_timeout: float = 90.0, settle: float = 0.5, wait_seconds: float = 1.0) -> None:
        self.server_url = server_url.rstrip("/")
        self.shown_url = redact(self.server_url)  # what messages and the hub may show
        self.udid = udid
        self.name = name or f"android:{udid or 'device'}"
        self.capabilities = w3c_capabilities(udid, capabilities)
        self.apps = {**STOCK_APPS, **{k.casefold(): v for k, v in (apps or {}).items()}}
        self._config: AppiumClientConfig | None = None
        self._command_timeout, self.session_timeout = command_timeout, session_timeout
        self.settle, self.wait_seconds = settle, wait_seconds
        self._unsupported: set[str] = set()   # commands this server refused: not asked again
        self._last: Observation | None = None
        self._sent = 0                        # commands completed in the current public call
        self._driver: Any = None
        self._closed = False
        self._open_session()

    @property
    def command_timeout(self) -> float:
        """Seconds one Appium command may take before it counts as failed."""
        return self._command_timeout

    @command_timeout.setter
    def command_timeout(self, seconds: float) -> None:
        self._command_timeout = seconds
        if self._config is not None:
            self._config.timeout = seconds

    @property
    def driver(self) -> Any:
        """The appium-python-client `webdriver.Remote` of the current session, for what the phone
        contract does not cover (it changes when a dead session is re-created)."""
        if self._closed:
            raise DeviceClosed(f"{self.name} is closed")
        return self._driver

    # -- session ---------------------------------------------------------------------------------
    def _open_session(self) -> None:
        """A new Appium session; SessionError naming the server and its reason."""
        config = AppiumClientConfig(self.server_url, timeout=self.session_timeout, keep_alive=True,
                                    # one attempt per request: what failed, and whether it ran, is
                                    # then ours to judge (urllib3 would retry a timed-out GET 3 times)
                                    init_args_for_pool_manager={"init_args_for_pool_manager": {"retries": False}})
        options = AppiumOptions().load_capabilities(self.capabilities)
        try:
            self._driver = webdriver.Remote(self.server_url, options=options, client_config=config)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise SessionError(f"{self.name}: cannot reach the Appium server at {self.shown_url} "
                               f"({_reason(exc)}); is it running?") from None
        except WebDriverException as exc:
            raise SessionError(f"{self.name}: the Appium server at {self.shown_url} could not open a "
                               f"session ({self.capabilities.get('appium:automationName')}): "
                               f"{_message(exc)}") from None
        config.timeout = self.command_timeout  # creation may install the driver's server APKs: slow
        self._config = config
        log.info("%s: Appium session %s on %s", self.name, self._driver.session_id, self.shown_url)

    def _end_session(self, timeout: float) -> None:
        """DELETE the current session, best effort within `timeout`: a session left behind would
        hold the phone until Appium's newCommandTimeout."""
        driver, self._driver = self._driver, None
        if driver is None:
            return
        self._config.timeout = timeout
        try:
            driver.quit()
        except Exception as exc:  # a dead server has nothing more to tell
            log.debug("%s: ending session %s: %s", self.name, driver.session_id, exc)
        finally:
            self._config.timeout = self.command_timeout

    def _session_alive(self) -> bool:
        """Does the current session still answer? (GET .../timeouts, within PROBE_TIMEOUT)"""
        self._config.timeout = PROBE_TIMEOUT
        try:
            self._driver.execute(Command.GET_TIMEOUTS)  # raw: selenium's Timeouts parser wants browser keys
            return True
        except Exception:  # any failure means: not alive
            return False
        finally:
            self._config.timeout = self.command_timeout

    def _session_call(self, work: Callable[[], T], *, repeatable: bool) -> T:
        """Run one public call, recovering from a failed command as the module docstring says."""
        if self._closed:
            raise DeviceClosed(f"{self.name} is closed")
        if self._driver is None:  # the last replacement failed: try again now
            self._open_session()
        self._sent = 0
        try:
            return work()
        except _Interrupted as failure:
            return self._recover(work, failure, repeatable)

    def _recover(self, work: Callable[[], T], failure: _Interrupted, repeatable: bool) -> T:
        what = f"{failure.command} ({_reason(failure.cause)})"
        if failure.ran and self._session_alive():
            if not repeatable:
                raise CommandTimedOut(f"{self.name}: {what}: no answer within {self.command_timeout:g} s, "
                                      "but the session is alive, so it may still take effect; not repeated")
            log.warning("%s: %s; the session is alive: repeating once", self.name, what)
            return self._again(work)
        safe = repeatable or (not failure.ran and self._sent == 0)
        log.warning("%s: session lost during %s; opening a new one", self.name, what)
        self._end_session(PROBE_TIMEOUT)
        try:
            self._open_session()
        except SessionError as exc:
            if safe:
                raise
            raise SessionLost(f"{exc}; the session was lost during {what}, which may have run") from None
        if not safe:
            raise SessionLost(f"{self.name}: the Appium session was lost during {what}; a new session is "
                              "open, but the action was not repeated because part of it may have run")
        return self._again(work)

    def _again(self, work: Callable[[], T]) -> T:
        self._sent = 0
        try:
            return work()
        except _Interrupted as again:
            raise DeviceError(f"{self.name}: {again.command} failed again after recovering: "
                              f"{_reason(again.cause)}") from None

    def _command(self, command: str, run: Callable[[], T], *, find: bool = False) -> T:
        """One Appium command: its failures become podium errors naming the device and command.
        With `find`, selenium's NoSuchElementException is left for the caller (nothing matched)."""
        if command in self._unsupported:
            raise self._unsupported_error(command)
        try:
            result = run()
        except InvalidSessionIdException as exc:
            raise _Interrupted(command, ran=False, cause=exc) from None
        except UnknownMethodException:
            self._unsupported.add(command)
            raise self._unsupported_error(command) from None
        except (urllib3.exceptions.NewConnectionError, ConnectionRefusedError) as exc:
            raise _Interrupted(command, ran=False, cause=exc) from None
        except (urllib3.exceptions.HTTPError, ConnectionError) as exc:  # timeouts, resets mid-request
            raise _Interrupted(command, ran=True, cause=exc) from None
        except NoSuchElementException as exc:
            if find:
                raise
            raise DeviceError(f"{self.name}: {command}: {_message(exc)}") from None
        except WebDriverException as exc:
            if any(marker in _message(exc).lower() for marker in _CRASH_MARKERS):
                raise _Interrupted(command, ran=True, cause=exc) from None
            raise DeviceError(f"{self.name}: {command} failed: {_message(exc)}") from None
        self._sent += 1
        return result

    def _unsupported_error(self, command: str) -> UnsupportedCommand:
        driver = self.capabilities.get("appium:automationName")
        return UnsupportedCommand(f"{self.name}: the Appium server at {self.shown_url} (driver "
                                  f"{driver}) does not implement `{command}`")

    # -- PhoneDevice -----------------------------------------------------------------------------
    def observe(self) -> Observation:
        return self._session_call(self._observe, repeatable=True)

    def current_app(self) -> str:
        return self._session_call(self._current_package, repeatable=True)

    def reset(self) -> Observation:
        def work() -> Observation:
            self._press(HOME)
            time.sleep(self.settle)
            return self._observe()
        return self._session_call(work, repeatable=True)

    def act(self, action: JSONAction | Mapping[str, Any] | str) -> None:
        if self._closed:
            raise DeviceClosed(f"{self.name} is closed")
        action = JSONAction.coerce(action)
        gesture = gestures.resolve(action, self._last)  # InvalidAction before anything is sent
        key = keycode(action.keycode) if action.action_type == "keyboard_enter" else None
        repeatable = action.action_type in ("navigate_home", "open_app", "wait", "status", "answer")
        self._session_call(lambda: self._perform(gesture, key), repeatable=repeatable)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._end_session(self.command_timeout)

    # -- observing -------------------------------------------------------------------------------
    def _observe(self) -> Observation:
        source = self._command("source", lambda: self._driver.page_source)
        png = self._command("screenshot", self._driver.get_screenshot_as_png)
        screen = parse_page_source(source)
        size = screen.size or self._window_size()
        package = self._optional("mobile: getCurrentPackage", lambda: self._driver.current_package)
        activity = self._optional("mobile: getCurrentActivity", lambda: self._driver.current_activity)
        pixels = self._decode_screenshot(png)
        self._last = Observation(pixels, screen.elements, size, package or screen.package, activity or "")
        return self._last

    def _decode_screenshot(self, png: bytes) -> np.ndarray:
        try:
            with Image.open(io.BytesIO(png)) as image:
                return np.asarray(image.convert("RGB"))
        except (OSError, ValueError, Image.DecompressionBombError) as exc:  # not an image, or a bomb
            raise DeviceError(f"{self.name}: the screenshot from {self.shown_url} is not a usable image: "
                              f"{exc}") from None

    def _window_size(self) -> tuple[int, int]:
        rect = self._command("window rect", self._driver.get_window_size)
        return int(rect["width"]), int(rect["height"])

    def _optional(self, command: str, run: Callable[[], Any]) -> Any:
        """A read some servers lack (the package is also in the page source): None if missing."""
        try:
            return self._command(command, run)
        except UnsupportedCommand:
            return None

    def _current_package(self) -> str:
        package = self._optional("mobile: getCurrentPackage", lambda: self._driver.current_package)
        if package is None:  # from the page source, as UiAutomator2 writes it on every node
            package = parse_page_source(self._command("source", lambda: self._driver.page_source)).package
        return package

    # -- acting ----------------------------------------------------------------------------------
    def _perform(self, gesture: gestures.Gesture, key: int | None) -> None:
        action = gesture.action
        kind = action.action_type
        if kind in ("status", "answer"):
            return
        if kind == "wait":
            time.sleep(self.wait_seconds)
            return
        if kind == "click":
            self._pointer([("tap", gesture.point)])
        elif kind == "double_tap":
            self._pointer([("tap", gesture.point), ("pause", gestures.DOUBLE_TAP_GAP_MS),
                           ("tap", gesture.point)])
        elif kind == "long_press":
            self._pointer([("press", gesture.point, gestures.LONG_PRESS_MS)])
        elif kind in ("scroll", "swipe"):
            ms = gestures.SCROLL_MS if kind == "scroll" else gestures.SWIPE_MS
            self._pointer([("drag", gesture.path, ms)])
        elif kind == "input_text":
            self._input_text(action, gesture.point)
        elif kind == "keyboard_enter":
            self._press(key)
        elif kind == "navigate_home":
            self._press(HOME)
        elif kind == "navigate_back":
            self._press(BACK)
        elif kind == "open_app":
            self._open_app(action.app_name)
        time.sleep(self.settle)

    def _pointer(self, steps: list[tuple]) -> None:
        """One W3C touch-pointer sequence, as appium-python-client's tap and swipe send it:
        ("tap", point), ("press", point, ms), ("drag", (start, end), ms) or ("pause", ms)."""
        finger = PointerInput(interaction.POINTER_TOUCH, "finger")
        for step in steps:
            if step[0] == "pause":
                finger.create_pause(step[1] / 1000)
                continue
            start, end = step[1] if step[0] == "drag" else (step[1], None)
            finger.create_pointer_move(duration=0, x=start[0], y=start[1], origin="viewport")
            finger.create_pointer_down(button=0)
            if end is not None:
                finger.create_pointer_move(duration=step[2], x=end[0], y=end[1], origin="viewport")
            else:
                finger.create_pause((gestures.TAP_MS if step[0] == "tap" else step[2]) / 1000)
            finger.create_pointer_up(button=0)
        self._command("actions", ActionBuilder(self._driver, mouse=finger).perform)

    def _press(self, code: int) -> None:
        self._command("mobile: pressKey", lambda: self._driver.press_keycode(code))

    def _input_text(self, action: JSONAction, point: tuple[int, int] | None) -> None:
        """As AndroidWorld does it: tap the target, optionally clear it, type, press Enter."""
        if point is not None:
            self._pointer([("tap", point)])
            time.sleep(self.settle)
        try:
            field = self._command("active element", lambda: self._driver.switch_to.active_element, find=True)
        except NoSuchElementException:
            if point is None:  # nothing was touched: the action cannot apply to this screen
                raise InvalidAction("input_text without a target needs a focused text field; none has "
                                    "focus (give 'index' or 'x'/'y' to tap one first)") from None
            raise DeviceError(f"{self.name}: tapped {point} but no text field took focus") from None
        if action.clear_text:
            self._command("element clear", field.clear)
        self._command("element value", lambda: field.send_keys(action.text))
        self._press(keycode(None))

    def _open_app(self, app_name: str) -> None:
        package = self.apps.get(app_name.strip().casefold())
        if package is None and PACKAGE_NAME.match(app_name.strip()):
            package = app_name.strip()
        if package is not None:
            self._command("mobile: activateApp", lambda: self._driver.activate_app(package))
            return
        self._press(HOME)
        time.sleep(self.settle)
        if self._find_and_click(app_name):
            return
        width, height = self._last.screen_size if self._last else self._window_size()
        self._pointer([("drag", gestures.swipe_path("up", (width, height)), gestures.SWIPE_MS)])  # the drawer
        time.sleep(self.settle)
        if not self._find_and_click(app_name):
            raise AppNotFound(f"{self.name}: no app labelled {app_name!r} on the home screen or in the "
                              "app drawer, and it is not a package name")

    def find_and_click(self, label: str) -> bool:
        """Find an element showing `label` (text or content-desc) through Appium and click it.
        False when there is none. Used by open_app; handy in scripted set-ups too."""
        return self._session_call(lambda: self._find_and_click(label), repeatable=False)

    def _find_and_click(self, label: str) -> bool:
        literal = xpath_literal(label)
        try:
            element = self._command("find element", lambda: self._driver.find_element(
                "xpath", f"//*[@text={literal} or @content-desc={literal}]"), find=True)
        except NoSuchElementException:
            return False
        self._command("element click", element.click)
        return True


def xpath_literal(text: str) -> str:
    """`text` as an XPath 1.0 string literal (which has no escapes: quotes need concat())."""
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    return "concat(" + ", \"'\", ".join(f"'{part}'" for part in text.split("'")) + ")"


def _message(exc: WebDriverException) -> str:
    return (exc.msg or str(exc)).strip().splitlines()[0] if (exc.msg or str(exc)).strip() else type(exc).__name__


def _reason(exc: BaseException) -> str:
    """The innermost cause of a connection failure, in one line."""
    reason = getattr(exc, "reason", None) or exc
    text = str(reason)
    if "Connection refused" in text:
        return "connection refused"
    if "timed out" in text.lower():
        return "timed out"
    return text.splitlines()[0][:200] if text else type(exc).__name__


def redact(url: str) -> str:
    """`url` without any user:password part, for messages and the hub's records."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    netloc = f"{parts.hostname}:{parts.port}" if parts.port else (parts.hostname or "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
