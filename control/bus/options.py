"""The command-line options every daemon and every bus client shares: the hub, the address to serve
on, and the fleet's CurveZMQ keys. Defined once, so `podium echo`, `podium sim`, `podium sim phone`,
`podium android`, `podium memory`, `podium ls` and `podium call` are secured the same way, and each
option also reads its environment variable (how `podium up` hands a fleet's keys to its daemons).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from control.bus.hub import DEFAULT_HUB
from control.bus.security import ALLOW_ENV, BIND_ENV, DEFAULT_BIND, HUB_KEY_ENV, KEYS_ENV, FleetKeys
from control.errors import PodiumError
from control.terminal import fail

hub_option = click.option("--hub", "hub_endpoint", default=DEFAULT_HUB, show_default=True,
                          envvar="PODIUM_HUB", help="Hub address.")
bind_option = click.option("--bind", default=DEFAULT_BIND, show_default=True, envvar=BIND_ENV,
                           help=f"Address to serve on (env {BIND_ENV}); beyond loopback it needs --keys.")


def key_options(serves: bool) -> Callable:
    """--keys, --hub-key (and, for a daemon, --allow), handed to the command as one `keys`
    argument: a FleetKeys, or None when no key is given."""
    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def wrapper(*args: Any, keys_file: str | None, hub_key_file: str | None,
                    allow_dir: str | None = None, **kwargs: Any) -> Any:
            try:
                keys = FleetKeys.from_files(keys_file, hub_key_file, allow_dir)
                if keys is not None and serves:
                    keys.server_curve()  # an allow-list is required to serve: say so before starting
            except PodiumError as exc:
                fail(str(exc))
            return command(*args, keys=keys, **kwargs)

        options = [
            click.option("--keys", "keys_file", type=click.Path(exists=True, dir_okay=False), envvar=KEYS_ENV,
                         help=f"This member's .key_secret file (CurveZMQ; env {KEYS_ENV})."),
            click.option("--hub-key", "--server-key", "hub_key_file", type=click.Path(exists=True, dir_okay=False),
                         envvar=HUB_KEY_ENV, help=f"The hub's public .key file (env {HUB_KEY_ENV}; "
                                                  "--server-key is its old name)."),
        ]
        if serves:
            options.append(click.option("--allow", "allow_dir", type=click.Path(exists=True, file_okay=False),
                                        envvar=ALLOW_ENV,
                                        help=f"Directory of client public keys allowed to call (env {ALLOW_ENV})."))
        for option in reversed(options):
            wrapper = option(wrapper)
        return wrapper
    return decorate


def daemon_options(command: Callable) -> Callable:
    """--hub, --bind and the keys of a daemon command (arguments hub_endpoint, bind, keys)."""
    return hub_option(bind_option(key_options(serves=True)(command)))


def make_daemon(target: object, name: str, kind: str, *, hub_endpoint: str, bind: str,
                keys: FleetKeys | None, capabilities: dict[str, Any] | None = None) -> Any:
    """The Daemon of a daemon command; one error line (an insecure bind, an address in use, bad
    keys) instead of a traceback."""
    import zmq

    from control.bus.daemon import Daemon

    try:
        return Daemon(target, name, kind, hub=hub_endpoint, endpoint=bind, capabilities=capabilities,
                      keys=keys)
    except PodiumError as exc:
        fail(str(exc))
    except zmq.ZMQError as exc:
        fail(f"cannot serve {name} on {bind}: {exc}")
