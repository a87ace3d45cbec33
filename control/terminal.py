"""What podium's commands print on a terminal (or into a log): one place for the error line."""
from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.markup import escape

# soft_wrap: an error is one line even in a narrow or non-terminal stream, so logs stay greppable.
errors = Console(stderr=True, soft_wrap=True)


def fail(message: str) -> NoReturn:
    """A runtime failure (not a usage error): 'error: message' on stderr, exit status 1."""
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False)  # '[android]' is not markup
    sys.exit(1)


def json_object(text: str | None, option: str) -> dict[str, Any]:
    """An option's JSON object (empty when not given); a usage error naming the option otherwise."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON ({exc.msg}): {text}", param_hint=option) from None
    if not isinstance(value, dict):
        raise click.BadParameter("must be a JSON object", param_hint=option)
    return value
