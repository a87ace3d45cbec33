"""The `podium` command line. Usage errors exit 2 with a message naming what was wrong."""
from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import click
import numpy as np
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from control.bus.hub import DEFAULT_HUB, Hub, HubClient
from control.bus.options import daemon_options, hub_option, key_options, make_daemon
from control.bus.security import FleetKeys, KeyPair, ServerCurve, create_keypair
from control.errors import PodiumError
from control.terminal import fail

console = Console()


def _version() -> str:
    try:
        return version("podium")
    except PackageNotFoundError:
        return "unknown"


def _setup_logging(verbosity: int) -> None:
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    logging.basicConfig(level=level, format="%(message)s",
                        handlers=[RichHandler(console=Console(stderr=True), show_path=False)])


def _server_curve(keys: str | None, allow: str | None) -> ServerCurve | None:
    if keys is None and allow is None:
        return None
    if keys is None or allow is None:
        raise click.UsageError("--keys and --allow go together (server secret key, client allow-list)")
    return ServerCurve.from_files(keys, allow)


def _hub_keys(keys: FleetKeys | None) -> FleetKeys | None:
    if keys is not None and keys.hub_public is None:
        raise click.UsageError("--keys needs --hub-key (the hub's public .key file) to call a secured hub")
    return keys


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), "--version", prog_name="podium")
@click.option("-v", "--verbose", count=True, help="-v: info logging, -vv: debug.")
def cli(verbose: int) -> None:
    """podium: a ZeroMQ control stack for simulators, Android devices and learning agents."""
    _die_with_supervisor()
    _setup_logging(verbose)


def _die_with_supervisor() -> None:
    """Under `podium up`, ask Linux to SIGTERM this process when the supervisor dies, however it
    dies (SIGKILL included), so no daemon outlives it. No library wraps prctl, hence ctypes."""
    parent = os.environ.pop("PODIUM_SUPERVISOR_PID", None)
    if parent is None or not sys.platform.startswith("linux"):
        return
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != int(parent):  # the supervisor died before we got here
        sys.exit(0)


@cli.command()
@click.option("--bind", default=DEFAULT_HUB, show_default=True, help="Address to listen on.")
@click.option("--keys", type=click.Path(exists=True, dir_okay=False), envvar="PODIUM_KEYS",
              help="Hub .key_secret file (env PODIUM_KEYS).")
@click.option("--allow", type=click.Path(exists=True, file_okay=False), envvar="PODIUM_ALLOW",
              help="Directory of client public keys allowed to connect (env PODIUM_ALLOW).")
