"""A daemon: one device's object served over RPC, registered with the hub and heartbeating.

The heartbeat runs on its own thread and socket, so a long method call never makes the hub think
the daemon died. The daemon does not need the hub to be up: it serves regardless and appears in
the registry as soon as a hub answers (heartbeats carry the full record).
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from typing import Any

import zmq

from control.bus import wire
from control.bus.hub import DEFAULT_HUB, FROM_ENV, HEARTBEAT_INTERVAL
from control.bus.rpc import Client, Server
from control.bus.security import BIND_ENV, DEFAULT_BIND, ClientCurve, FleetKeys, ServerCurve
from control.errors import AuthenticationFailed

log = logging.getLogger(__name__)
STOP_GRACE = 10.0  # seconds a graceful stop may take before the daemon exits regardless


class Heartbeat:
    """Registers `record` with the hub, then re-sends it as a one-way heartbeat every interval."""

    def __init__(self, hub: str, record: dict[str, Any], *, interval: float = HEARTBEAT_INTERVAL,
                 curve: ClientCurve | None = None, context: zmq.Context | None = None) -> None:
        self.hub = hub
        self.record = record
        self.interval = interval
        self.curve = curve
        self.context = context or zmq.Context.instance()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"podium-heartbeat-{record['name']}",
                                        daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self, unregister: bool = True) -> None:
        self._stop.set()
        self._thread.join(2 * self.interval + 1)
        if unregister:
            with Client(self.hub, service="hub", timeout=1.0, curve=self.curve,
                        context=self.context) as hub:
                try:
                    hub.call("unregister", self.record["name"], self.record["instance"])
                except Exception as exc:  # the hub may be gone; expiry will clean up
                    log.debug("unregister failed: %s", exc)

    def _run(self) -> None:
        with Client(self.hub, service="hub", timeout=1.0, curve=self.curve, context=self.context) as hub:
            try:
                hub.call("register", **self.record)
            except AuthenticationFailed as exc:  # heartbeats would be refused alike: say so loudly
                log.error("cannot register with the hub: %s", exc)
            except Exception as exc:  # heartbeats below register us as soon as a hub is up
                log.info("hub %s not answering yet (%s); heartbeats will register us", self.hub, exc)
        sock = self.context.socket(zmq.DEALER)
        sock.linger = 0
        sock.sndhwm = 1
        sock.setsockopt(zmq.IMMEDIATE, 1)  # never queue heartbeats for a hub that is not there
        if self.curve:
            self.curve.apply(sock)
        sock.connect(self.hub)
        frames = wire.encode(wire.Message(wire.HEARTBEAT, body=self.record))
        try:
            while not self._stop.wait(self.interval):
                try:
                    sock.send_multipart(frames, flags=zmq.NOBLOCK)
                except zmq.Again:
                    pass
        finally:
            sock.close(linger=0)


class _StopWatchdog:
    """Ends the process `grace` seconds after the first SIGTERM/SIGINT, or at the second.

    Python runs a signal handler only once the main thread is back in the interpreter, which a
    method stuck in C code (a simulation step, a render, a system call retried on EINTR) may never
    be; but the C-level handler writes each signal's number to the wakeup fd at once, and this
    thread reads it there. (Must be made in the main thread, as signal.set_wakeup_fd requires.)"""

    def __init__(self, name: str, grace: float) -> None:
        self.name, self.grace = name, grace
        self._reader, writer = socket.socketpair()
        writer.setblocking(False)
        self._writer = writer
        self._previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        self._timer: threading.Timer | None = None
        threading.Thread(target=self._watch, name="podium-stop-watchdog", daemon=True).start()

    def _watch(self) -> None:
        seen = 0
        while True:
            try:
                data = self._reader.recv(64)
            except OSError:
                return
            if not data:
                return
            for signum in data:
                if signum not in (signal.SIGTERM, signal.SIGINT):
                    continue
                seen += 1
                if seen == 2:
                    self._exit(signum, "signal again: exiting now")
                self._timer = threading.Timer(self.grace, self._exit, (signum, f"still not stopped {self.grace:g} s "
                                              "after the signal: exiting without a graceful stop"))
                self._timer.daemon = True  # a graceful stop that ends in time does not wait for it
                self._timer.start()

    def _exit(self, signum: int, why: str) -> None:
        # os.write, not logging: the stuck thread may hold a log handler's lock
        os.write(2, f"{self.name}: {why}\n".encode())
        os._exit(128 + signum)

    def close(self) -> None:
        """The stop ended in time: disarm, and give the wakeup fd back."""
        if self._timer is not None:
            self._timer.cancel()
        signal.set_wakeup_fd(self._previous)
        self._writer.close()
        self._reader.close()


class Daemon:
    """Serve `target` under `name`, registered with the hub at `hub`.

    `run()` serves in the foreground until SIGTERM or SIGINT; `start()`/`stop()` in a thread.
    With `keys` (a FleetKeys; by default from PODIUM_KEYS, PODIUM_HUB_KEY and PODIUM_ALLOW when
    set) it serves with CurveZMQ to the allow-list, registers with the hub's public key, and
    publishes its own public key in its record so clients can find it. `endpoint` defaults to
    PODIUM_BIND, else tcp://127.0.0.1:*.
    """

    def __init__(self, target: object, name: str, kind: str, *, hub: str = DEFAULT_HUB,
                 endpoint: str | None = None, capabilities: dict[str, Any] | None = None,
                 keys: FleetKeys | None = FROM_ENV, curve: ServerCurve | None = None,
                 hub_curve: ClientCurve | None = None,
                 heartbeat_interval: float = HEARTBEAT_INTERVAL, stop_grace: float = STOP_GRACE,
                 **server_options: Any) -> None:
        # By default what `podium up` hands every daemon, a `command` device's own script included:
        # PODIUM_BIND, and PODIUM_KEYS / PODIUM_HUB_KEY / PODIUM_ALLOW when set.
        endpoint = endpoint or os.environ.get(BIND_ENV) or DEFAULT_BIND
        if keys is FROM_ENV:  # a client-only environment (keys, no allow-list) serves nothing: plain
            keys = FleetKeys.from_env() if curve is None and hub_curve is None else None
            keys = keys if keys is not None and keys.allow is not None else None
        if keys is not None:
            curve, hub_curve = curve or keys.server_curve(), hub_curve or keys.hub_curve()
        self.server = Server(target, endpoint, name=name, curve=curve, **server_options)
        self.name = name
        self.stop_grace = stop_grace
        self.record = {"name": name, "kind": kind, "endpoint": self.server.endpoint,
                       "capabilities": capabilities or {}, "pid": os.getpid(),
                       "host": socket.gethostname(), "instance": uuid.uuid4().hex}
        if curve is not None:
            self.record["curve_key"] = curve.keys.public.decode("ascii")
        self.heartbeat = Heartbeat(hub, self.record, interval=heartbeat_interval, curve=hub_curve)

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    def start(self) -> Daemon:
        self.heartbeat.start()
        self.server.start()
        return self

    def stop(self) -> None:
        self.heartbeat.stop()
        self.server.stop()

    def run(self) -> None:
        """Serve in the foreground; SIGTERM/SIGINT stop it gracefully (unregistering first).

        A graceful stop that has not ended within `stop_grace` seconds (a method still running, a
        library call that hangs) ends the process anyway, as does a second signal: under `podium
        up` the signal may come from PR_SET_PDEATHSIG, with no supervisor left to escalate."""
        def on_signal(signum: int, _frame: Any) -> None:
            log.info("%s: signal %d, stopping", self.name, signum)
            self.server.stop()

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, on_signal)
        watchdog = _StopWatchdog(self.name, self.stop_grace)
        self.heartbeat.start()
        log.info("%s serving at %s", self.name, self.endpoint)
        try:
            self.server.serve_forever()
        finally:
            self.heartbeat.stop()
            watchdog.close()

    def __enter__(self) -> Daemon:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
