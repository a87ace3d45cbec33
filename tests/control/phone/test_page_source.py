"""UiAutomator2 page source: the server's format, other roots, missing attributes; malformed XML
refused whole; fuzzed."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from control.phone.page_source import MAX_NODES, PageSourceError, parse_page_source

SETTINGS = (Path(__file__).parents[2] / "devices" / "android" / "data" / "settings.xml").read_text()

# As appium-uiautomator2-server writes it: the prolog, <hierarchy>, attributes in the dumper's
# order (null ones omitted), a newer attribute or two at the end; hidden and empty nodes too.
DUMP = (Path(__file__).parent / "data" / "clock.xml").read_text()


def test_the_uiautomator2_dump_is_parsed_attribute_by_attribute():
    screen = parse_page_source(DUMP)
    assert screen.size == (1080, 2400) and screen.package == "com.google.android.deskclock"
    fab, switch, field = screen.elements   # the unlabelled View, hidden and empty nodes are dropped
    assert (fab.class_name, fab.content_desc, fab.resource_id) == (
        "android.widget.Button", "Add alarm", "com.google.android.deskclock:id/fab")
    assert fab.clickable and fab.focusable and not fab.checkable and fab.bounds.center == (540, 2006)
    assert switch.checkable and switch.checked and switch.text == "ON"
    assert field.editable and field.focused and field.password and field.long_clickable
    assert not field.enabled and field.hint == "Label" and field.label == "Label"


def test_everything_keeps_every_node_with_bounds():
    screen = parse_page_source(DUMP, everything=True)
    assert len(screen.elements) == 7
    assert screen.elements[0].class_name == "android.widget.FrameLayout"


def test_other_roots_and_missing_attributes_are_tolerated():
    # Appium's fake driver wraps the tree; a bare node with only a tag and bounds still parses
    screen = parse_page_source(SETTINGS.replace("<app ", "<AppiumAUT><app ").replace("</app>", "</app></AppiumAUT>"))
    assert screen.size == (1080, 2400) and len(screen.elements) == 8
    bare = parse_page_source('<root><android.widget.Button bounds="[0,0][10,10]" clickable="true"/></root>')
    (button,) = bare.elements
    assert button.class_name == "android.widget.Button" and button.text == "" and button.enabled
    assert bare.size is None and bare.package == ""


@pytest.mark.parametrize("source, words", [
    ("<hierarchy>", "not well-formed XML: no element found (line 1"),
    ("<a></b>", "mismatched tag"),
    ("", "not well-formed XML"),
    ('<!DOCTYPE h [<!ENTITY e "x">]><h>&e;</h>', "DTDs and entities are not allowed"),
    ('<h><n bounds="[0,0][10]"/></h>', "node 1 (n) has malformed bounds '[0,0][10]'"),
    ('<h><n bounds="[0,0][1,1]" clickable="yes"/></h>', "node 1 (n) has clickable='yes'"),
    ('<h><n bounds="[0,0][1,' + "9" * 5000 + ']"/></h>', "node 1 (n) has malformed bounds"),
    (b"\xff\xfe<h/>", "not well-formed XML"),
    (12, "page source must be XML text"),
])
def test_malformed_page_source_is_refused_with_what_and_where(source, words):
    with pytest.raises(PageSourceError) as info:
        parse_page_source(source)
    assert words in str(info.value)


def test_a_billion_laughs_never_expands():
    bomb = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            + "".join(f'<!ENTITY lol{i} "{"&lol{};".format(i - 1 if i > 1 else "") * 10}">' for i in range(1, 10))
            + ']><lolz>&lol9;</lolz>')
    with pytest.raises(PageSourceError, match="DTDs and entities are not allowed"):
        parse_page_source(bomb)


def test_an_oversized_tree_is_refused():
    nodes = '<n bounds="[0,0][1,1]"/>' * (MAX_NODES + 1)
    with pytest.raises(PageSourceError, match=f"more than {MAX_NODES} nodes"):
        parse_page_source(f"<h>{nodes}</h>")


attribute = st.sampled_from(["text", "content-desc", "resource-id", "class", "bounds", "clickable",
                             "checked", "enabled", "package", "hint", "displayed", "width", "height"])
value = st.one_of(st.text(max_size=15), st.sampled_from(["true", "false", "[0,0][10,10]", "[1,2][3]", "1080"]),
                  st.integers(0, 10**40).map(lambda n: f"[0,0][{n},{n}]"))
node = st.tuples(st.sampled_from(["hierarchy", "android.widget.Button", "node", "app"]),
                 st.dictionaries(attribute, value, max_size=6))


def _xml(nodes: list) -> str:
    from xml.sax.saxutils import quoteattr

    return "<h>" + "".join(f"<{tag} " + " ".join(f"{k}={quoteattr(v)}" for k, v in attrs.items()) + "/>"
                           for tag, attrs in nodes) + "</h>"


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300),
                 st.lists(node, max_size=8).map(_xml)))
def test_fuzz_page_source_gives_a_screen_or_a_page_source_error(source):
    try:
        screen = parse_page_source(source)
    except PageSourceError:
        return
    for element in screen.elements:
        assert element.bounds.area > 0 and (element.label or element.clickable or element.checkable
                                            or element.scrollable or element.editable
                                            or element.long_clickable)
