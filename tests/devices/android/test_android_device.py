"""AndroidDevice against a real Appium 3 server: the fake driver for the protocol, the UiAutomator2
driver for the no-SDK failure, and the server killed, restarted and frozen for session recovery."""
from __future__ import annotations

import re
import signal
import threading
import time

import numpy as np
import pytest

from control.phone import (
    DeviceClosed,
    DeviceError,
    InvalidAction,
    JSONAction,
    SessionLost,
    UnsupportedCommand,
    check_phone,
)
from devices.android.device import AndroidDevice, CommandTimedOut, SessionError, w3c_capabilities, xpath_literal


def touches(phone: AndroidDevice) -> list[list[dict]]:
    """The W3C pointer sequences the fake driver received since the last call."""
    return [seq["actions"] for batch in phone.driver.get_log("actions") for seq in batch]


def test_observe_parses_uiautomator2_page_source_and_decodes_the_screenshot(phone):
    obs = phone.observe()
    labels = [e.label for e in obs.elements]
    assert labels[:2] == ["Settings", "Search settings"] and "Network & internet" in labels
    assert obs.screen_size == (1080, 2400)          # from <hierarchy width height>
    assert obs.screenshot.dtype == np.uint8 and obs.screenshot.shape == (852, 400, 3)
    assert obs.screenshot.std() > 0                 # a real picture, not a blank array
    assert obs.png[:8] == b"\x89PNG\r\n\x1a\n"
    # the fake driver has no mobile: getCurrentPackage: the package comes from the page source
    assert obs.package == "com.android.settings" == phone.current_app()
    switch = obs.elements[obs.find("Dark theme")]
    assert switch.checkable and not switch.checked and switch.resource_id == "android:id/switch_widget"


def test_click_by_index_taps_the_centre_of_the_element_as_a_touch_pointer(phone):
    obs = phone.observe()
    touches(phone)  # drop anything earlier
    index = obs.find("Battery")
    phone.act({"action_type": "click", "index": index})
    (sequence,) = touches(phone)
    cx, cy = obs.elements[index].bounds.center
    assert [a["type"] for a in sequence] == ["pointerMove", "pointerDown", "pause", "pointerUp"]
    assert (sequence[0]["x"], sequence[0]["y"]) == (cx, cy) == (608, 875)


@pytest.mark.parametrize("action, start, end", [
    ({"action_type": "swipe", "direction": "up"}, (540, 2280), (540, 120)),        # finger moves up
    ({"action_type": "swipe", "direction": "left"}, (1026, 1200), (54, 1200)),
    ({"action_type": "scroll", "direction": "down"}, (540, 1200), (540, 240)),     # content moves up
])
def test_swipes_and_scrolls_are_drags_in_the_right_direction(phone, action, start, end):
    touches(phone)
    phone.act(action)
    (sequence,) = touches(phone)
    moves = [a for a in sequence if a["type"] == "pointerMove"]
    assert [(m["x"], m["y"]) for m in moves] == [start, end]
    assert moves[1]["duration"] > 0


def test_scroll_inside_an_element_stays_inside_its_bounds(phone):
    obs = phone.observe()
    index = next(i for i, e in enumerate(obs.elements) if e.scrollable)
    bounds = obs.elements[index].bounds
    touches(phone)
    phone.act({"action_type": "scroll", "direction": "down", "index": index})
    moves = [a for a in touches(phone)[0] if a["type"] == "pointerMove"]
    for move in moves:
        assert bounds.left <= move["x"] < bounds.right and bounds.top <= move["y"] < bounds.bottom
    assert moves[1]["y"] < moves[0]["y"]


def test_long_press_and_double_tap(phone):
    touches(phone)
    phone.act({"action_type": "long_press", "x": 100, "y": 200})
    phone.act({"action_type": "double_tap", "x": 100, "y": 200})
    long_press, double_tap = touches(phone)
    assert [a["duration"] for a in long_press if a["type"] == "pause"] == [1000]
    assert sum(a["type"] == "pointerDown" for a in double_tap) == 2


def test_find_and_click_finds_by_label_through_appium_and_clicks(phone):
    assert phone.find_and_click("Battery") is True
    element = phone.driver.find_element("xpath", "//*[@text='Battery']")
    assert element.get_attribute("clicks") == "1"   # the fake driver counts real element clicks
    assert phone.find_and_click("Network & internet") is True
    assert phone.find_and_click("No such entry") is False


