"""The simulator over HTTP: plain appium-python-client and the unchanged AndroidDevice drive it;
bad requests get W3C errors, change nothing, and the server keeps serving."""
from __future__ import annotations

import base64
import io
import json
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from appium.webdriver.common.appiumby import AppiumBy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from selenium.common.exceptions import InvalidSessionIdException, NoSuchElementException, WebDriverException

from control.phone import check_phone


def request(url: str, method: str = "GET", body: bytes | str | None = None) -> tuple[int, dict]:
    """A raw HTTP request; (status, JSON body)."""
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_plain_appium_python_client_drives_the_phone(appium_client, phone):
    d = appium_client
    assert d.get_window_size() == {"width": 1080, "height": 2400}
    assert d.page_source.startswith("<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n<hierarchy")
    d.find_element(AppiumBy.XPATH, "//*[@text='Contacts']").click()                 # find by xpath, click
    assert d.current_package == "com.google.android.contacts" == phone.foreground   # mobile: getCurrentPackage
    assert d.current_activity == ".PeopleActivity"
    search = d.find_element(AppiumBy.ID, "search_view")                              # find by id
    search.click()
    search.send_keys("el")                                                           # element value
    assert search.text == "el" and phone.app("contacts").query == "el"
    shown = [e.text for e in d.find_elements(AppiumBy.ID, "title")][1:]
    assert shown and all("el" in name.casefold() for name in shown)
    d.back()                                                                         # hides the keyboard
    d.press_keycode(4)                                                               # Back: home
    assert d.current_package == "com.google.android.apps.nexuslauncher"
    d.activate_app("com.google.android.deskclock")                                  # mobile: activateApp
    assert d.current_package == "com.google.android.deskclock"
    add = d.find_element(AppiumBy.ACCESSIBILITY_ID, "Add alarm")                     # accessibility id
    d.tap([tuple(add.location[k] + add.size[s] // 2 for k, s in (("x", "width"), ("y", "height")))])
    assert phone.dialog is not None and phone.dialog.title == "Set time"             # W3C tap
    d.press_keycode(4)
    d.activate_app("com.google.android.contacts")
    first = phone.app("contacts").sorted()[0].name
    d.swipe(540, 2000, 540, 700, 300)                                                # W3C drag: scrolls
    assert first not in d.page_source
    png = d.get_screenshot_as_png()                                                  # screenshot
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert np.array_equal(pixels, phone.pixels())
    switches = d.find_elements(AppiumBy.CLASS_NAME, "android.widget.EditText")       # class name
    assert switches[0].get_attribute("hint") == "Search contacts"
    d.quit()
    assert phone.foreground == "com.google.android.contacts"


def test_android_device_drives_it_and_passes_the_strict_conformance_check(http_phone):
    from devices.android.device import AndroidDevice

    device = AndroidDevice(http_phone.url, "sim", settle=0, wait_seconds=0)
    report = check_phone(device, strict=True)
    assert report.unsupported == {} and len(report.performed) == 13


def test_android_device_opens_apps_by_label_from_the_drawer(http_phone, phone):
    from devices.android.device import AndroidDevice

    with AndroidDevice(http_phone.url, "sim", settle=0, wait_seconds=0) as device:
        device.act({"action_type": "open_app", "app_name": "Notes"})    # not on the home screen: drawer
        assert device.current_app() == "com.podium.notes"
        device.act({"action_type": "open_app", "app_name": "Calendar"})  # a stock label: by package
        assert phone.foreground == "com.google.android.calendar"


def test_long_press_swipe_and_element_queries(appium_client, phone):
    d = appium_client
    d.activate_app("com.google.android.contacts")
    row = d.find_elements(AppiumBy.ID, "contact_row")[0]
    assert row.get_attribute("clickable") == "true" and row.get_attribute("checked") == "false"
    rect = row.rect
    assert rect["width"] == 1080 and rect["height"] > 100
    assert row.tag_name == "android.widget.LinearLayout" and row.is_enabled() and not row.is_selected()
    title = row.find_element(AppiumBy.ID, "title")                                  # find from an element
    assert title.text == phone.app("contacts").sorted()[0].name
    assert d.execute_script("mobile: isKeyboardShown") is False


@pytest.mark.parametrize("method, path, body, status, error", [
    ("GET", "/session/nope/source", None, 404, "invalid session id"),
    ("POST", "/session/SID/element", "{not json", 400, "invalid argument"),
    ("POST", "/session/SID/element", '{"using": "css selector", "value": "x"}', 400, "invalid selector"),
    ("POST", "/session/SID/element", '{"using": "xpath", "value": "//*["}', 400, "invalid selector"),
    ("POST", "/session/SID/element", '{"using": "xpath", "value": "count(//*)"}', 400, "invalid selector"),
    ("POST", "/session/SID/element", '{"using": "id", "value": "no_such_id"}', 404, "no such element"),
    ("POST", "/session/SID/element", "[1, 2]", 400, "invalid argument"),
    ("GET", "/session/SID/element/abc/text", None, 404, "no such element"),
    ("POST", "/session/SID/actions", '{"actions": 5}', 400, "invalid argument"),
    ("POST", "/session/SID/actions", json.dumps({"actions": [{"type": "pointer", "id": "f", "actions": [
        {"type": "pointerMove", "x": 5000, "y": 10}, {"type": "pointerDown"}, {"type": "pointerUp"}]}]}), 500,
     "move target out of bounds"),
    ("POST", "/session/SID/actions", json.dumps({"actions": [{"type": "pointer", "id": a, "actions": []}
                                                            for a in "ab"]}), 500, "unsupported operation"),
    ("POST", "/session/SID/execute/sync", '{"script": "mobile: shell", "args": [{}]}', 404, "unknown command"),
    ("POST", "/session/SID/execute/sync", '{"script": "mobile: pressKey", "args": [{"keycode": "x"}]}', 400,
     "invalid argument"),
    ("POST", "/session/SID/execute/sync", '{"script": "mobile: activateApp", "args": [{"appId": "com.evil"}]}',
     400, "invalid argument"),
    ("GET", "/session/SID/appium/device/display_density", None, 404, "unknown command"),
    ("PUT", "/session/SID/source", None, 404, "unknown command"),
    ("POST", "/session", '{"capabilities": {"alwaysMatch": {"platformName": "iOS"}}}', 500, "session not created"),
    ("POST", "/session", '{"capabilities": {}}', 500, "session not created"),
])
def test_bad_requests_get_w3c_errors_and_change_nothing(appium_client, http_phone, phone, method, path, body,
                                                        status, error):
    source, elapsed = phone.frame().source, phone.elapsed
    code, reply = request(http_phone.url + path.replace("SID", appium_client.session_id), method, body)
    assert (code, reply["value"]["error"]) == (status, error), reply
    assert reply["value"]["stacktrace"] == "" and "Traceback" not in reply["value"]["message"]
    assert (phone.frame().source, phone.elapsed) == (source, elapsed)
    assert appium_client.current_package == "com.google.android.apps.nexuslauncher"   # still serving


def test_a_second_client_is_refused_until_the_first_leaves(http_phone, appium_client):
    from appium import webdriver
    from appium.options.common import AppiumOptions

    options = AppiumOptions().load_capabilities({"platformName": "Android"})
    with pytest.raises(WebDriverException, match="the phone is in use by session"):
        webdriver.Remote(http_phone.url, options=options)
    first = appium_client.session_id
    appium_client.quit()
    second = webdriver.Remote(http_phone.url, options=options)
    assert second.session_id != first
    with pytest.raises(InvalidSessionIdException):   # the first client's id is dead now
        _ = appium_client.page_source
    second.quit()


def test_an_idle_session_frees_the_phone_after_its_new_command_timeout(http_phone):
    from appium import webdriver
    from appium.options.common import AppiumOptions

    idle = AppiumOptions().load_capabilities({"platformName": "Android", "appium:newCommandTimeout": 1})
    first = webdriver.Remote(http_phone.url, options=idle)
    time.sleep(1.5)
    second = webdriver.Remote(http_phone.url, options=AppiumOptions().load_capabilities({"platformName": "Android"}))
    assert second.page_source
    with pytest.raises(InvalidSessionIdException):
        _ = first.page_source
    second.quit()


def test_stale_elements_are_named(appium_client):
    appium_client.activate_app("com.google.android.contacts")
    fab = appium_client.find_element(AppiumBy.ACCESSIBILITY_ID, "Create contact")
    fab.click()                                  # to the form: the button is gone
    with pytest.raises(WebDriverException, match="no longer on the screen"):
        fab.click()
    with pytest.raises(NoSuchElementException):
        appium_client.find_element(AppiumBy.ACCESSIBILITY_ID, "Create contact")


def test_a_screenshot_is_base64_png_of_the_screen(http_phone, appium_client, phone):
    code, reply = request(f"{http_phone.url}/session/{appium_client.session_id}/screenshot")
    png = base64.b64decode(reply["value"])
    assert code == 200 and png[:8] == b"\x89PNG\r\n\x1a\n"
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png)).convert("RGB")), phone.pixels())


