"""Both parsers on the output shapes models really produce, malformed ones included, and a fuzz
test: no text whatever makes the parser raise anything but ParseError."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.gui.parse import Frame, ParseError, parse, parse_json, parse_uitars
from control.phone.action import JSONAction

SCREEN = Frame((1080, 2400), resized=(1092, 2408), convention="screen")

JSON_SHAPES = [
    # (model output, expected action, expected reasoning)
    ('Reason: Wi-Fi is on the screen.\nAction: {"action_type": "click", "index": 4}',
     JSONAction("click", index=4), "Wi-Fi is on the screen."),
    ('```json\n{"action_type": "input_text", "text": "Ada", "index": 2}\n```',
     JSONAction("input_text", text="Ada", index=2), ""),
    ('{"action_type":"navigate_back"}', JSONAction("navigate_back"), ""),
    ("Thought: the note is open.\nAction: {'action_type': 'status', 'goal_status': 'complete'}",   # Python literal
     JSONAction("status", goal_status="complete"), "the note is open."),
    ('I will scroll. {"foo": 1} then {"action_type": "scroll", "direction": "down"}',   # first object lacks one
     JSONAction("scroll", direction="down"), "I will scroll."),
    ('Reason: the answer is shown\nAction: {"action_type": "answer", "text": "7:30 AM"}',
     JSONAction("answer", text="7:30 AM"), "the answer is shown"),
    ('{"action_type": "click", "x": 540, "y": 1200}', JSONAction("click", x=540, y=1200), ""),
    ('{"action_type": "open_app", "app_name": "Clock"} {"action_type": "navigate_home"}',   # two: the first
     JSONAction("open_app", app_name="Clock"), ""),
]


@pytest.mark.parametrize(("text", "action", "reasoning"), JSON_SHAPES)
def test_json_actions_in_the_shapes_models_write(text, action, reasoning):
    parsed = parse(text, SCREEN)
    assert parsed.action == action and parsed.format == "json"
    assert parsed.reasoning == reasoning


UITARS_SHAPES = [
    ("Thought: open the drawer.\nAction: click(start_box='(540,1200)')", JSONAction("click", x=540, y=1200)),
    ("Action: click(point='<point>100 200</point>')", JSONAction("click", x=100, y=200)),
    ("Action: click(start_box='<|box_start|>(100,200)<|box_end|>')", JSONAction("click", x=100, y=200)),
    ("Action: click(start_box='[100, 200, 300, 400]')", JSONAction("click", x=200, y=300)),   # a box: its centre
    ("Action: left_double(start_box='(10,20)')", JSONAction("double_tap", x=10, y=20)),
    ("Action: long_press(start_box='(10,20)')", JSONAction("long_press", x=10, y=20)),
    ("Action: type(content='hello world\\n')", JSONAction("input_text", text="hello world")),
    ("Action: type(content='it\\'s (fine)')", JSONAction("input_text", text="it's (fine)")),
    ("Action: scroll(direction='down')", JSONAction("scroll", direction="down")),
    ("Action: scroll(start_box='(540,1200)', direction='up')", JSONAction("scroll", direction="up", x=540, y=1200)),
    ("Action: drag(start_box='(500,2000)', end_box='(500,400)')", JSONAction("swipe", direction="up")),
    ("Action: press_back()", JSONAction("navigate_back")),
    ("Action: press_home()", JSONAction("navigate_home")),
    ("Action: hotkey(key='enter')", JSONAction("keyboard_enter", keycode="KEYCODE_ENTER")),
    ("Action: open_app(app_name='Settings')", JSONAction("open_app", app_name="Settings")),
    ("Action: wait()", JSONAction("wait")),
    ("Action: finished()", JSONAction("status", goal_status="complete")),
    ("Action: finished(content='42')", JSONAction("answer", text="42")),
    ("Action: call_user()", JSONAction("status", goal_status="infeasible")),
    ("Thought: first back, then...\nAction: press_back()\nAction: press_home()", JSONAction("navigate_home")),
]


@pytest.mark.parametrize(("text", "action"), UITARS_SHAPES)
def test_uitars_calls_in_the_shapes_models_write(text, action):
    parsed = parse(text, SCREEN)
    assert parsed.action == action and parsed.format == "uitars"


def test_uitars_coordinate_conventions_map_to_screen_pixels():
    text = "Action: click(start_box='(500,500)')"
    assert parse_uitars(text, Frame((1080, 2400), convention="relative")).action == JSONAction("click", x=540, y=1200)
    resized = Frame((1080, 2400), resized=(540, 1200), convention="resized")      # the model saw half size
    assert parse_uitars(text, resized).action == JSONAction("click", x=1000, y=1000)
    assert parse_uitars(text, Frame((1080, 2400), convention="screen")).action == JSONAction("click", x=500, y=500)


def test_the_reasoning_before_a_uitars_call_is_kept():
    parsed = parse("Thought: the Save button commits it.\nAction: click(start_box='(5,5)')", SCREEN)
    assert parsed.reasoning == "the Save button commits it."


MALFORMED = [
    ("", "empty"),
    ("   \n", "empty"),
    ("I think the Wi-Fi row should be tapped next.", "no JSON action"),
    ('{"index": 3}', "no JSON action"),
    ('{"action_type": "teleport"}', "not valid"),
    ('{"action_type": "click"}', "not valid"),                     # no target
    ('{"action_type": "click", "index": 3', "no JSON action"),     # cut off mid-object
    ("Action: click(start_box='')", "no coordinates"),
    ("Action: click(start_box='(5000,9000)')", "off the screen"),
    ("Action: type(content='unclosed", "not closed"),
    ("Action: type()", "content"),
    ("Action: hotkey(key='volume_up')", "not a key"),
    ("Action: scroll(direction='diagonal')", "not a valid action"),
]


@pytest.mark.parametrize(("text", "says"), MALFORMED)
def test_malformed_output_is_a_parse_error_that_says_what_is_wrong(text, says):
    with pytest.raises(ParseError, match=says):
        parse(text, SCREEN)


def test_json_parser_never_evaluates_code():
    with pytest.raises(ParseError):
        parse_json("{'action_type': __import__('os').getcwd()}")


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.text(max_size=300),
    st.text(alphabet="{}[]()'\":,<>|_ \\\n0123456789actionypeclkrsfd=", max_size=200),
    st.builds(lambda a, b: f"Action: {a}({b})", st.sampled_from(["click", "type", "scroll", "drag", "hotkey",
                                                                   "finished", "open_app", "long_press"]),
              st.text(max_size=80)),
    st.builds(lambda d: "Action: " + d, st.dictionaries(st.sampled_from(["action_type", "index", "x", "y", "text",
                                                                          "direction", "goal_status"]),
                                                         st.one_of(st.integers(), st.text(max_size=10), st.none(),
                                                                   st.floats()), max_size=4).map(str)),
))
def test_no_output_crashes_the_parser(text):
    try:
        parsed = parse(text, SCREEN)
    except ParseError:
        return
    assert isinstance(parsed.action, JSONAction)
