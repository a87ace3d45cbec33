"""JSONAction: AndroidWorld's fields and JSON, validated as a whole; fuzzed from bytes."""
from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from control.phone.action import ACTION_TYPES, FIELDS, InvalidAction, JSONAction

VALID = [
    {"action_type": "click", "index": 3},
    {"action_type": "click", "x": 540, "y": 1200},
    {"action_type": "double_tap", "index": 0},
    {"action_type": "long_press", "x": 0, "y": 0},
    {"action_type": "scroll", "direction": "down"},
    {"action_type": "scroll", "direction": "left", "index": 2},
    {"action_type": "swipe", "direction": "up"},
    {"action_type": "input_text", "text": "Alice", "index": 5, "clear_text": True},
    {"action_type": "input_text", "text": ""},
    {"action_type": "keyboard_enter"},
    {"action_type": "keyboard_enter", "keycode": "KEYCODE_DEL"},
    {"action_type": "navigate_home"},
    {"action_type": "navigate_back"},
    {"action_type": "open_app", "app_name": "Contacts"},
    {"action_type": "status", "goal_status": "complete"},
    {"action_type": "status", "goal_status": "infeasible"},
    {"action_type": "answer", "text": "3 alarms"},
    {"action_type": "wait"},
]


def test_the_fields_and_types_are_android_worlds():
    assert [f.name for f in dataclasses.fields(JSONAction)] == list(FIELDS) == [
        "action_type", "index", "x", "y", "text", "direction", "goal_status", "app_name", "keycode",
        "clear_text"]
    assert set(ACTION_TYPES) == {"click", "double_tap", "long_press", "scroll", "swipe", "input_text",
                                 "keyboard_enter", "navigate_home", "navigate_back", "open_app",
                                 "status", "answer", "wait"}
    assert {a["action_type"] for a in VALID} == set(ACTION_TYPES)


@pytest.mark.parametrize("data", VALID, ids=lambda d: d["action_type"])
def test_valid_actions_round_trip_through_json(data):
    action = JSONAction.from_dict(data)
    assert action.as_dict() == data
    assert JSONAction.from_json(action.to_json()) == action
    assert JSONAction.coerce(action.to_json()) == action == JSONAction.coerce(data)


def test_actions_are_frozen_and_hashable():
    action = JSONAction("click", index=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        action.index = 2
    assert {action, JSONAction("click", index=1)} == {action}


@pytest.mark.parametrize("data, words", [
    ({"action_type": "tap", "index": 1}, "unknown action_type 'tap'"),
    ({"action_type": "click", "index": 1, "x": 3, "y": 4}, "either 'index' or 'x' and 'y', not both"),
    ({"action_type": "click", "x": 3}, "'x' and 'y' go together"),
    ({"action_type": "click"}, "click needs 'index' or 'x' and 'y'"),
    ({"action_type": "scroll"}, "scroll needs 'direction'"),
    ({"action_type": "scroll", "direction": "diagonal"}, "'direction' must be one of up, down, left, right"),
    ({"action_type": "swipe", "direction": "up", "index": 2}, "swipe does not take 'index'/'x'/'y'"),
    ({"action_type": "input_text"}, "input_text needs 'text'"),
    ({"action_type": "open_app"}, "open_app needs 'app_name'"),
    ({"action_type": "open_app", "app_name": "  "}, "non-empty 'app_name'"),
    ({"action_type": "status"}, "status needs 'goal_status'"),
    ({"action_type": "status", "goal_status": "done"}, "'goal_status' must be one of complete, infeasible"),
    ({"action_type": "answer", "text": ""}, "answer needs a non-empty 'text'"),
    ({"action_type": "keyboard_enter", "keycode": "ENTER"}, "like 'KEYCODE_ENTER'"),
    ({"action_type": "wait", "text": "5s"}, "wait does not take 'text'"),
    ({"action_type": "click", "index": -1}, "'index' must be a non-negative integer"),
    ({"action_type": "click", "index": 1.5}, "'index' must be a non-negative integer"),
    ({"action_type": "click", "x": True, "y": 2}, "'x' must be a non-negative integer"),
    ({"action_type": "input_text", "text": 5}, "'text' must be a string"),
    ({"action_type": "input_text", "text": "a", "clear_text": "yes"}, "'clear_text' must be true or false"),
    ({"action_type": "click", "index": 1, "colour": "red"}, "unknown action field(s) 'colour'"),
    ({"index": 1}, "an action needs 'action_type'"),
])
def test_each_mistake_is_named(data, words):
    with pytest.raises(InvalidAction) as info:
        JSONAction.from_dict(data)
    assert words in str(info.value)


def test_numbers_as_models_write_them_are_accepted():
    assert JSONAction.from_dict({"action_type": "click", "x": 540.0, "y": "1200"}) == JSONAction("click", x=540, y=1200)
    assert JSONAction.from_dict({"action_type": "click", "index": "3"}).index == 3
    assert JSONAction.from_dict({"action_type": "click", "index": 3, "x": None}).index == 3


@pytest.mark.parametrize("text", ["", "[1, 2]", "{", '"click"', "null", b"\xff\xfe"])
def test_json_that_is_not_an_action_object_is_refused(text):
    with pytest.raises(InvalidAction):
        JSONAction.from_json(text)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)
field_values = st.one_of(st.none(), st.booleans(), st.integers(-5, 5000), st.floats(allow_nan=True),
                         st.text(max_size=12), st.sampled_from(["up", "down", "KEYCODE_ENTER", "complete"]),
                         st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                              max_size=2))
action_like = st.fixed_dictionaries({"action_type": st.one_of(st.sampled_from([*ACTION_TYPES, "bogus"]),
                                                              field_values)},
                                    optional={f: field_values for f in FIELDS[1:]})


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200), json_values.map(json.dumps)))
def test_fuzz_any_bytes_give_an_action_or_invalid_action(data):
    try:
        action = JSONAction.from_json(data)
    except InvalidAction:
        return
    assert JSONAction.from_json(action.to_json()) == action


@settings(max_examples=500, deadline=None)
@given(action_like)
def test_fuzz_field_combinations_are_validated_as_a_whole(data):
    try:
        action = JSONAction.from_dict(data)
    except InvalidAction:
        return
    assert action.action_type in ACTION_TYPES
    assert action.index is None or action.x is None          # exclusive
    assert (action.x is None) == (action.y is None)           # together
    if action.action_type in ("click", "double_tap", "long_press"):
        assert action.index is not None or action.x is not None
    if action.action_type in ("scroll", "swipe"):
        assert action.direction in ("up", "down", "left", "right")
    assert JSONAction.from_dict(action.as_dict()) == action
