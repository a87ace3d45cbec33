"""The simulated phone in process: what it shows agrees with its page source, and it behaves as
Android does (back stacks, Home, keyboard, dialogs, toasts, scrolling lists, theme)."""
from __future__ import annotations

import numpy as np
import pytest

from control.phone import InvalidAction, JSONAction, check_phone, parse_page_source
from sims.phone.phone import LAUNCHER, PhoneSim


def act(phone: PhoneSim, **fields) -> None:
    phone.act(JSONAction(**fields))


def tap(phone: PhoneSim, label: str) -> None:
    """Tap what shows `label`: its text, description, or (for an empty field) its hint."""
    obs = phone.observe()
    index = next((i for i, e in enumerate(obs.elements) if e.label == label), None)
    assert index is not None, f"{label!r} not on screen: {obs.describe()}"
    phone.act(JSONAction("click", index=index))


def labels(phone: PhoneSim) -> list[str]:
    return [e.label for e in phone.observe().elements]


def screens(phone: PhoneSim):
    """A walk through every app's screens, yielding after each step (for checks on each)."""
    yield "home"
    act(phone, action_type="swipe", direction="up")
    yield "drawer"
    for app in ("Settings", "Contacts", "Clock", "Notes", "Messages", "Calendar"):
        act(phone, action_type="open_app", app_name=app)
        yield app
    tap(phone, "Create new event")
    yield "calendar form"
    act(phone, action_type="open_app", app_name="Clock")
    tap(phone, "Add alarm")
    yield "time picker"
    act(phone, action_type="navigate_back")
    act(phone, action_type="open_app", app_name="Contacts")
    tap(phone, "Search contacts")
    yield "keyboard"


def test_page_source_parses_and_every_element_is_drawn_where_it_says(phone):
    """For every element of every screen: something is drawn inside its bounds (its region is
    not one flat colour, which is all a parent's fill would give)."""
    checked = 0
    for where in screens(phone):
        obs = phone.observe()
        frame = phone.frame()
        assert parse_page_source(frame.source).elements == obs.elements
        for element in obs.elements:
            b = element.bounds
            region = obs.screenshot[b.top:b.bottom, b.left:b.right].reshape(-1, 3)
            assert len(np.unique(region, axis=0)) > 1, f"{where}: {element.describe()} at {b} is not drawn"
            checked += 1
    assert checked > 150


def test_back_and_home_behave_as_on_android(phone):
    act(phone, action_type="open_app", app_name="Contacts")
    name = next(e.text for e in phone.observe().elements if e.resource_id.endswith("/title") and " " in e.text)
    tap(phone, name)
    assert phone.current_activity == ".QuickContactActivity"
    act(phone, action_type="navigate_home")                       # Home keeps the app's back stack
    assert phone.current_app() == LAUNCHER
    act(phone, action_type="open_app", app_name="Contacts")       # reopening resumes it
    assert phone.current_activity == ".QuickContactActivity"
    act(phone, action_type="navigate_back")
    assert phone.current_activity == ".PeopleActivity"
    act(phone, action_type="navigate_back")                       # Back from the first screen: home
    assert phone.current_app() == LAUNCHER
    act(phone, action_type="open_app", app_name="Contacts")       # ...and the app starts afresh
    assert phone.current_activity == ".PeopleActivity"


def test_the_keyboard_appears_with_focus_types_and_goes_with_back(phone):
    act(phone, action_type="open_app", app_name="Contacts")
    assert "q" not in labels(phone)
    tap(phone, "Search contacts")
    assert "q" in labels(phone)
    assert next(e for e in phone.observe().elements if e.hint == "Search contacts").focused
    for key in "al":
        tap(phone, key)                                           # the soft keyboard's own keys
    shown = [e.text for e in phone.observe().elements if e.resource_id.endswith("/title")]
    assert shown[1:] and all("al" in name.casefold() for name in shown[1:])
    act(phone, action_type="navigate_back")                       # Back hides the keyboard first...
    assert "q" not in labels(phone) and phone.current_activity == ".PeopleActivity"


def test_dialogs_confirm_and_cancel(phone):
    act(phone, action_type="open_app", app_name="Contacts")
    contacts = phone.app("contacts")
    before = len(contacts.contacts)
    first = next(e.text for e in phone.observe().elements if e.resource_id.endswith("/title") and " " in e.text)
    tap(phone, first)
    tap(phone, "Delete contact")
    assert "Cancel" in labels(phone)
    act(phone, action_type="click", x=540, y=200)                 # outside the dialog: cancelled
    assert "Cancel" not in labels(phone) and len(contacts.contacts) == before
    tap(phone, "Delete contact")
    act(phone, action_type="navigate_back")                       # Back cancels too
    assert len(contacts.contacts) == before
    tap(phone, "Delete contact")
    tap(phone, "Delete")
    assert len(contacts.contacts) == before - 1 and contacts.find(first) is None
    assert f"{first} deleted" in labels(phone)                    # a toast...
    for _ in range(3):
        act(phone, action_type="wait")
    assert f"{first} deleted" not in labels(phone)                # ...that fades


def test_lists_longer_than_the_screen_scroll(phone):
    act(phone, action_type="open_app", app_name="Contacts")
    names = [c.name for c in phone.app("contacts").sorted()]
    first_page = set(labels(phone))
    assert names[0] in first_page and names[-1] not in first_page
    listing = next(i for i, e in enumerate(phone.observe().elements) if e.scrollable)
    for _ in range(4):
        act(phone, action_type="scroll", direction="down", index=listing)
    assert names[-1] in labels(phone) and names[0] not in labels(phone)
    for _ in range(4):
        act(phone, action_type="scroll", direction="up", index=listing)
    assert names[0] in labels(phone)


