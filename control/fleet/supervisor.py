"""`podium up`: start the hub and one daemon process per device, and keep them alive.

- Every child is its own OS process with its own log file in the state directory.
- A child that exits on its own is restarted after a delay that doubles with each recent crash
  (backoff_initial, 2x, 4x, ... up to backoff_max); after `max_restarts` crashes within
  `restart_window` seconds it is marked failed and left alone until `podium restart NAME`.
- SIGTERM or SIGINT (or `podium down`) stops every child: SIGTERM, then SIGKILL after
  `stop_timeout`. Children also carry PR_SET_PDEATHSIG (set by the podium CLI when it sees
  PODIUM_SUPERVISOR_PID), so even a SIGKILLed supervisor leaves no daemons behind.
- The state directory holds a lock (one supervisor per directory), the supervisor's pid, the
  children's pids, the logs and the control socket that `podium status/restart/down` talk to.
  A lock that nobody holds means the last supervisor died: its leftovers are cleaned up.
"""
from __future__ import annotations

import collections
import fcntl
import json
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from control.bus.hub import HubClient
from control.bus.rpc import Client, Server
from control.bus.security import ALLOW_ENV, HUB_KEY_ENV, KEYS_ENV, FleetKeys, ServerCurve, curve_for_service
from control.errors import PodiumError
from control.fleet.config import FleetConfig
from control.fleet.kinds import podium_command

log = logging.getLogger(__name__)

MARKER = "PODIUM_STATE_DIR"      # in every child's environment: how leftovers are recognised
PARENT = "PODIUM_SUPERVISOR_PID"  # read by the podium CLI to ask for PR_SET_PDEATHSIG
HUB_NAME = "hub"


class AlreadyRunning(PodiumError, RuntimeError):
    """Another supervisor holds this state directory."""


class NotRunning(PodiumError, RuntimeError):
    """No supervisor answers for this state directory."""