@pytest.mark.parametrize("action, command", [
    ({"action_type": "navigate_back"}, "mobile: pressKey"),
    ({"action_type": "navigate_home"}, "mobile: pressKey"),
    ({"action_type": "keyboard_enter"}, "mobile: pressKey"),
    ({"action_type": "open_app", "app_name": "com.android.settings"}, "mobile: activateApp"),
    ({"action_type": "input_text", "text": "wifi"}, "active element"),
])
def test_commands_the_fake_driver_lacks_are_named(phone, action, command):
    with pytest.raises(UnsupportedCommand, match=f"does not implement `{command}`") as info:
        phone.act(action)
    assert "fake-1" in str(info.value) and phone.server_url in str(info.value)
    assert phone.observe().package == "com.android.settings"  # the session is fine afterwards


@pytest.mark.parametrize("action, words", [
    ({"action_type": "click", "index": 99}, "out of range: the screen has 8 element"),
    ({"action_type": "click", "x": 1080, "y": 10}, "off the screen (1080x2400)"),
    ({"action_type": "keyboard_enter", "keycode": "KEYCODE_NOPE"}, "unknown key 'KEYCODE_NOPE'"),
    ({"action_type": "click"}, "click needs 'index' or 'x' and 'y'"),
    ({"action_type": "jump"}, "unknown action_type 'jump'"),
])
def test_invalid_actions_are_refused_before_anything_is_sent(phone, action, words):
    touches(phone)
    with pytest.raises(InvalidAction, match=re.escape(words)):
        phone.act(action)
    assert touches(phone) == []


def test_acting_by_index_needs_an_observation_first(appium, fake_caps):
    device = AndroidDevice(appium.url, "fake-1", capabilities=fake_caps, settle=0)
    with device, pytest.raises(InvalidAction, match="observe\\(\\) first"):
        device.act(JSONAction("click", index=0))


def test_the_fake_driver_session_passes_the_conformance_check_naming_what_it_lacks(phone):
    report = check_phone(phone)
    assert {"click", "double_tap", "long_press", "scroll", "swipe", "wait"} <= set(report.performed)
    assert set(report.unsupported) == {"reset", "navigate_home", "navigate_back", "keyboard_enter",
                                       "open_app", "input_text"}
    with pytest.raises(DeviceClosed):
        phone.observe()


def test_a_restarted_server_costs_one_new_session_and_the_next_call_works(appium, phone):
    before = phone.driver.session_id
    appium.stop(signal.SIGKILL)
    appium.start()
    obs = phone.observe()                       # invalid session id -> new session -> repeated
    assert obs.package == "com.android.settings" and phone.driver.session_id != before
    appium.stop(signal.SIGKILL)
    appium.start()
    phone.act({"action_type": "click", "x": 10, "y": 10})  # never ran on the dead session: repeated
    assert len(touches(phone)) == 1                        # ... once, on the new session


def test_a_dead_server_is_a_clear_error_and_the_device_recovers_when_it_returns(appium, phone):
    appium.stop(signal.SIGKILL)
    started = time.monotonic()
    with pytest.raises(SessionError, match=r"fake-1: cannot reach the Appium server at .*\(connection refused\)"):
        phone.observe()
    assert time.monotonic() - started < 5
    appium.start()
    assert phone.observe().package == "com.android.settings"


def stall(appium, seconds: float, then=None) -> threading.Timer:
    """Freeze the server now (SIGSTOP) and thaw it after `seconds`, or call `then` instead."""
    appium.send(signal.SIGSTOP)
    timer = threading.Timer(seconds, then or (lambda: appium.send(signal.SIGCONT)))
    timer.start()
    return timer


def test_a_read_that_times_out_on_a_live_session_is_repeated_on_it(appium, phone):
    session = phone.driver.session_id
    phone.command_timeout = 1
    timer = stall(appium, 1.8)   # the read times out at 1 s; the probe is answered once it thaws
    try:
        assert phone.observe().package == "com.android.settings"
    finally:
        timer.join()
    assert phone.driver.session_id == session


def test_an_action_that_timed_out_on_a_live_session_is_not_repeated(appium, phone):
    session = phone.driver.session_id
    touches(phone)
    phone.command_timeout = 1
    timer = stall(appium, 1.8)
    try:
        with pytest.raises(CommandTimedOut, match="the session is alive, so it may still take effect; not repeated"):
            phone.act({"action_type": "click", "x": 10, "y": 10})
    finally:
        timer.join()
    assert phone.driver.session_id == session
    assert len(touches(phone)) == 1   # the late tap ran once: podium did not send it again


