"""Fleet commands: podium up, status, logs, down, restart, export systemd."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import click
import platformdirs
from rich.console import Console
from rich.live import Live
from rich.table import Table

from control.errors import PodiumError
from control.fleet.config import FleetConfig, load_config
from control.fleet.supervisor import (
    AlreadyRunning,
    NotRunning,
    StateDir,
    Supervisor,
    control_client,
    hub_argv,
    is_our_child,
    safe_name,
    terminate_all,
)
from control.terminal import fail

console = Console()
DEFAULT_STATE = Path(platformdirs.user_state_dir("podium"))

state_option = click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
                            default=DEFAULT_STATE, show_default=True, envvar="PODIUM_STATE_DIR",
                            help="Where pids, logs and the control socket live.")


def _load(config_path: Path) -> FleetConfig:
    try:
        return load_config(config_path)
    except PodiumError as exc:  # ConfigError, or a KindError from an installed package
        fail(str(exc))


def status_table(rows: list[dict]) -> Table:
    table = Table(title="podium daemons")
    for column in ("name", "kind", "pid", "state", "uptime", "restarts", "last heartbeat", "endpoint"):
        table.add_column(column)
    styles = {"running": "green", "starting": "cyan", "backoff": "yellow", "failed": "bold red", "stopped": "dim"}
    for r in rows:
        uptime = f"{r['uptime']:.0f} s" if r["uptime"] is not None else "-"
        beat = f"{r['heartbeat_age']:.1f} s ago" if r["heartbeat_age"] is not None else "-"
        state = f"[{styles.get(r['state'], '')}]{r['state']}[/]"
        table.add_row(r["name"], r["kind"], str(r["pid"] or "-"), state, uptime, str(r["restarts"]),
                      beat, r["endpoint"] or "-")
    return table


@click.command()
@click.argument("config_path", metavar="CONFIG", type=click.Path(path_type=Path), default="podium.toml")
@state_option
@click.option("--detach", is_flag=True, help="Run the supervisor in the background and return.")
@click.option("--live/--no-live", default=None, help="Live status table [default: on a terminal].")
def up(config_path: Path, state_dir: Path, detach: bool, live: bool | None) -> None:
    """Start the hub and one daemon per device in CONFIG, and supervise them."""
    config = _load(config_path)
    state = StateDir(state_dir)
    if state.is_locked():
        fail(str(state.already_running()))
    if detach:
        _detach(config_path, state)
        return
    try:
        supervisor = Supervisor(config, state)
    except PodiumError as exc:
        fail(f"{config_path}: {exc}")
    live = console.is_terminal if live is None else live
    try:
        if live:
            supervisor.on_event = lambda message: None
            with Live(status_table(supervisor.status()), console=console, refresh_per_second=2) as view:
                last = [0.0]

                def refresh() -> None:
                    if time.monotonic() - last[0] > 1.0:
                        view.update(status_table(supervisor.status()))
                        last[0] = time.monotonic()
                supervisor.run(on_tick=refresh)
        else:
            supervisor.on_event = lambda message: console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {message}")
            supervisor.run()
    except AlreadyRunning as exc:
        fail(str(exc))


def _detach(config_path: Path, state: StateDir) -> None:
    state.logs.mkdir(parents=True, exist_ok=True)
    log_path = state.logs / "supervisor.log"
    with open(log_path, "ab") as log_file:
        proc = subprocess.Popen([sys.executable, "-m", "control.cli", "up", str(config_path.resolve()),
                                 "--state-dir", str(state.root), "--no-live"],
                                stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            fail(f"the supervisor exited with {proc.returncode}:\n{_tail(log_path, 20)}")
        try:
            with control_client(state, timeout=1.0) as client:
                client.call("info")
            console.print(f"podium supervisor running as pid {proc.pid} (state in {state.root}); "
                          "`podium status` shows the daemons, `podium down` stops them")
            return
        except (NotRunning, PodiumError):
            time.sleep(0.1)
    fail(f"the supervisor did not answer within 30 s; see {log_path}")


def _tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


@click.command()
@state_option
def status(state_dir: Path) -> None:
    """Show every supervised daemon: pid, state, uptime, restarts, heartbeat, endpoint."""
    try:
        with control_client(StateDir(state_dir)) as client:
            rows = client.call("status")
    except (NotRunning, PodiumError) as exc:
        fail(str(exc))
    console.print(status_table(rows))


@click.command()
@click.argument("name")
@state_option
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines (Ctrl-C to stop).")
@click.option("-n", "--lines", default=50, show_default=True, help="How many last lines to show.")
def logs(name: str, state_dir: Path, follow: bool, lines: int) -> None:
    """Print the log of daemon NAME (or 'hub', or 'supervisor')."""
    state = StateDir(state_dir)
    path = state.logs / f"{safe_name(name)}.log"
    if not path.exists():
        known = sorted(p.stem for p in state.logs.glob("*.log")) if state.logs.exists() else []
        fail(f"no log for {name!r} in {state.logs}" + (f" (there are: {', '.join(known)})" if known else ""))
    click.echo(_tail(path, lines))
    if follow:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            try:
                while True:
                    chunk = f.read()
                    if chunk:
                        sys.stdout.write(chunk.decode(errors="replace"))
                        sys.stdout.flush()
                    else:
                        time.sleep(0.2)
            except KeyboardInterrupt:
                pass


@click.command()
@state_option
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for a clean stop.")
def down(state_dir: Path, timeout: float) -> None:
    """Stop the supervisor and every daemon it runs."""
    state = StateDir(state_dir)
    pid = state.read_pid()
    if not state.is_locked():
        stopped = state.clean_stale()
        if stopped or pid:
            console.print(f"no supervisor was running; cleaned stale state and stopped {len(stopped)} "
                          "leftover daemon(s)")
        else:
            console.print(f"nothing is running for {state.root}")
        return
    try:
        with control_client(state) as client:
            client.call("stop")
    except PodiumError:
        if pid:
            terminate_all([pid], timeout=timeout)
    deadline = time.monotonic() + timeout
    while state.is_locked() and time.monotonic() < deadline:
        time.sleep(0.1)
    if state.is_locked():
        fail(f"the supervisor (pid {pid}) did not stop within {timeout:g} s")
    leftovers = [p for p in state.recorded_children().values() if is_our_child(p, state.root)]
    terminate_all(leftovers, timeout=5)
    console.print(f"stopped the supervisor (pid {pid}) and its daemons")


@click.command()
@click.argument("name")
@state_option
def restart(name: str, state_dir: Path) -> None:
    """Restart daemon NAME now (also revives a daemon marked failed)."""
    try:
        with control_client(StateDir(state_dir), timeout=60) as client:
            console.print(client.call("restart", name))
    except (NotRunning, PodiumError) as exc:
        fail(str(exc))


@click.group()
def export() -> None:
    """Write supervision files for other tools."""


@export.command("systemd")
@click.argument("config_path", metavar="CONFIG", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("systemd"),
              show_default=True, help="Directory for the unit files.")
def export_systemd(config_path: Path, out: Path) -> None:
    """One systemd unit per daemon (and the hub), restarting like `podium up` does."""
    config = _load(config_path)
    policy = config.supervisor
    out.mkdir(parents=True, exist_ok=True)
    hub_here = config.hub.start
    units = [("hub", hub_argv(config), [])] if hub_here else []
    units += [(d.name, d.daemon_argv(config.hub.address), ["podium-hub.service"] if hub_here else [])
              for d in config.devices]
    for name, argv, after in units:
        unit = out / f"podium-{safe_name(name)}.service"
        unit.write_text(systemd_unit(name, argv, after, config.daemon_environment(), policy))
        console.print(f"wrote {unit}")
    first = "podium-hub.service" if hub_here else f"podium-{safe_name(units[0][0])}.service" if units else ""
    console.print(f"install: sudo cp {out}/podium-*.service /etc/systemd/system/ && "
                  f"sudo systemctl daemon-reload && sudo systemctl enable --now {first} ...")


def systemd_quote(arg: str, variables: bool = True) -> str:
    """One ExecStart word as systemd reads it: double-quoted with \\ and \" escaped, and % doubled
    and $ (systemd expands %-specifiers and $VARIABLES even inside quotes). `variables=False` for
    an Environment= assignment, where systemd expands %-specifiers but not $VARIABLES."""
    escaped = arg.replace("%", "%%")
    if variables:
        escaped = escaped.replace("$", "$$")
    if escaped and not any(c in escaped for c in ' "\'\\;$'):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_unit(name: str, argv: list[str], after: list[str], environment: dict[str, str], policy) -> str:
    requires = " ".join(after)
    quoted = " ".join(systemd_quote(a) for a in argv)
    env_lines = "".join(f"Environment={systemd_quote(f'{k}={v}', variables=False)}\n"
                        for k, v in environment.items())
    return f"""[Unit]
Description=podium daemon {name}
After=network.target {requires}
Wants={requires}
StartLimitIntervalSec={int(policy.restart_window)}
StartLimitBurst={policy.max_restarts}

[Service]
ExecStart={quoted}
{env_lines}Environment=PYTHONUNBUFFERED=1
WorkingDirectory={Path.cwd()}
Restart=on-failure
RestartSec={policy.backoff_initial:g}
KillSignal=SIGTERM
TimeoutStopSec={policy.stop_timeout:g}

[Install]
WantedBy=multi-user.target
"""


COMMANDS = [up, status, logs, down, restart, export]