def safe_name(name: str) -> str:
    """A device name as a file name: 'sim:humanoid-0' -> 'sim_humanoid-0'."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


class StateDir:
    """Paths and files of one supervisor's state directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        self.logs = self.root / "logs"
        self.lock_path = self.root / "supervisor.lock"
        self.pid_path = self.root / "supervisor.pid"
        self.children_path = self.root / "children.json"
        self.socket_path = self.root / "supervisor.sock"
        self._lock_file: Any = None

    @property
    def control_endpoint(self) -> str:
        return f"ipc://{self.socket_path}"

    def log_path(self, name: str) -> Path:
        return self.logs / f"{safe_name(name)}.log"

    def acquire(self) -> None:
        """Take the lock, or raise AlreadyRunning naming the holder."""
        self.logs.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.lock_path, "a+")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            self._lock_file = None
            raise self.already_running() from None

    def already_running(self) -> AlreadyRunning:
        """The error for a state directory whose lock a live supervisor holds."""
        return AlreadyRunning(f"podium up is already running for {self.root} (pid "
                              f"{self.read_pid() or '?'}); see `podium status`, or `podium down`")

    def is_locked(self) -> bool:
        """True while a live supervisor holds the lock (flock dies with its process)."""
        if not self.lock_path.exists():
            return False
        with open(self.lock_path, "a+") as probe:
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(probe, fcntl.LOCK_UN)
            return False

    def read_pid(self) -> int | None:
        try:
            return int(self.pid_path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def write_json(self, path: Path, data: Any) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)  # atomic: a reader never sees half a file

    def recorded_children(self) -> dict[str, int]:
        try:
            return json.loads(self.children_path.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def clean_stale(self) -> list[int]:
        """After a supervisor died: stop the children it recorded, drop its files. Returns pids stopped."""
        stopped = [pid for pid in self.recorded_children().values() if is_our_child(pid, self.root)]
        terminate_all(stopped, timeout=5.0)
        for path in (self.pid_path, self.children_path, self.socket_path):
            path.unlink(missing_ok=True)
        return stopped

    def release(self) -> None:
        for path in (self.pid_path, self.children_path, self.socket_path):
            path.unlink(missing_ok=True)
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None


def is_our_child(pid: int, root: Path) -> bool:
    """True if `pid` is alive and was started by a supervisor of state dir `root` (not a reused pid)."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    return f"{MARKER}={root}".encode() in environ.split(b"\0")


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state, parent pid, ...); None when
    there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _descends_from(pid: int, ancestor: int) -> bool:
    """True if `pid` is `ancestor` or one of its descendants (a `command` device may wrap its
    daemon in a shell): a record left by a dead predecessor, or by another daemon, is not."""
    for _ in range(16):
        if pid == ancestor:
            return True
        fields = _stat_fields(pid)
        if fields is None:
            return False
        pid = int(fields[1])
        if pid <= 1:
            return False
    return False


def terminate_all(pids: list[int], timeout: float) -> None:
    """SIGTERM every pid, then SIGKILL what is left after `timeout`."""
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.05)
    for pid in pids:
        if _alive(pid):
            _signal(pid, signal.SIGKILL)


def _signal(pid: int, sig: int) -> None:
    """Signal the process group `pid` leads (children start their own session), else the pid:
    a daemon started through a shell or launcher must not leave its own children behind."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _kill_group(pgid: int) -> None:
    """SIGKILL what is left of a process group whose leader has exited (the group only: the
    leader's pid may already be reused by an unrelated process)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own zombie
    except ChildProcessError:
        pass
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != "Z"


# -- what to run for each device -------------------------------------------------------------------
class CannotStart(PodiumError, ValueError):
    """A config that is valid but cannot be started on this host as a whole."""


def hub_argv(config: FleetConfig) -> list[str]:
    argv = podium_command("hub", "--bind", config.hub.address)
    if config.hub.keys is not None:
        argv += ["--keys", str(config.hub.keys), "--allow", str(config.hub.allow)]
    return argv


def check_startable(config: FleetConfig) -> FleetKeys | None:
    """Refuse, before starting anything, a config that cannot be started as a whole; the keys
    this host's daemons (and the supervisor, to ask the hub) use."""
    keys_files = config.daemon_keys()
    try:
        keys = FleetKeys.from_files(*(keys_files.get(name) for name in (KEYS_ENV, HUB_KEY_ENV, ALLOW_ENV)))
        if keys is not None and config.devices:
            keys.server_curve()
    except PodiumError as exc:
        raise CannotStart(f"[daemons] keys: {exc}") from None
    if config.hub.start and config.hub.keys is not None:
        try:
            hub_curve = ServerCurve.from_files(config.hub.keys, config.hub.allow)
        except PodiumError as exc:
            raise CannotStart(f"[hub] keys: {exc}") from None
        if keys is None:  # no daemons here: the supervisor asks its hub with the hub's own pair
            keys = FleetKeys(hub_curve.keys, hub_curve.keys.public)
    problems = [problem for device in config.devices if (problem := device.missing_extra())]
    if problems:
        raise CannotStart("; ".join(problems))
    return keys


# -- the supervisor ------------------------------------------------------------------------------
@dataclass
class Child:
    name: str
    kind: str
    argv: list[str]
    log_path: Path
    proc: subprocess.Popen | None = None
    state: str = "stopped"        # starting (until registered and answering) | running | backoff | failed | stopped
    restarts: int = 0
    crashes: collections.deque = field(default_factory=collections.deque)
    started_at: float | None = None
    next_start: float | None = None
    last_exit: int | None = None
    delays: list[float] = field(default_factory=list)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None


class Supervisor:
    """Runs in the foreground until SIGTERM/SIGINT or a `stop` call on its control socket."""

    def __init__(self, config: FleetConfig, state: StateDir) -> None:
        self.keys = check_startable(config)
        self.config = config
        self.policy = config.supervisor
        self.state = state
        self.children = [Child(HUB_NAME, "hub", hub_argv(config), state.log_path(HUB_NAME))] if config.hub.start else []
        self.children += [Child(d.name, d.kind, d.daemon_argv(config.hub.address),
                                state.log_path(d.name)) for d in config.devices]
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.on_event: Callable[[str], None] = lambda message: log.info("%s", message)

    # -- lifecycle -------------------------------------------------------------------------------
    def run(self, on_tick: Callable[[], None] | None = None) -> None:
        self.state.acquire()
        stale = self.state.read_pid()
        if stale is not None and stale != os.getpid():
            stopped = self.state.clean_stale()
            self.on_event(f"previous supervisor (pid {stale}) had died: cleaned its state"
                          + (f", stopped {len(stopped)} leftover daemon(s)" if stopped else ""))
        self.state.pid_path.write_text(str(os.getpid()))
        control = Server(SupervisorControl(self), self.state.control_endpoint, name="supervisor")
        control.start()
        previous = {sig: signal.signal(sig, lambda *_: self._stop.set())
                    for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            for child in self.children:
                self._spawn(child)
            while not self._stop.is_set():
                self._tick()
                if on_tick:
                    on_tick()
                self._stop.wait(0.1)
        finally:
            self._shutdown()
            control.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.state.release()

    def request_stop(self) -> None:
        self._stop.set()

    def _shutdown(self) -> None:
        with self._lock:
            live = [c for c in self.children if c.pid is not None]
            # Devices first, the hub last, so daemons can unregister on the way out.
            order = [c for c in live if c.kind != "hub"] + [c for c in live if c.kind == "hub"]
            for child in order:
                _signal(child.proc.pid, signal.SIGTERM)
            deadline = time.monotonic() + self.policy.stop_timeout
            for child in order:
                try:
                    child.proc.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    self.on_event(f"{child.name} ignored SIGTERM for {self.policy.stop_timeout:g} s: SIGKILL")
                    _signal(child.proc.pid, signal.SIGKILL)
                    child.proc.wait()
                _kill_group(child.proc.pid)  # whatever it started and left behind
                child.state = "stopped"
        self.on_event("all daemons stopped")

    # -- children --------------------------------------------------------------------------------
    def _spawn(self, child: Child) -> None:
        # The config alone says which keys the daemons get: none of the shell's PODIUM_KEYS & co.
        inherited = {k: v for k, v in os.environ.items() if k not in (KEYS_ENV, HUB_KEY_ENV, ALLOW_ENV)}
        env = {**inherited, MARKER: str(self.state.root), PARENT: str(os.getpid()),
               "PYTHONUNBUFFERED": "1", **self.config.daemon_environment()}
        with open(child.log_path, "ab") as log_file:
            log_file.write(f"\n--- podium up: starting {child.name}: {' '.join(child.argv)}\n".encode())
            log_file.flush()
            try:
                child.proc = subprocess.Popen(child.argv, stdout=log_file, stderr=subprocess.STDOUT,
                                              stdin=subprocess.DEVNULL, env=env, start_new_session=True)
            except OSError as exc:  # no such program: a crash at start, like any other
                child.proc = None
                log_file.write(f"--- cannot start: {exc}\n".encode())
                self._crashed(child, exit_code=127)
                return
        child.state, child.started_at, child.next_start = "starting", time.time(), None
        self._record_pids()
        self.on_event(f"started {child.name} (pid {child.proc.pid})")

    def _record_pids(self) -> None:
        self.state.write_json(self.state.children_path,
                              {c.name: c.pid for c in self.children if c.pid is not None})

    def _tick(self) -> None:
        with self._lock:
            now = time.time()
            for child in self.children:
                if child.state in ("starting", "running") and child.proc is not None \
                        and child.proc.poll() is not None:
                    self._crashed(child, child.proc.returncode)
                elif child.state == "backoff" and now >= child.next_start:
                    child.restarts += 1
                    self._spawn(child)

    def _crashed(self, child: Child, exit_code: int) -> None:
        now = time.time()
        child.last_exit = exit_code
        child.crashes.append(now)
        while child.crashes and now - child.crashes[0] > self.policy.restart_window:
            child.crashes.popleft()
        if len(child.crashes) >= self.policy.max_restarts:
            child.state = "failed"
            self.on_event(f"{child.name} exited with {exit_code}: {len(child.crashes)} crashes within "
                          f"{self.policy.restart_window:g} s, marked failed (see `podium logs {child.name}`)")
            return
        delay = min(self.policy.backoff_initial * 2 ** (len(child.crashes) - 1), self.policy.backoff_max)
        child.delays.append(delay)
        child.state, child.next_start = "backoff", now + delay
        self.on_event(f"{child.name} exited with {exit_code}; restarting in {delay:.2f} s")

    def restart(self, name: str) -> str:
        """Stop (if running) and start `name` now; a failed child gets a clean slate."""
        with self._lock:
            child = self._child(name)
            if child.pid is not None:
                _signal(child.proc.pid, signal.SIGTERM)
                try:
                    child.proc.wait(self.policy.stop_timeout)
                except subprocess.TimeoutExpired:
                    _signal(child.proc.pid, signal.SIGKILL)
                    child.proc.wait()
            child.crashes.clear()
            child.restarts += 1
            self._spawn(child)
            return f"restarted {name} (pid {child.pid})"

    def _child(self, name: str) -> Child:
        for child in self.children:
            if child.name == name:
                return child
        raise KeyError(f"no daemon named {name!r}; known: {', '.join(c.name for c in self.children)}")

    def status(self) -> list[dict[str, Any]]:
        """One row per daemon, with what the hub knows of it. A daemon is `starting` from its
        start until it is registered with the hub and answers a ping, `running` after."""
        records = self._hub_records()
        # checked outside the lock (a ping may wait), promoted only if the same process still runs
        ready = {c.name: c.pid for c in list(self.children) if c.state == "starting" and self._ready(c, records)}
        now = time.time()
        with self._lock:
            rows = []
            for c in self.children:
                if c.state == "starting" and c.pid is not None and ready.get(c.name) == c.pid:
                    c.state = "running"
                record = (records or {}).get(c.name, {})
                rows.append({"name": c.name, "kind": c.kind, "pid": c.pid, "state": c.state,
                             "uptime": now - c.started_at if c.pid is not None and c.started_at else None,
                             "restarts": c.restarts, "last_exit": c.last_exit, "delays": list(c.delays),
                             "heartbeat_age": record.get("age"),
                             "endpoint": record.get("endpoint") or (self.config.hub.address
                                                                     if c.kind == "hub" else None),
                             "log": str(c.log_path)})
            return rows

    def _hub_records(self) -> dict[str, dict] | None:
        """The hub's records by name; None when the hub does not answer."""
        try:
            with HubClient(self.config.hub.address, timeout=0.5, keys=self.keys) as hub:
                return {r["name"]: r for r in hub.list()}
        except Exception:  # the hub may be down or restarting: status still answers
            return None

    def _ready(self, child: Child, records: dict[str, dict] | None) -> bool:
        """The hub answers (for the hub); the daemon is registered by this very process (not a
        record its dead predecessor left) and answers a ping (for a device)."""
        if records is None or child.pid is None:
            return False
        if child.kind == "hub":
            return True
        record = records.get(child.name)
        if record is None or not _descends_from(record.get("pid") or 0, child.pid):
            return False
        try:
            with Client(record["endpoint"], service=child.name, timeout=0.5,
                        curve=curve_for_service(self.keys, record, child.name)) as client:
                return client.ping(timeout=0.5)
        except PodiumError:
            return False


class SupervisorControl:
    """What `podium status/restart/down` may ask of a running supervisor (its control socket)."""

    def __init__(self, supervisor: Supervisor) -> None:
        self._supervisor = supervisor

    def status(self) -> list[dict[str, Any]]:
        return self._supervisor.status()

    def restart(self, name: str) -> str:
        return self._supervisor.restart(name)

    def stop(self) -> str:
        self._supervisor.request_stop()
        return "stopping"

    def info(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "state_dir": str(self._supervisor.state.root),
                "hub": self._supervisor.config.hub.address}


def control_client(state: StateDir, timeout: float = 3.0) -> Client:
    """A client of the supervisor of `state`; NotRunning if none is."""
    if not state.is_locked():
        raise NotRunning(f"no podium supervisor is running for {state.root}")
    return Client(state.control_endpoint, service="supervisor", timeout=timeout)
