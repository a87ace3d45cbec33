"""Android key codes by name (android.view.KeyEvent), for `keyboard_enter` with a `keycode`.

Only names a GUI agent has reason to press; an unknown name is refused before any device is
touched rather than guessed.
"""
from __future__ import annotations

import string

from control.phone.action import InvalidAction

KEYCODES: dict[str, int] = {
    "KEYCODE_HOME": 3, "KEYCODE_BACK": 4, "KEYCODE_CALL": 5, "KEYCODE_ENDCALL": 6,
    "KEYCODE_DPAD_UP": 19, "KEYCODE_DPAD_DOWN": 20, "KEYCODE_DPAD_LEFT": 21, "KEYCODE_DPAD_RIGHT": 22,
    "KEYCODE_DPAD_CENTER": 23, "KEYCODE_VOLUME_UP": 24, "KEYCODE_VOLUME_DOWN": 25, "KEYCODE_POWER": 26,
    "KEYCODE_CAMERA": 27, "KEYCODE_COMMA": 55, "KEYCODE_PERIOD": 56, "KEYCODE_TAB": 61,
    "KEYCODE_SPACE": 62, "KEYCODE_ENTER": 66, "KEYCODE_DEL": 67, "KEYCODE_MENU": 82,
    "KEYCODE_SEARCH": 84, "KEYCODE_PAGE_UP": 92, "KEYCODE_PAGE_DOWN": 93, "KEYCODE_ESCAPE": 111,
    "KEYCODE_FORWARD_DEL": 112, "KEYCODE_MOVE_HOME": 122, "KEYCODE_MOVE_END": 123,
    "KEYCODE_APP_SWITCH": 187,
    **{f"KEYCODE_{d}": 7 + i for i, d in enumerate(string.digits)},
    **{f"KEYCODE_{c}": 29 + i for i, c in enumerate(string.ascii_uppercase)},
}
ENTER, HOME, BACK = KEYCODES["KEYCODE_ENTER"], KEYCODES["KEYCODE_HOME"], KEYCODES["KEYCODE_BACK"]


def keycode(name: str | None) -> int:
    """The code of key `name` (KEYCODE_ENTER when None); InvalidAction for names not known."""
    if name is None:
        return ENTER
    code = KEYCODES.get(name)
    if code is None:
        raise InvalidAction(f"unknown key {name!r}; known keys: {', '.join(sorted(KEYCODES))}")
    return code
