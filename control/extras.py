"""Optional parts of podium and the extras that install them.

The bus alone needs only pyzmq, msgpack, numpy, pydantic, click, rich, platformdirs and
defusedxml. Everything else comes with an extra (`pip install 'podium[mujoco]'`, `[android]`,
`[rl]`, `[gym]`, `[all]`), so a phone host installs neither MuJoCo nor torch. A module or command
that needs an extra declares it with `require` or `needs_extra`, and a missing one is reported by
name instead of as a bare ModuleNotFoundError from deep inside an import.
"""
from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from typing import Any

import click

from control.errors import PodiumError
from control.terminal import fail


class MissingExtra(PodiumError, ImportError):
    """A part of podium was used whose extra is not installed."""


def missing_modules(*modules: str) -> list[str]:
    """The top-level modules among `modules` that cannot be imported here."""
    return [m for m in modules if importlib.util.find_spec(m) is None]


def require(extra: str, *modules: str, what: str) -> None:
    """Raise MissingExtra naming `extra` when any of `modules` is not installed."""
    missing = missing_modules(*modules)
    if missing:
        raise MissingExtra(f"{what} needs the '{extra}' extra: pip install 'podium[{extra}]' "
                           f"(not installed: {', '.join(missing)})")


def needs_extra(extra: str, *modules: str) -> Callable[[click.Command], click.Command]:
    """Decorate a click command so that it stops with a one-line error when its extra is missing."""
    def decorate(command: click.Command) -> click.Command:
        callback = command.callback

        @functools.wraps(callback)
        def checked(*args: Any, **kwargs: Any) -> Any:
            try:
                require(extra, *modules, what=f"`podium {command.name}`")
            except MissingExtra as exc:
                fail(str(exc))
            return callback(*args, **kwargs)

        command.callback = checked
        return command
    return decorate