def test_switches_and_the_dark_theme_repaint_the_screen(phone):
    act(phone, action_type="open_app", app_name="Settings")
    light = phone.observe().screenshot.mean()
    tap(phone, "Display")
    switch = phone.observe().find("Dark theme")
    row_switch = next(i for i, e in enumerate(phone.observe().elements)
                      if e.class_name.endswith("Switch") and e.content_desc == "Dark theme")
    assert not phone.observe().elements[row_switch].checked and switch is not None
    act(phone, action_type="click", index=row_switch)
    assert phone.app("settings").dark_theme and phone.observe().elements[row_switch].checked
    assert phone.observe().screenshot.mean() < light / 2


def test_a_smaller_screen_scales_everything(phone):
    small = PhoneSim(0, width=720, height=1600)
    obs = small.observe()
    assert obs.screenshot.shape == (1600, 720, 3) and obs.screen_size == (720, 1600)
    assert labels(small) == labels(phone)
    assert all(0 <= e.bounds.right <= 720 and 0 <= e.bounds.bottom <= 1600 for e in obs.elements)
    with pytest.raises(ValueError, match="too small"):
        PhoneSim(0, width=100, height=100)


@pytest.mark.parametrize("action, words", [
    ({"action_type": "click", "index": 999}, "out of range"),
    ({"action_type": "click", "x": 5000, "y": 10}, "off the screen"),
    ({"action_type": "open_app", "app_name": "Photoshop"}, "no app 'Photoshop' on this phone"),
    ({"action_type": "input_text", "text": "hi"}, "needs a focused text field"),
    ({"action_type": "input_text", "text": "hi", "x": 540, "y": 40}, "not a text field"),
    ({"action_type": "keyboard_enter", "keycode": "KEYCODE_WARP"}, "unknown key"),
])
def test_invalid_actions_change_nothing(phone, action, words):
    phone.observe()
    before = (phone.frame().source, phone.elapsed, phone.foreground)
    with pytest.raises(InvalidAction, match=words):
        phone.act(action)
    assert (phone.frame().source, phone.elapsed, phone.foreground) == before


def test_the_simulator_passes_the_strict_conformance_check(phone):
    report = check_phone(phone, strict=True)
    assert report.unsupported == {} and len(report.performed) == 13


def test_restore_gives_the_same_phone_for_the_same_seed():
    a, b = PhoneSim(7), PhoneSim(8)
    act(a, action_type="open_app", app_name="Contacts")
    a.restore(8)
    assert a.frame().source == b.frame().source
    assert np.array_equal(a.pixels(), b.pixels())
    assert [c.name for c in a.app("contacts").contacts] == [c.name for c in b.app("contacts").contacts]


def test_a_long_press_on_a_conversation_offers_to_delete_it(phone):
    act(phone, action_type="open_app", app_name="Messages")
    messages = phone.app("messages")
    first = messages.title(messages.ordered()[0].number)
    act(phone, action_type="long_press", index=phone.observe().find(first))
    assert f"Delete conversation with {first}?" in labels(phone)
    tap(phone, "Delete")
    assert first not in [messages.title(t.number) for t in messages.ordered()]


def test_a_checkbox_toggles_its_setting(phone):
    act(phone, action_type="open_app", app_name="Clock")
    alarm = sorted(phone.app("clock").alarms, key=lambda a: (a.hour, a.minute))[0]
    tap(phone, alarm.time)
    box = next(i for i, e in enumerate(phone.observe().elements) if e.class_name.endswith("CheckBox"))
    assert phone.observe().elements[box].checked == alarm.vibrate
    act(phone, action_type="click", index=box)
    assert phone.observe().elements[box].checked == alarm.vibrate is False


def test_toasts_take_no_touch(phone):
    """A toast floats over the list; a tap where it shows reaches the row underneath."""
    act(phone, action_type="open_app", app_name="Contacts")
    name = next(e.text for e in phone.observe().elements if e.resource_id.endswith("/title") and " " in e.text)
    tap(phone, name)
    tap(phone, "Delete contact")
    tap(phone, "Delete")                       # back on the list, with a toast "... deleted"
    toast = next(e for e in phone.observe().elements if e.resource_id.endswith("/toast"))
    act(phone, action_type="click", x=toast.bounds.center[0], y=toast.bounds.center[1])
    assert phone.current_activity == ".QuickContactActivity"


def test_typing_behind_a_dialog_is_refused_and_changes_nothing(phone):
    act(phone, action_type="open_app", app_name="Contacts")
    name = next(e.text for e in phone.observe().elements if e.resource_id.endswith("/title") and " " in e.text)
    tap(phone, name)
    tap(phone, "Delete contact")                     # the dialog is open over the contact's page
    obs = phone.observe()
    before = (phone.frame().source, phone.elapsed)
    behind = next(i for i, e in enumerate(obs.elements) if e.text == name)
    with pytest.raises(InvalidAction, match="a dialog .* is open"):
        phone.act({"action_type": "input_text", "text": "x", "index": behind, "clear_text": True})
    assert (phone.frame().source, phone.elapsed) == before


def test_text_no_keyboard_types_is_dropped(phone):
    act(phone, action_type="open_app", app_name="Notes")
    tap(phone, "New note")
    phone.type_text("a\ud800b\x00c\u0007d\te")
    assert phone.app("notes").route.state["draft"]["title"] == "abc" + "d\te"
    assert "abcd" in phone.frame().source and phone.observe().screenshot.size