json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-10**400, 10**400), st.floats(),  # NaN and inf too
                      st.text(max_size=20), st.sampled_from(["pointer", "pointerMove", "pointerDown", "pointerUp",
                                                              "pause", "viewport", "xpath", "id", "mobile: pressKey",
                                                              "mobile: type", "a\ud800b", "//*[@text='\x00']"]))
json_value = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(st.sampled_from(["actions", "type", "x", "y", "duration", "origin", "id",
                                                             "using", "value", "script", "args", "keycode", "appId",
                                                             "text", "capabilities", "alwaysMatch"]),
                                            inner, max_size=5), max_leaves=20)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["actions", "element", "elements", "execute/sync", "back", "timeouts"]),
       st.one_of(json_value.map(json.dumps), st.binary(max_size=64),
                 st.integers(1, 200_000).map(lambda depth: "[" * depth + "]" * depth)))
def test_fuzz_any_body_gets_an_answer_and_the_server_survives(appium_client, http_phone, route, body):
    code, reply = request(f"{http_phone.url}/session/{appium_client.session_id}/{route}", "POST", body)
    assert code in (200, 400, 404, 500)
    assert set(reply) == {"value"}
    if code != 200:
        assert reply["value"]["error"] and reply["value"]["stacktrace"] == ""
        assert reply["value"]["error"] != "unknown error", reply   # every refusal is a named W3C error
    assert request(f"{http_phone.url}/status")[0] == 200


