"""A screen's windows as UiAutomator2 page source, and the stable identity of every node.

The XML is what appium-uiautomator2-server writes with multi-window dumps on: the prolog, a
`<hierarchy>` root with rotation and size, one root per window (the app first, then the status
bar, a dialog, the keyboard, a toast), each node's tag its class, attributes in the dumper's
order with null ones omitted, `bounds="[l,t][r,b]"` and `"true"`/`"false"` booleans.

A node's identity is the path of its window and its ancestors' keys (a list row's key is its item,
not its position), so an element found by a client stays the same element while the screen around
it changes, and goes stale when it is gone.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

from sims.phone.ui import View

# Characters XML 1.0 cannot carry; UiAutomator2 drops them from the dump too.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;",
                          "\r": "&#13;", "\t": "&#9;"})


class Window(NamedTuple):
    package: str
    root: View


def _attr(value: str) -> str:
    return _INVALID_XML.sub("", value).translate(_ESCAPES)


def _bool(value: bool) -> str:
    return "true" if value else "false"


def resource_id(package: str, rid: str) -> str:
    """UiAutomator2's full resource id: 'com.x:id/title' (an 'android:' id stays as it is)."""
    if not rid:
        return ""
    return rid if ":" in rid else f"{package}:id/{rid}"


def page_source(windows: list[Window], width: int, height: int) -> str:
    parts = ["<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>",
             f'<hierarchy index="0" class="hierarchy" rotation="0" width="{width}" height="{height}">']
    for index, window in enumerate(windows):
        _node(parts, window.root, window.package, index, 1)
    parts.append("</hierarchy>")
    return "\n".join(parts)


def _node(parts: list[str], view: View, package: str, index: int, depth: int) -> None:
    b = view.bounds
    attrs = [f'index="{index}"', f'package="{_attr(package)}"', f'class="{view.cls}"', f'text="{_attr(view.text)}"']
    if view.desc:
        attrs.append(f'content-desc="{_attr(view.desc)}"')
    attrs += [f'resource-id="{_attr(resource_id(package, view.rid))}"',
              f'checkable="{_bool(view.checkable)}"', f'checked="{_bool(view.checked)}"',
              f'clickable="{_bool(view.clickable)}"', f'enabled="{_bool(view.enabled)}"',
              f'focusable="{_bool(view.focusable)}"', f'focused="{_bool(view.focused)}"',
              f'long-clickable="{_bool(view.long_clickable)}"', f'password="{_bool(view.password)}"',
              f'scrollable="{_bool(view.scrollable)}"', f'selected="{_bool(view.selected)}"',
              f'bounds="[{b.left},{b.top}][{b.right},{b.bottom}]"', 'displayed="true"']
    if view.hint:
        attrs.append(f'hint="{_attr(view.hint)}"')
    indent = "  " * depth
    opening = f"{indent}<{view.cls} {' '.join(attrs)}"
    if not view.children:
        parts.append(opening + " />")
        return
    parts.append(opening + ">")
    for i, child in enumerate(view.children):
        _node(parts, child, package, i, depth + 1)
    parts.append(f"{indent}</{view.cls}>")


def nodes(windows: list[Window]) -> Iterator[tuple[str, str, View]]:
    """(identity, package, view) for every node, in document order (the order of the XML)."""
    for w, window in enumerate(windows):
        yield from _identified(window.root, f"{w}:{window.package}", window.package)


def _identified(view: View, prefix: str, package: str) -> Iterator[tuple[str, str, View]]:
    yield prefix, package, view
    seen: dict[str, int] = {}
    for i, child in enumerate(view.children):
        name = child.key or f"{child.cls.rsplit('.', 1)[-1]}.{child.rid}#{i}"
        count = seen.get(name, 0)  # two siblings with one key stay distinct
        seen[name] = count + 1
        yield from _identified(child, f"{prefix}/{name}" + (f"~{count}" if count else ""), package)
