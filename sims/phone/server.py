"""The simulator over HTTP, speaking the W3C WebDriver / Appium routes appium-python-client sends.

Any Appium client (appium-python-client, WebdriverIO, the Java client) and podium's own
`AndroidDevice` drive the simulated phone as they would a phone behind Appium's UiAutomator2
driver: sessions with W3C capabilities, page source and screenshots, finding elements by id, xpath,
accessibility id or class name, element click / clear / value / text / rect / attribute, W3C
pointer actions (tap, long press, swipe, drag), Back, and the `mobile:` scripts for keys, apps,
the current package and activity, and the keyboard.

Errors are W3C error bodies (`{"value": {"error", "message", "stacktrace"}}`) with the W3C status,
never a Python traceback: a wrong session id is `invalid session id`, an unknown route or script is
`unknown command` (404), a malformed body `invalid argument` (400). One session at a time, as on a
real phone: a second client gets `session not created` until the first ends (or idles past its
`appium:newCommandTimeout`, 60 s by default).
"""
from __future__ import annotations

import base64
import json
import logging
import math
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from control.extras import require

require("phone-sim", "starlette", "uvicorn", "lxml", what="the phone simulator's HTTP server")

import uvicorn  # noqa: E402
from lxml import etree  # noqa: E402  (XPath 1.0 for find-by-xpath, as UiAutomator2 evaluates it)
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402
from starlette.routing import Route as HttpRoute  # noqa: E402

from control.phone.action import InvalidAction  # noqa: E402
from control.phone.device import DeviceClosed  # noqa: E402
from sims.phone.hierarchy import nodes, resource_id  # noqa: E402
from sims.phone.phone import PhoneSim  # noqa: E402
from sims.phone.ui import View  # noqa: E402

log = logging.getLogger(__name__)
ELEMENT_KEY = "element-6066-11e4-a52e-4f735466cecf"
MAX_BODY = 1024 * 1024
MAX_KNOWN_ELEMENTS = 10_000
DEFAULT_NEW_COMMAND_TIMEOUT = 60.0
TAP_SLOP = 30            # px at 1080: a pointer that moved less is a tap, not a drag
LONG_PRESS_MS = 500
STRATEGIES = ("id", "xpath", "accessibility id", "class name")