def hub(bind: str, keys: str | None, allow: str | None) -> None:
    """Run the hub (the registry of live services) in the foreground."""
    try:
        server = Hub(bind, curve=_server_curve(keys, allow))
    except PodiumError as exc:
        fail(str(exc))
    except Exception as exc:  # zmq's bind errors: address in use, bad address
        fail(f"cannot listen on {bind}: {exc}")
    console.print(f"hub listening on [bold]{server.endpoint}[/] (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


@cli.command("ls")
@hub_option
@click.option("--kind", help="Only services of this kind.")
@key_options(serves=False)
def list_services(hub_endpoint: str, kind: str | None, keys: FleetKeys | None) -> None:
    """List live services registered with the hub."""
    with HubClient(hub_endpoint, keys=_hub_keys(keys)) as client:
        try:
            records = client.list(kind)
        except PodiumError as exc:
            fail(f"hub at {hub_endpoint}: {exc}")
    console.print(services_table(records))


def services_table(records: list[dict[str, Any]]) -> Table:
    table = Table(title=f"{len(records)} live service(s)")
    for column in ("name", "kind", "endpoint", "pid", "host", "last heartbeat"):
        table.add_column(column)
    for r in records:
        table.add_row(r["name"], r["kind"], r["endpoint"], str(r.get("pid") or "-"),
                      r.get("host") or "-", f"{r['age']:.1f} s ago")
    return table


def parse_call_args(text: str | None) -> tuple[list, dict]:
    """JSON list -> positional args, JSON object -> keyword args, any other JSON -> one argument."""
    if text is None:
        return [], {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON ({exc.msg} at column {exc.colno}): {text}",
                                 param_hint="ARGS") from None
    if isinstance(value, list):
        return value, {}
    if isinstance(value, dict):
        return [], value
    return [value], {}


def _to_json(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        if value.size <= 64:
            return value.tolist()
        return f"<array shape={list(value.shape)} dtype={value.dtype}>"
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    return value


@cli.command()
@click.argument("name")
@click.argument("method")
@click.argument("args", required=False)
@hub_option
@click.option("--timeout", default=10.0, show_default=True, help="Seconds to wait for the reply.")
@key_options(serves=False)
@click.option("--service-key", type=click.Path(exists=True, dir_okay=False),
              help="The service's own public .key file, instead of the one its hub record gives.")
def call(name: str, method: str, args: str | None, hub_endpoint: str, timeout: float,
         keys: FleetKeys | None, service_key: str | None) -> None:
    """Call METHOD of service NAME. ARGS is JSON: a list (positional) or an object (keywords).

    With keys, the hub is trusted for the service's public key (its record carries it), unless
    --service-key names it."""
    from control.bus.hub import connect

    positional, keywords = parse_call_args(args)
    keys = _hub_keys(keys)
    if service_key is not None and keys is None:
        raise click.UsageError("--service-key needs --keys (this client's key pair)")
    try:
        curve = keys.client_curve(KeyPair.load(service_key).public) if service_key else None
        with connect(name, hub_endpoint, timeout=timeout, keys=keys, curve=curve) as client:
            result = client.request(method, positional, keywords)
    except PodiumError as exc:
        fail(str(exc))
    console.print_json(json.dumps(_to_json(result)))


@cli.command()
@click.argument("names", nargs=-1)
@click.option("--dir", "directory", default=str(Path.home() / ".config" / "podium" / "keys"),
              show_default=True, type=click.Path(file_okay=False), help="Where to write the key pairs.")
@click.option("--allow", "allow_dir", type=click.Path(file_okay=False),
              help="Also copy each public key into this allow-list directory (what servers --allow).")
def keys(names: tuple[str, ...], directory: str, allow_dir: str | None) -> None:
    """Create a CurveZMQ key pair NAME.key / NAME.key_secret (mode 0600) for each NAME [default:
    podium]; a fleet's in one go: `podium keys hub host-a host-b learner --dir keys --allow keys/allowed`."""
    allowed = Path(allow_dir) if allow_dir else None
    for name in names or ("podium",):
        if Path(directory, f"{name}.key_secret").exists():
            fail(f"{Path(directory, name + '.key_secret')} exists already: refusing to replace a key pair")
        public, secret = create_keypair(directory, name)
        console.print(f"public key: {public}\nsecret key: {secret} (keep it private; mode 0600)")
        if allowed is not None:
            allowed.mkdir(parents=True, exist_ok=True)
            (allowed / public.name).write_bytes(public.read_bytes())
            console.print(f"allowed:    {allowed / public.name}")


@cli.command()
@click.option("--name", default="echo:0", show_default=True, help="Service name in the hub.")
@daemon_options
def echo(name: str, hub_endpoint: str, bind: str, keys: FleetKeys | None) -> None:
    """Run an echo/sample service daemon (for checking a bus end to end)."""
    from control.bus.echo import EchoService

    make_daemon(EchoService(), name, "echo", hub_endpoint=hub_endpoint, bind=bind, keys=keys).run()


def _add_fleet_commands() -> None:
    from control.fleet.cli import COMMANDS

    for command in COMMANDS:
        cli.add_command(command)


class PluginConflict(PodiumError):
    """Two commands claim one name: podium refuses to guess which one you meant."""


def _load_plugins() -> None:
    """Commands from other podium packages (`podium sim`, `podium android`, ...) arrive through
    the `podium.commands` entry point, so that `control` never imports them. A name claimed twice
    is an error at start-up; a plugin that cannot be loaded becomes a command that says why."""
    from importlib.metadata import entry_points

    sources = {name: "podium itself" for name in cli.commands}
    for entry in entry_points(group="podium.commands"):
        if entry.name in sources:
            raise PluginConflict(f"the command name {entry.name!r} is claimed twice: by "
                                 f"{sources[entry.name]} and by {entry.value}; uninstall one of them")
        sources[entry.name] = entry.value
        try:
            command = entry.load()
        except Exception as exc:
            command = _broken_plugin(entry.name, entry.value, exc)
        cli.add_command(command, entry.name)


def _broken_plugin(name: str, source: str, exc: Exception) -> click.Command:
    @click.command(name, help=f"(cannot be loaded: {exc})", context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def broken(args: tuple[str, ...]) -> None:
        fail(f"the command {name!r} ({source}) cannot be loaded: {type(exc).__name__}: {exc}")
    return broken


_add_fleet_commands()
try:
    _load_plugins()
except PluginConflict as _conflict:
    _PLUGIN_ERROR: PluginConflict | None = _conflict
else:
    _PLUGIN_ERROR = None


def main() -> None:
    if _PLUGIN_ERROR is not None:
        fail(str(_PLUGIN_ERROR))
    cli(prog_name="podium")


if __name__ == "__main__":
    main()