def test_an_oversized_body_is_refused_before_it_is_read(http_phone, appium_client):
    """A client declaring 2 GB is answered from its headers: the server reads none of it."""
    import http.client

    host, port = http_phone.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.putrequest("POST", f"/session/{appium_client.session_id}/element")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(2 * 1024**3))
    conn.endheaders(b'{"using": "xpath", ')
    reply = conn.getresponse()
    body = json.loads(reply.read())
    assert (reply.status, body["value"]["error"]) == (400, "invalid argument") and "at most" in body["value"]["message"]
    conn.close()
    assert appium_client.current_package   # still serving


def test_long_press_and_swipe_as_w3c_actions(appium_client, phone):
    from selenium.webdriver.common.actions import interaction
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput

    d = appium_client
    d.activate_app("com.google.android.apps.messaging")
    row = d.find_elements(AppiumBy.ID, "conversation")[0].rect
    finger = PointerInput(interaction.POINTER_TOUCH, "finger")
    press = ActionBuilder(d, mouse=finger, duration=0)
    press.pointer_action.move_to_location(row["x"] + 300, row["y"] + 50).pointer_down().pause(1.0).pointer_up()
    press.perform()                                                  # W3C long press: a dialog
    assert phone.dialog is not None and phone.dialog.title.startswith("Delete conversation with")
    d.back()
    d.activate_app("com.google.android.apps.nexuslauncher")
    d.swipe(540, 2000, 540, 600, 400)                                # W3C swipe up: the app drawer
    assert phone.launcher.drawer and d.find_element(AppiumBy.ACCESSIBILITY_ID, "Notes")


def test_the_bus_http_and_the_painter_share_one_phone(sim_daemon, hub):
    """An agent on the bus and an Appium client drive one phone at once; every answer stays
    well-formed and the phone keeps serving both."""
    import threading

    from appium import webdriver
    from appium.options.common import AppiumOptions

    from control import RemotePhone
    from control.bus.hub import HubClient

    with HubClient(hub.endpoint) as client:
        url = client.lookup(sim_daemon)["capabilities"]["http"]
    remote = RemotePhone(sim_daemon, hub=hub.endpoint)
    errors: list[BaseException] = []

    def bus_agent() -> None:
        try:
            for app in ("Contacts", "Clock", "Notes", "Messages") * 5:
                remote.act({"action_type": "open_app", "app_name": app})
                obs = remote.observe()
                assert obs.elements and obs.screenshot.shape == (2400, 1080, 3)
        except BaseException as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=bus_agent)
    thread.start()
    driver = webdriver.Remote(url, options=AppiumOptions().load_capabilities({"platformName": "Android"}))
    for _ in range(20):
        assert driver.page_source.startswith("<?xml")
        png = driver.get_screenshot_as_png()
        assert np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).shape == (2400, 1080, 3)
        driver.find_elements(AppiumBy.CLASS_NAME, "android.widget.TextView")
    thread.join(60)
    driver.quit()
    assert errors == [] and remote.current_app() == "com.google.android.apps.messaging"