class W3CError(Exception):
    """An error the W3C way: HTTP status, error code, message."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


def invalid(message: str) -> W3CError:
    return W3CError(400, "invalid argument", message)


@dataclass
class Session:
    id: str
    capabilities: dict[str, Any]
    idle_timeout: float
    last_used: float = field(default_factory=time.monotonic)


class PhoneServer:
    """The Starlette app around one PhoneSim; `serve(host, port)` runs it on uvicorn."""

    def __init__(self, phone: PhoneSim) -> None:
        self.phone = phone
        self.session: Session | None = None
        self._lock = threading.Lock()
        self._known: OrderedDict[str, str] = OrderedDict()      # element id -> node identity
        self._ids: dict[str, str] = {}                           # node identity -> element id
        self._xml: tuple[int, Any, dict[Any, str]] | None = None
        routes = [
            HttpRoute("/status", self.status, methods=["GET"]),
            HttpRoute("/session", self.new_session, methods=["POST"]),
            HttpRoute("/session/{sid}", self.delete_session, methods=["DELETE"]),
            HttpRoute("/session/{sid}/source", self.source, methods=["GET"]),
            HttpRoute("/session/{sid}/screenshot", self.screenshot, methods=["GET"]),
            HttpRoute("/session/{sid}/window/rect", self.window_rect, methods=["GET"]),
            HttpRoute("/session/{sid}/orientation", self.orientation, methods=["GET"]),
            HttpRoute("/session/{sid}/timeouts", self.timeouts, methods=["GET", "POST"]),
            HttpRoute("/session/{sid}/element", self.find_one, methods=["POST"]),
            HttpRoute("/session/{sid}/elements", self.find_all, methods=["POST"]),
            HttpRoute("/session/{sid}/element/active", self.active, methods=["GET"]),
            HttpRoute("/session/{sid}/element/{eid}/element", self.find_one, methods=["POST"]),
            HttpRoute("/session/{sid}/element/{eid}/elements", self.find_all, methods=["POST"]),
            HttpRoute("/session/{sid}/element/{eid}/click", self.click, methods=["POST"]),
            HttpRoute("/session/{sid}/element/{eid}/clear", self.clear, methods=["POST"]),
            HttpRoute("/session/{sid}/element/{eid}/value", self.value, methods=["POST"]),
            HttpRoute("/session/{sid}/element/{eid}/text", self.text, methods=["GET"]),
            HttpRoute("/session/{sid}/element/{eid}/rect", self.rect, methods=["GET"]),
            HttpRoute("/session/{sid}/element/{eid}/name", self.tag_name, methods=["GET"]),
            HttpRoute("/session/{sid}/element/{eid}/enabled", self.enabled, methods=["GET"]),
            HttpRoute("/session/{sid}/element/{eid}/selected", self.selected, methods=["GET"]),
            HttpRoute("/session/{sid}/element/{eid}/displayed", self.displayed, methods=["GET"]),
            HttpRoute("/session/{sid}/element/{eid}/attribute/{name}", self.attribute, methods=["GET"]),
            HttpRoute("/session/{sid}/actions", self.actions, methods=["POST", "DELETE"]),
            HttpRoute("/session/{sid}/back", self.back, methods=["POST"]),
            HttpRoute("/session/{sid}/execute/sync", self.execute, methods=["POST"]),
        ]
        self.app = Starlette(routes=[*routes, *[_prefixed("/wd/hub", r) for r in routes]])
        self.app.add_exception_handler(W3CError, self._w3c_error)
        self.app.add_exception_handler(404, self._not_found)
        self.app.add_exception_handler(405, self._not_found)
        self.app.add_exception_handler(Exception, self._internal_error)
        self.scripts: dict[str, Callable[[dict[str, Any]], Any]] = {
            "mobile: pressKey": self._press_key, "mobile: activateApp": self._activate_app,
            "mobile: terminateApp": self._terminate_app, "mobile: getCurrentPackage": lambda a: self.phone.foreground,
            "mobile: getCurrentActivity": lambda a: self.phone.current_activity,
            "mobile: hideKeyboard": lambda a: self.phone.hide_keyboard(),
            "mobile: isKeyboardShown": lambda a: self.phone.focus is not None,
            "mobile: type": self._type,
        }

    # -- plumbing --------------------------------------------------------------------------------
    async def _w3c_error(self, request: Request, exc: W3CError) -> JSONResponse:
        return _error(exc.status, exc.error, exc.message)

    async def _not_found(self, request: Request, exc: Exception) -> JSONResponse:
        return _error(404, "unknown command", f"{request.method} {request.url.path} is not a command this server "
                                              "knows (see podium's docs/phones.md for the ones it does)")

    async def _internal_error(self, request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return _error(500, "unknown error", f"the phone simulator failed: {type(exc).__name__}: {exc}")

    async def _body(self, request: Request) -> dict[str, Any]:
        declared = request.headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > MAX_BODY:
            raise invalid(f"the request body must be at most {MAX_BODY} bytes (Content-Length: {declared[:20]})")
        raw = bytearray()
        async for chunk in request.stream():   # read no more than the limit, whatever was declared
            raw += chunk
            if len(raw) > MAX_BODY:
                raise invalid(f"the request body exceeds {MAX_BODY} bytes")
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw, parse_constant=_no_constant)
        except (ValueError, RecursionError) as exc:  # JSON, encoding, NaN/Infinity, absurd nesting
            raise invalid(f"the request body is not usable JSON: {str(exc)[:200]}") from None
        if not isinstance(body, dict):
            raise invalid(f"the request body must be a JSON object, got {type(body).__name__}")
        return body

    def _session(self, request: Request) -> Session:
        self._expire()
        sid = request.path_params["sid"]
        if self.session is None or sid != self.session.id:
            raise W3CError(404, "invalid session id", f"a session with id {sid!r} is either terminated or not started")
        self.session.last_used = time.monotonic()
        return self.session

    def _expire(self) -> None:
        session = self.session
        if session is not None and time.monotonic() - session.last_used > session.idle_timeout > 0:
            log.info("session %s idle for %.0f s: ended", session.id, session.idle_timeout)
            self.session = None

    def _call(self, work: Callable[[], Any]) -> Any:
        """Run phone work, turning the phone's own refusals into W3C errors."""
        try:
            return work()
        except InvalidAction as exc:
            raise invalid(str(exc)) from None
        except DeviceClosed as exc:
            raise W3CError(500, "unknown error", str(exc)) from None

    # -- session ---------------------------------------------------------------------------------
    async def status(self, request: Request) -> JSONResponse:
        return _ok({"ready": self.session is None, "message": "podium phone simulator",
                    "build": {"version": "podium"}})

    async def new_session(self, request: Request) -> JSONResponse:
        body = await self._body(request)
        capabilities = _merge_capabilities(body)
        with self._lock:
            self._expire()
            if self.session is not None:
                raise W3CError(500, "session not created", f"the phone is in use by session {self.session.id}; "
                               "end it first (DELETE /session/<id>), or wait for its newCommandTimeout")
            timeout = capabilities.get("appium:newCommandTimeout", DEFAULT_NEW_COMMAND_TIMEOUT)
            if not _finite(timeout) or timeout < 0:
                raise W3CError(500, "session not created", f"appium:newCommandTimeout must be seconds, got {timeout!r}")
            sid = uuid.uuid4().hex
            merged = {**capabilities, "platformName": "Android", "appium:automationName": "UiAutomator2",
                      "appium:platformVersion": "15", "appium:deviceName": "podium phone simulator",
                      "appium:udid": self.phone.name, "appium:deviceScreenSize": "{}x{}".format(*self.phone.size)}
            self.session = Session(sid, merged, float(timeout))
            self._known.clear()
            self._ids.clear()
        log.info("session %s started", sid)
        return _ok({"sessionId": sid, "capabilities": merged})

    async def delete_session(self, request: Request) -> JSONResponse:
        self._session(request)
        self.session = None
        return _ok(None)

    async def timeouts(self, request: Request) -> JSONResponse:
        self._session(request)
        if request.method == "POST":
            await self._body(request)  # implicit waits never help: this screen changes only when acted on
        return _ok({"implicit": 0, "pageLoad": 300000, "script": 30000, "command": 60000})

    async def orientation(self, request: Request) -> JSONResponse:
        self._session(request)
        return _ok("PORTRAIT")

    # -- screen ----------------------------------------------------------------------------------
    async def source(self, request: Request) -> JSONResponse:
        self._session(request)
        return _ok(self._call(lambda: self.phone.frame().source))

    async def screenshot(self, request: Request) -> JSONResponse:
        self._session(request)
        png = self._call(self.phone.png)
        return _ok(base64.b64encode(png).decode("ascii"))

    async def window_rect(self, request: Request) -> JSONResponse:
        self._session(request)
        width, height = self.phone.size
        return _ok({"x": 0, "y": 0, "width": width, "height": height})

    # -- elements --------------------------------------------------------------------------------
    def _document(self) -> tuple[Any, dict[Any, str]]:
        """The page source as an lxml tree, and each node's identity (cached per screen); both from
        one frame, so another thread changing the screen cannot pair them wrongly."""
        frame = self.phone.frame()
        if self._xml is None or self._xml[0] != frame.version:
            root = etree.fromstring(frame.source.encode("utf-8"))
            identities = dict(zip((el for el in root.iter() if el is not root),
                                  (identity for identity, _, _ in nodes(frame.windows))))
            self._xml = (frame.version, root, identities)
        return self._xml[1], self._xml[2]

    def _find(self, body: dict[str, Any], within: str | None) -> list[str]:
        using, value = body.get("using"), body.get("value")
        if not isinstance(using, str) or not isinstance(value, str):
            raise invalid("a find needs string 'using' and 'value'")
        if using not in STRATEGIES:
            raise W3CError(400, "invalid selector", f"locator strategy {using!r} is not supported here; "
                                                    f"use one of {', '.join(STRATEGIES)}")
        root, identities = self._document()
        scope = root
        if within is not None:
            scope = next((el for el, ident in identities.items() if ident == self._identity(within)), None)
            if scope is None:
                raise W3CError(404, "stale element reference", f"element {within} is no longer on the screen")
        if using == "xpath":
            try:
                found = scope.xpath(value)
            except (etree.XPathError, ValueError) as exc:  # ValueError: NUL bytes and the like
                raise W3CError(400, "invalid selector", f"{value!r} is not a valid XPath: {exc}") from None
            if not isinstance(found, list) or not all(isinstance(el, etree._Element) for el in found):
                raise W3CError(400, "invalid selector", f"XPath {value!r} does not select elements")
        else:
            attribute = {"id": "resource-id", "accessibility id": "content-desc", "class name": "class"}[using]
            wanted = value
            if using == "id" and ":id/" not in value:  # UiAutomator2 adds the app's package
                wanted = resource_id(self.phone.foreground, value)
            found = [el for el in scope.iter() if el.get(attribute) == wanted and el is not root]
        return [self._element_id(identities[el]) for el in found if el in identities]

    def _element_id(self, identity: str) -> str:
        eid = self._ids.get(identity)
        if eid is None:
            eid = self._ids[identity] = uuid.uuid4().hex[:16]
            self._known[eid] = identity
            while len(self._known) > MAX_KNOWN_ELEMENTS:  # bounded: a client may find forever
                old_id, old_identity = self._known.popitem(last=False)
                self._ids.pop(old_identity, None)
        return eid

    def _identity(self, eid: str) -> str:
        identity = self._known.get(eid)
        if identity is None:
            raise W3CError(404, "no such element", f"no element with id {eid!r} was found in this session")
        return identity

    def _view(self, request: Request) -> View:
        self._session(request)
        return self._lookup(self._identity(request.path_params["eid"]), "the element")

    def _lookup(self, identity: str, what: str) -> View:
        for candidate, _, view in nodes(self.phone.frame().windows):
            if candidate == identity:
                return view
        raise W3CError(404, "stale element reference", f"{what} is no longer on the screen")

    async def find_one(self, request: Request) -> JSONResponse:
        self._session(request)
        body = await self._body(request)
        found = self._call(lambda: self._find(body, request.path_params.get("eid")))
        if not found:
            raise W3CError(404, "no such element", f"no element matches {body.get('using')}={body.get('value')!r}")
        return _ok({ELEMENT_KEY: found[0], "ELEMENT": found[0]})

    async def find_all(self, request: Request) -> JSONResponse:
        self._session(request)
        body = await self._body(request)
        found = self._call(lambda: self._find(body, request.path_params.get("eid")))
        return _ok([{ELEMENT_KEY: eid, "ELEMENT": eid} for eid in found])

    async def active(self, request: Request) -> JSONResponse:
        self._session(request)
        frame = self.phone.frame()
        identity = next((ident for ident, _, v in nodes(frame.windows)
                         if v.field is not None and v.field.key == self.phone.focus), None)
        if identity is None:
            raise W3CError(404, "no such element", "no element has focus")
        eid = self._element_id(identity)
        return _ok({ELEMENT_KEY: eid, "ELEMENT": eid})

    async def click(self, request: Request) -> JSONResponse:
        view = self._view(request)
        x, y = view.bounds.center
        self._call(lambda: self._step(lambda: self.phone.tap(x, y)))
        return _ok(None)

    async def clear(self, request: Request) -> JSONResponse:
        view = self._view(request)
        if view.field is None:
            raise W3CError(400, "invalid element state", f"a {view.cls} cannot be cleared: it is not a text field")
        self._call(lambda: self._step(lambda: self.phone.set_text(view, "")))
        return _ok(None)

    async def value(self, request: Request) -> JSONResponse:
        view = self._view(request)
        body = await self._body(request)
        text = body.get("text")
        if text is None and isinstance(body.get("value"), list):
            text = "".join(map(str, body["value"]))
        if not isinstance(text, str):
            raise invalid("set value needs 'text' (a string) or 'value' (a list of characters)")
        if view.field is None:
            raise W3CError(400, "invalid element state", f"cannot type into a {view.cls}: it is not a text field")

        # UiAutomator2 appends to what the field holds; a trailing newline presses Enter
        self._call(lambda: self._step(lambda: self.phone.type_into(view, text.removesuffix("\n"),
                                                                   enter=text.endswith("\n"))))
        return _ok(None)

    async def text(self, request: Request) -> JSONResponse:
        return _ok(self._view(request).text)

    async def rect(self, request: Request) -> JSONResponse:
        b = self._view(request).bounds
        return _ok({"x": b.left, "y": b.top, "width": b.width, "height": b.height})

    async def tag_name(self, request: Request) -> JSONResponse:
        return _ok(self._view(request).cls)

    async def enabled(self, request: Request) -> JSONResponse:
        return _ok(self._view(request).enabled)

    async def selected(self, request: Request) -> JSONResponse:
        return _ok(self._view(request).selected)

    async def displayed(self, request: Request) -> JSONResponse:
        return _ok(True)

    async def attribute(self, request: Request) -> JSONResponse:
        view = self._view(request)
        return _ok(_attribute(view, request.path_params["name"], self.phone.foreground))

    # -- gestures, keys, apps --------------------------------------------------------------------
    def _step(self, work: Callable[[], Any]) -> Any:
        """A person's action: it takes a moment of the phone's (virtual) time."""
        result = work()
        self.phone.advance(2)
        self.phone.prepare_screenshot()
        return result

    async def actions(self, request: Request) -> JSONResponse:
        self._session(request)
        if request.method == "DELETE":
            return _ok(None)
        body = await self._body(request)
        gestures = _gestures(body, self.phone.size, self._origin)
        for gesture in gestures:
            self._call(lambda g=gesture: self._step(lambda: self._perform(g)))
        return _ok(None)

    def _origin(self, reference: dict[str, Any]) -> tuple[int, int]:
        eid = reference.get(ELEMENT_KEY) or reference.get("ELEMENT")
        return self._lookup(self._identity(str(eid)), "the origin element").bounds.center

    def _perform(self, gesture: tuple) -> None:
        kind, *args = gesture
        if kind == "tap":
            self.phone.tap(*args[0])
        elif kind == "long_press":
            self.phone.long_press(*args[0])
        else:
            self.phone.drag(args[0], args[1])

    async def back(self, request: Request) -> JSONResponse:
        self._session(request)
        self._call(lambda: self._step(self.phone.back))
        return _ok(None)

    async def execute(self, request: Request) -> JSONResponse:
        self._session(request)
        body = await self._body(request)
        script, args = body.get("script"), body.get("args", [])
        if not isinstance(script, str):
            raise invalid("execute needs a 'script' string")
        handler = self.scripts.get(script.strip())
        if handler is None:
            raise W3CError(404, "unknown command", f"unsupported execute method {script[:80]!r}; supported: "
                                                   f"{', '.join(sorted(self.scripts))}")
        if not isinstance(args, list) or (args and not isinstance(args[0], dict)):
            raise invalid(f"{script} takes its arguments as [{{...}}]")
        return _ok(self._call(lambda: handler(args[0] if args else {})))

    def _press_key(self, args: dict[str, Any]) -> None:
        code = args.get("keycode")
        if not isinstance(code, int) or isinstance(code, bool):
            raise invalid(f"mobile: pressKey needs an integer 'keycode', got {code!r}")
        self._step(lambda: self.phone.press_key(code))

    def _app_id(self, args: dict[str, Any], script: str) -> str:
        app_id = args.get("appId") or args.get("bundleId")
        if not isinstance(app_id, str):
            raise invalid(f"{script} needs 'appId'")
        return app_id

    def _activate_app(self, args: dict[str, Any]) -> None:
        self._step(lambda: self.phone.launch(self._app_id(args, "mobile: activateApp")))

    def _terminate_app(self, args: dict[str, Any]) -> bool:
        app_id = self._app_id(args, "mobile: terminateApp")
        try:
            return self._step(lambda: self.phone.terminate(app_id))
        except KeyError as exc:
            raise invalid(str(exc.args[0])) from None

    def _type(self, args: dict[str, Any]) -> None:
        text = args.get("text")
        if not isinstance(text, str):
            raise invalid("mobile: type needs 'text'")
        if self.phone.focused_view() is None:   # refused before anything happens, time included
            raise W3CError(400, "invalid element state", "no text field has focus")
        self._step(lambda: self.phone.type_text(text))

    # -- running ---------------------------------------------------------------------------------
    def serve(self, host: str = "127.0.0.1", port: int = 4723) -> HttpThread:
        """Serve in a background thread; returns it (`.stop()` ends it). Loopback by default."""
        return HttpThread(self.app, host, port).start()


