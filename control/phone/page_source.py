"""UiAutomator2 page source (XML) -> `UIElement`s.

The format is what appium-uiautomator2-server's AccessibilityNodeInfoDumper writes:

    <?xml version='1.0' encoding='UTF-8' standalone='yes' ?>
    <hierarchy index="0" class="hierarchy" rotation="0" width="1080" height="2400">
      <android.widget.FrameLayout index="0" package="com.android.settings"
          class="android.widget.FrameLayout" text="" resource-id="" checkable="false" ...
          bounds="[0,0][1080,2400]" displayed="true">
        ...

Each node's tag is its class; attributes may be missing (null ones are omitted) and other roots
are accepted (Appium's fake driver wraps the tree in <AppiumAUT><app>): every element that has
`bounds` is a node, whatever its depth. Malformed XML, DTDs and entities (defusedxml refuses the
billion-laughs family), malformed bounds or booleans, and oversized trees are refused with a
`PageSourceError` that says what and where; nothing is returned in part.
"""
from __future__ import annotations

import re
from typing import NamedTuple
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from control.errors import PodiumError
from control.phone.observation import Bounds, UIElement

MAX_BYTES = 32 * 1024 * 1024
MAX_NODES = 50_000
_BOUNDS = re.compile(r"\[(-?\d{1,9}),(-?\d{1,9})\]\[(-?\d{1,9}),(-?\d{1,9})\]")  # pixels, not bignums
_BOOLEANS = {"true": True, "false": False}
# XML attribute -> UIElement field
_TEXT_ATTRIBUTES = {"text": "text", "content-desc": "content_desc", "resource-id": "resource_id",
                    "package": "package", "hint": "hint"}
_FLAG_ATTRIBUTES = {"clickable": "clickable", "long-clickable": "long_clickable",
                    "scrollable": "scrollable", "checkable": "checkable", "checked": "checked",
                    "focusable": "focusable", "focused": "focused", "enabled": "enabled",
                    "selected": "selected", "password": "password"}


class PageSourceError(PodiumError, ValueError):
    """Page source that is not well-formed UiAutomator2 XML."""


class Screen(NamedTuple):
    """What page source says about the screen."""

    elements: tuple[UIElement, ...]
    size: tuple[int, int] | None   # (width, height) from <hierarchy>, when it says
    package: str                   # the package of the first node, '' when none says


def parse_page_source(source: str | bytes, *, everything: bool = False) -> Screen:
    """Parse page source. By default only nodes a person could see and use are kept: on screen,
    with an area, and labelled or interactive (layout containers without a label are dropped);
    `everything=True` keeps every node with bounds."""
    if isinstance(source, str):
        source = source.encode("utf-8")
    if not isinstance(source, bytes):
        raise PageSourceError(f"page source must be XML text, got {type(source).__name__}")
    if len(source) > MAX_BYTES:
        raise PageSourceError(f"page source of {len(source)} bytes exceeds the limit of {MAX_BYTES}")
    try:
        root = fromstring(source, forbid_dtd=True)
    except ParseError as exc:
        line, column = exc.position
        raise PageSourceError(f"page source is not well-formed XML: {_reason(exc)} "
                              f"(line {line}, column {column})") from None
    except DefusedXmlException as exc:
        raise PageSourceError(f"page source refused: {exc} (DTDs and entities are not allowed)") from None
    elements: list[UIElement] = []
    count, package = 0, ""
    for node in root.iter():
        if "bounds" not in node.attrib:
            continue
        count += 1
        if count > MAX_NODES:
            raise PageSourceError(f"page source has more than {MAX_NODES} nodes")
        element = _element(node, count)
        package = package or element.package
        if everything or _useful(node, element):
            elements.append(element)
    return Screen(tuple(elements), _size(root), package)


def _reason(exc: ParseError) -> str:
    return str(exc).split(":", 1)[0]


def _element(node: Element, number: int) -> UIElement:
    attrs = node.attrib
    match = _BOUNDS.fullmatch(attrs["bounds"].strip())
    if match is None:
        raise PageSourceError(f"node {number} ({node.tag}) has malformed bounds {attrs['bounds']!r}; "
                              "expected '[left,top][right,bottom]'")
    values = {field: attrs.get(attr, "") for attr, field in _TEXT_ATTRIBUTES.items()}
    for attr, field in _FLAG_ATTRIBUTES.items():
        if attr in attrs:
            flag = _BOOLEANS.get(attrs[attr].strip().lower())
            if flag is None:
                raise PageSourceError(f"node {number} ({node.tag}) has {attr}={attrs[attr]!r}; "
                                      "expected 'true' or 'false'")
            values[field] = flag
    return UIElement(class_name=attrs.get("class") or node.tag, bounds=Bounds(*map(int, match.groups())),
                     **values)


def _useful(node: Element, element: UIElement) -> bool:
    if element.bounds.area == 0 or node.attrib.get("displayed", "true").lower() == "false":
        return False
    return bool(element.label or element.clickable or element.long_clickable or element.scrollable
                or element.checkable or element.editable)


def _size(root: Element) -> tuple[int, int] | None:
    for node in root.iter():
        if node.tag == "hierarchy":
            try:
                width, height = int(node.attrib["width"]), int(node.attrib["height"])
            except (KeyError, ValueError):
                return None
            return (width, height) if width > 0 and height > 0 else None
    return None