def test_an_action_whose_session_died_mid_request_is_not_repeated(appium, phone):
    """The server is frozen mid-tap, then killed and restarted: the tap may or may not have run,
    so it is not sent again; the old session is gone and the next call works on a new one."""
    phone.command_timeout = 1

    def crash_and_restart():
        appium.stop(signal.SIGKILL)
        appium.start()

    timer = stall(appium, 1.5, then=crash_and_restart)
    try:
        with pytest.raises(SessionLost, match="may have run"):
            phone.act({"action_type": "click", "x": 10, "y": 10})
    finally:
        timer.join()
    assert phone.observe().package == "com.android.settings"
    assert touches(phone) == []


def test_a_partly_sent_action_is_not_repeated_after_a_restart(appium, phone, monkeypatch):
    """find_and_click finds the element, then the server restarts before the click: part of the
    call ran, so it is not repeated on the new session."""
    command = AndroidDevice._command

    def restart_after_find(self, name, run, **options):
        result = command(self, name, run, **options)
        if name == "find element":
            appium.stop(signal.SIGKILL)
            appium.start()
        return result

    monkeypatch.setattr(AndroidDevice, "_command", restart_after_find)
    with pytest.raises(SessionLost, match="not repeated because part of it may have run"):
        phone.find_and_click("Battery")
    monkeypatch.undo()
    clicks = phone.driver.find_element("xpath", "//*[@text='Battery']").get_attribute("clicks")
    assert clicks in (None, "", "0")   # the new session saw no click


def test_a_session_that_fails_again_after_recovery_is_a_clear_error(appium, phone, monkeypatch):
    opened = AndroidDevice._open_session

    def open_then_restart(self):
        opened(self)
        appium.stop(signal.SIGKILL)
        appium.start()

    appium.stop(signal.SIGKILL)
    appium.start()
    monkeypatch.setattr(AndroidDevice, "_open_session", open_then_restart)
    with pytest.raises(DeviceError, match="failed again after recovering"):
        phone.observe()


def test_close_ends_the_session_on_the_server(appium, phone):
    import json
    import urllib.error
    import urllib.request

    session = phone.driver.session_id
    phone.close()
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{appium.url}/session/{session}/source", timeout=5)
    assert json.loads(info.value.read())["value"]["error"] == "invalid session id"
    with pytest.raises(DeviceClosed):
        phone.find_and_click("Battery")


def test_find_and_click_on_a_dead_server_is_a_session_error(appium, phone):
    appium.stop(signal.SIGKILL)
    with pytest.raises(SessionError, match="cannot reach the Appium server"):
        phone.find_and_click("Battery")


def test_a_corrupt_screenshot_is_a_device_error(phone, monkeypatch):
    monkeypatch.setattr(phone.driver, "get_screenshot_as_png", lambda: b"not a png at all")
    with pytest.raises(DeviceError, match="the screenshot from .* is not a usable image"):
        phone.observe()


def test_credentials_in_the_server_url_are_never_shown():
    from devices.android.device import redact

    assert redact("http://alice:s3cret@farm.example:4723/wd/hub") == "http://farm.example:4723/wd/hub"
    assert redact("http://127.0.0.1:4723") == "http://127.0.0.1:4723"


def test_uiautomator2_without_an_android_sdk_fails_clearly_not_a_hang(appium):
    started = time.monotonic()
    with pytest.raises(SessionError, match="could not open a session .*UiAutomator2.*ANDROID_HOME"):
        AndroidDevice(appium.url, "emulator-5554")
    assert time.monotonic() - started < 30


def test_no_server_at_all_is_a_clear_error():
    from tests.conftest import free_port

    with pytest.raises(SessionError, match="cannot reach the Appium server .* is it running"):
        AndroidDevice(f"http://127.0.0.1:{free_port()}", "emulator-5554")


def test_capabilities_get_the_w3c_vendor_prefix():
    caps = w3c_capabilities("emulator-5554", {"noReset": False, "appium:app": "x.apk",
                                              "platformName": "Android"})
    assert caps["appium:noReset"] is False and caps["appium:udid"] == "emulator-5554"
    assert caps["appium:automationName"] == "UiAutomator2" and "noReset" not in caps


@pytest.mark.parametrize("text", ["plain", "it's", 'say "hi"', "both ' and \""])
def test_xpath_literals_quote_any_label(phone, text):
    literal = xpath_literal(text)
    # the server's own XPath engine reads the literal back as a string of the right length
    found = phone.driver.find_elements("xpath", f"//hierarchy[string-length({literal}) = {len(text)}]")
    assert len(found) == 1


def test_device_errors_derive_from_podium_error():
    from control.errors import PodiumError

    for cls in (SessionError, SessionLost, UnsupportedCommand, DeviceClosed, DeviceError, InvalidAction):
        assert issubclass(cls, PodiumError)