class HttpThread:
    """uvicorn in a thread, started and stopped on demand."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.host, self.port = host, port
        self.thread = threading.Thread(target=self.server.run, name=f"podium-http-{port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> HttpThread:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive():
                raise OSError(f"the HTTP server could not listen on {self.host}:{self.port} (is the port in use?)")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the HTTP server did not start on {self.host}:{self.port} within {timeout} s")
            time.sleep(0.02)
        if self.port == 0:  # a free port was picked: find out which
            self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def _prefixed(prefix: str, route: HttpRoute) -> HttpRoute:
    return HttpRoute(prefix + route.path, route.endpoint, methods=list(route.methods or []))


def _ok(value: Any) -> JSONResponse:
    return JSONResponse({"value": value})


def _error(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse({"value": {"error": error, "message": message, "stacktrace": ""}}, status_code=status)


def _merge_capabilities(body: dict[str, Any]) -> dict[str, Any]:
    """W3C capability processing: alwaysMatch merged with the first firstMatch that fits."""
    caps = body.get("capabilities")
    if not isinstance(caps, dict):
        raise invalid("new session needs {'capabilities': {'alwaysMatch': {...}, 'firstMatch': [...]}}")
    always = caps.get("alwaysMatch", {})
    first = caps.get("firstMatch", [{}]) or [{}]
    if not isinstance(always, dict) or not isinstance(first, list) or not all(isinstance(f, dict) for f in first):
        raise invalid("alwaysMatch must be an object and firstMatch a list of objects")
    problems = []
    for candidate in first:
        merged = {**always, **candidate}
        problem = _refusal(merged)
        if problem is None:
            return merged
        problems.append(problem)
    raise W3CError(500, "session not created", "; ".join(problems))


def _refusal(caps: dict[str, Any]) -> str | None:
    platform = str(caps.get("platformName", "Android"))
    automation = str(caps.get("appium:automationName", "UiAutomator2"))
    if platform.casefold() != "android":
        return f"this is an Android phone simulator: platformName {platform!r} cannot be served"
    if automation.casefold() != "uiautomator2":
        return f"appium:automationName {automation!r} is not supported here (use UiAutomator2)"
    return None


def _attribute(view: View, name: str, package: str) -> Any:
    """An element attribute the way UiAutomator2 answers: strings, 'true'/'false', or null."""
    flags = {"checkable": view.checkable, "checked": view.checked, "clickable": view.clickable,
             "enabled": view.enabled, "focusable": view.focusable, "focused": view.focused,
             "long-clickable": view.long_clickable, "password": view.password, "scrollable": view.scrollable,
             "selected": view.selected, "displayed": True}
    aliases = {"contentDescription": "content-desc", "resourceId": "resource-id", "className": "class",
               "longClickable": "long-clickable", "name": "content-desc"}
    name = aliases.get(name, name)
    if name in flags:
        return "true" if flags[name] else "false"
    b = view.bounds
    values = {"text": view.text, "content-desc": view.desc or None,
              "resource-id": resource_id(package, view.rid) or None, "class": view.cls, "package": package,
              "hint": view.hint or None, "bounds": str(b)}
    return values.get(name)


def _gestures(body: dict[str, Any], size: tuple[int, int],
              origin: Callable[[dict[str, Any]], tuple[int, int]]) -> list[tuple]:
    """W3C actions -> taps, long presses and drags. One touch pointer; its sequence may hold
    several gestures (a double tap is two taps)."""
    sources = body.get("actions")
    if not isinstance(sources, list):
        raise invalid("actions must be a list of input sources")
    pointers = [s for s in sources if isinstance(s, dict) and s.get("type") == "pointer"]
    if any(not isinstance(s, dict) or s.get("type") not in ("pointer", "key", "none", "wheel") for s in sources):
        raise invalid("each input source needs a type: pointer, key, none or wheel")
    if len(pointers) > 1:
        raise W3CError(500, "unsupported operation", "multi-touch gestures (more than one pointer) are not "
                                                     "supported by this phone")
    if not pointers:
        return []
    steps = pointers[0].get("actions")
    if not isinstance(steps, list):
        raise invalid("a pointer source needs a list of actions")
    slop = TAP_SLOP * size[0] / 1080
    gestures: list[tuple] = []
    x = y = 0
    down: tuple[int, int] | None = None
    held = 0.0
    for step in steps:
        if not isinstance(step, dict):
            raise invalid(f"a pointer action must be an object, got {step!r}")
        kind = step.get("type")
        duration = step.get("duration", 0) or 0
        if not _finite(duration) or duration < 0:
            raise invalid(f"duration must be a non-negative number of milliseconds, got {duration!r}")
        if kind == "pointerMove":
            x, y = _move(step, (x, y), origin)
            if not (0 <= x < size[0] and 0 <= y < size[1]):
                raise W3CError(500, "move target out of bounds", f"({x}, {y}) is off the {size[0]}x{size[1]} screen")
            held += duration
        elif kind == "pointerDown":
            down, held = (x, y), 0.0
        elif kind == "pointerUp":
            if down is None:
                raise invalid("pointerUp without pointerDown")
            moved = max(abs(x - down[0]), abs(y - down[1]))
            if moved >= slop:
                gestures.append(("drag", down, (x, y)))
            else:
                gestures.append(("long_press" if held >= LONG_PRESS_MS else "tap", down))
            down = None
        elif kind == "pause":
            held += duration
        elif kind != "pointerCancel":
            raise invalid(f"unknown pointer action type {kind!r}")
    return gestures


def _move(step: dict[str, Any], current: tuple[int, int],
          origin: Callable[[dict[str, Any]], tuple[int, int]]) -> tuple[int, int]:
    dx, dy = step.get("x", 0), step.get("y", 0)
    if not (_finite(dx) and _finite(dy) and abs(dx) < 1e6 and abs(dy) < 1e6):
        raise invalid(f"pointerMove needs finite numbers x and y, got {dx!r}, {dy!r}")
    where = step.get("origin", "viewport")
    if where == "viewport":
        base = (0, 0)
    elif where == "pointer":
        base = current
    elif isinstance(where, dict):
        base = origin(where)
    else:
        raise invalid(f"pointerMove origin must be 'viewport', 'pointer' or an element, got {where!r}")
    return int(base[0] + dx), int(base[1] + dy)
