"""Observations: frozen, checked on construction, and carried by the real wire without pickle."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from control.bus import wire
from control.phone import BadObservation, Bounds, InvalidAction, Observation, UIElement


def sample(**changes) -> Observation:
    pixels = np.zeros((64, 32, 3), np.uint8)
    pixels[10:20, 5:15] = 255
    elements = (UIElement("android.widget.Button", Bounds(5, 10, 15, 20), text="OK", clickable=True),
                UIElement("android.widget.EditText", Bounds(0, 30, 32, 40), hint="Name", focused=True))
    return Observation(**{"screenshot": pixels, "elements": elements, "screen_size": (32, 64),
                          "package": "com.example", "activity": ".Main", **changes})


def test_an_observation_survives_the_wire_exactly():
    obs = sample()
    frames = wire.encode(wire.Message(wire.REPLY, 1, body=obs.to_tree()))
    back = Observation.from_tree(wire.decode(frames).body)
    assert np.array_equal(back.screenshot, obs.screenshot) and back.elements == obs.elements
    assert (back.screen_size, back.package, back.activity, back.timestamp) == (
        obs.screen_size, obs.package, obs.activity, obs.timestamp)
    assert len(frames) == 2  # the screenshot travels as one raw frame


def test_observations_are_frozen_all_the_way_down():
    obs = sample()
    with pytest.raises(dataclasses.FrozenInstanceError):
        obs.package = "x"
    with pytest.raises(ValueError, match="read-only"):
        obs.screenshot[0, 0, 0] = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        obs.elements[0].text = "changed"


def test_png_is_encoded_on_demand_and_decodes_to_the_same_pixels():
    from io import BytesIO

    from PIL import Image

    obs = sample()
    assert np.array_equal(np.asarray(Image.open(BytesIO(obs.png))), obs.screenshot)
    assert obs.png is obs.png  # encoded once


def test_elements_are_found_by_label_and_index_is_checked():
    obs = sample()
    assert obs.find("ok") == 0 and obs.find("Name") is None  # hints are not labels for find
    assert obs.elements[1].label == "Name"
    with pytest.raises(InvalidAction, match="index 5 is out of range: the screen has 2 element"):
        obs.element(5)
    assert "[0] Button 'OK' (clickable)" in obs.describe()


@pytest.mark.parametrize("changes, words", [
    ({"screenshot": np.zeros((4, 4), np.uint8)}, "HxWx3 uint8 RGB"),
    ({"screenshot": np.zeros((4, 4, 3), np.float32)}, "HxWx3 uint8 RGB"),
    ({"screenshot": np.zeros((0, 4, 3), np.uint8)}, "empty"),
    ({"screen_size": (0, 10)}, "screen_size must be (width, height)"),
    ({"elements": [1]}, "tuple of UIElement"),
])
def test_malformed_observations_are_refused(changes, words):
    with pytest.raises(BadObservation, match=words.replace("(", r"\(").replace(")", r"\)")):
        sample(**changes)


leaf = st.one_of(st.none(), st.booleans(), st.integers(-3, 3000), st.text(max_size=8),
                 st.just(np.zeros((2, 2, 3), np.uint8)), st.just(np.zeros(3, np.float32)))
tree = st.recursive(leaf, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.sampled_from(["screenshot", "elements", "screen_size", "package",
                                                       "timestamp", "bounds", "class_name", "text",
                                                       "clickable", "x"]), inner, max_size=5),
                    max_leaves=10)


@settings(max_examples=300, deadline=None)
@given(tree)
def test_fuzz_any_wire_tree_gives_an_observation_or_bad_observation(value):
    frames = wire.encode(wire.Message(wire.REPLY, 1, body=value))
    try:
        Observation.from_tree(wire.decode(frames).body)
    except BadObservation:
        pass
