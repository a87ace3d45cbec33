"""The hub: a registry of live services (who is alive, and where).

Daemons call `register` once and then send one-way HEARTBEAT messages every second, each carrying
the daemon's full record. Because a heartbeat is a complete registration, a restarted hub fills up
again within one heartbeat interval without any daemon noticing the restart. A service whose last
heartbeat is older than `missed_allowed` intervals is dead and disappears from `list` and `lookup`.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import zmq

from control.bus import wire
from control.bus.rpc import Client, Server, idempotent
from control.bus.security import (
    Z85_KEY_LENGTH,
    ClientCurve,
    FleetKeys,
    ServerCurve,
    curve_for_service,
    is_local_endpoint,
    is_z85_key,
)
from control.errors import RegistryFull, SecurityConfigError, ServiceNotFound, WireError

log = logging.getLogger(__name__)

DEFAULT_HUB = os.environ.get("PODIUM_HUB", "tcp://127.0.0.1:5770")
HEARTBEAT_INTERVAL = 1.0
MISSED_ALLOWED = 3
MAX_SERVICES = 4096  # live services one hub tracks: heartbeats with ever new names must not grow it
RECORD_FIELDS = ("name", "kind", "endpoint", "capabilities", "pid", "host", "instance", "curve_key")


@dataclass
class ServiceRecord:
    """What the hub knows of one service."""

    name: str
    kind: str
    endpoint: str
    capabilities: dict[str, Any] = field(default_factory=dict)
    pid: int | None = None
    host: str | None = None
    instance: str | None = None  # unique per daemon process: tells a restart from a heartbeat
    curve_key: str | None = None  # the service's CurveZMQ public key (Z85) when it is secured
    registered_at: float = 0.0
    last_seen: float = 0.0

    @classmethod
    def from_wire(cls, data: Any) -> ServiceRecord:
        if not isinstance(data, dict):
            raise WireError(f"a service record must be a map, got {type(data).__name__}")
        unknown = set(data) - set(RECORD_FIELDS)
        if unknown:
            raise ValueError(f"unknown service record fields: {sorted(unknown)}")
        for key in ("name", "kind", "endpoint"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise ValueError(f"service record needs a non-empty string {key!r}")
        if not isinstance(data.get("capabilities") or {}, dict):
            raise ValueError("service record 'capabilities' must be a map")
        if data.get("pid") is not None and type(data["pid"]) is not int:
            raise ValueError("service record 'pid' must be an int or nil")
        for key in ("host", "instance"):
            if data.get(key) is not None and type(data[key]) is not str:
                raise ValueError(f"service record {key!r} must be a string or nil")
        key = data.get("curve_key")
        if key is not None and not is_z85_key(key):
            raise ValueError(f"service record 'curve_key' must be a {Z85_KEY_LENGTH}-character Z85 "
                             "public key or nil")
        return cls(**{k: data[k] for k in RECORD_FIELDS if data.get(k) is not None})

    def to_wire(self, now: float) -> dict[str, Any]:
        out = asdict(self)
        out["age"] = now - self.last_seen
        return out


class Registry:
    """The hub's state and its RPC methods. Runs in the hub's serving thread: no locks needed."""

    def __init__(self, heartbeat_interval: float = HEARTBEAT_INTERVAL,
                 missed_allowed: int = MISSED_ALLOWED, max_services: int = MAX_SERVICES) -> None:
        self.heartbeat_interval = heartbeat_interval
        self.missed_allowed = missed_allowed
        self.max_services = max_services
        self._records: dict[str, ServiceRecord] = {}

    def register(self, name: str, kind: str, endpoint: str, capabilities: dict | None = None,
                 pid: int | None = None, host: str | None = None, instance: str | None = None,
                 curve_key: str | None = None) -> dict:
        """Add or refresh a service; returns the heartbeat interval the daemon must keep."""
        record = ServiceRecord.from_wire({"name": name, "kind": kind, "endpoint": endpoint,
                                          "capabilities": capabilities or {}, "pid": pid,
                                          "host": host, "instance": instance, "curve_key": curve_key})
        self._upsert(record)
        return {"heartbeat_interval": self.heartbeat_interval, "missed_allowed": self.missed_allowed}

    def unregister(self, name: str, instance: str | None = None) -> bool:
        """Remove a service (only if `instance` matches, when given). True if it was there."""
        record = self._records.get(name)
        if record is None or (instance is not None and record.instance != instance):
            return False
        del self._records[name]
        log.info("unregistered %s", name)
        return True

    @idempotent
    def lookup(self, name: str) -> dict:
        """The record of the live service `name`; ServiceNotFound if there is none."""
        self._expire()
        record = self._records.get(name)
        if record is None:
            known = ", ".join(sorted(self._records)) or "none"
            raise ServiceNotFound(f"no live service named {name!r} (live: {known})")
        return record.to_wire(time.time())

    @idempotent
    def list(self, kind: str | None = None) -> list[dict]:
        """Records of all live services, optionally of one kind, sorted by name."""
        self._expire()
        now = time.time()
        return [r.to_wire(now) for _, r in sorted(self._records.items())
                if kind is None or r.kind == kind]

    def heartbeat(self, message: wire.Message) -> None:
        """One-way HEARTBEAT handler: the body is a full service record."""
        self._upsert(ServiceRecord.from_wire(message.body))

    def _upsert(self, record: ServiceRecord) -> None:
        now = time.time()
        old = self._records.get(record.name)
        if old is None and len(self._records) >= self.max_services:
            self._expire()
            if len(self._records) >= self.max_services:
                raise RegistryFull(f"the hub tracks {self.max_services} live services already; "
                                   f"{record.name!r} cannot register")
        if old is not None and old.instance == record.instance:
            record.registered_at = old.registered_at
        else:
            record.registered_at = now
            if old is not None and not self._is_dead(old, now):
                log.warning("service %s replaced: %s -> %s", record.name, old.endpoint, record.endpoint)
            else:
                log.info("registered %s (%s) at %s", record.name, record.kind, record.endpoint)
        record.last_seen = now
        self._records[record.name] = record

    def _is_dead(self, record: ServiceRecord, now: float) -> bool:
        return now - record.last_seen > self.heartbeat_interval * self.missed_allowed

    def _expire(self) -> None:
        now = time.time()
        for name in [n for n, r in self._records.items() if self._is_dead(r, now)]:
            log.info("%s missed %d heartbeats: declared dead", name, self.missed_allowed)
            del self._records[name]


class Hub:
    """The registry served over RPC; heartbeats arrive as one-way messages on the same socket."""

    def __init__(self, endpoint: str = DEFAULT_HUB, *, curve: ServerCurve | None = None,
                 heartbeat_interval: float = HEARTBEAT_INTERVAL, missed_allowed: int = MISSED_ALLOWED,
                 context: zmq.Context | None = None) -> None:
        self.registry = Registry(heartbeat_interval, missed_allowed)
        self.server = Server(self.registry, endpoint, name="hub", curve=curve, context=context,
                             handlers={wire.HEARTBEAT: self.registry.heartbeat})
        self.endpoint = self.server.endpoint

    def start(self) -> Hub:
        self.server.start()
        return self

    def serve_forever(self) -> None:
        self.server.serve_forever()

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Hub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


FROM_ENV: Any = "from the environment"  # default keys: PODIUM_KEYS / PODIUM_HUB_KEY, when set


def _keys(keys: FleetKeys | None) -> FleetKeys | None:
    return FleetKeys.from_env() if keys is FROM_ENV else keys


class HubClient(Client):
    """A client of the hub, with typed helpers.

    Secured by `curve`, else by `keys` (a FleetKeys; by default read from PODIUM_KEYS and
    PODIUM_HUB_KEY when they are set), else plain."""

    def __init__(self, endpoint: str = DEFAULT_HUB, *, timeout: float = 3.0,
                 curve: ClientCurve | None = None, keys: FleetKeys | None = FROM_ENV,
                 context: zmq.Context | None = None) -> None:
        if curve is None:
            keys = _keys(keys)
            curve = keys.hub_curve() if keys is not None else None
        super().__init__(endpoint, service="hub", timeout=timeout, curve=curve, context=context)
        self._idempotent = {"lookup", "list"}

    def lookup(self, name: str) -> dict:
        return self.call("lookup", name)

    def list(self, kind: str | None = None) -> list[dict]:
        return self.call("list", kind)


def connect(name: str, hub: str = DEFAULT_HUB, *, timeout: float = 10.0,
            keys: FleetKeys | None = FROM_ENV, hub_curve: ClientCurve | None = None,
            curve: ClientCurve | None = None, context: zmq.Context | None = None) -> Client:
    """A Client for the service `name`, found through the hub (and found again after a timeout).

    With `keys`, the hub is called with the hub's public key and the service with its own, taken
    from its hub record; `hub_curve` and `curve` set either explicitly instead."""
    keys = _keys(keys)
    found = [_lookup(name, hub, keys, hub_curve, context)]  # fail now, clearly, if the name is unknown

    def resolve() -> str:
        """The record found now for the first socket; a fresh lookup for every later one (after a
        timeout), taking the service's key again with its address."""
        record = found.pop() if found else _lookup(name, hub, keys, hub_curve, context)
        client.curve = curve or curve_for_service(keys, record, name)
        return record["endpoint"]

    client = Client(service=name, timeout=timeout, context=context, resolve=resolve)
    return client


def _lookup(name: str, hub: str, keys: FleetKeys | None, hub_curve: ClientCurve | None,
            context: zmq.Context | None) -> dict:
    with HubClient(hub, curve=hub_curve, keys=keys, context=context) as hub_client:
        return hub_client.lookup(name)


def open_service(service: str | Client, *, hub: str = DEFAULT_HUB, timeout: float = 10.0,
                 reconnect: bool = True, keys: FleetKeys | None = FROM_ENV) -> Client:
    """A Client for a daemon given by name (found through the hub), endpoint or ready Client.

    With `reconnect`, a name is looked up again after a timeout, so the client follows a daemon
    that restarted elsewhere; without, the endpoint found now is kept. A secured service is
    called with `keys` (default: from PODIUM_KEYS and PODIUM_HUB_KEY) and its own public key
    from the hub; an endpoint given directly is called plain."""
    if isinstance(service, Client):
        return service
    if "://" in service:
        if not is_local_endpoint(service):  # beyond loopback every podium server is CurveZMQ
            raise SecurityConfigError(
                f"{service}: an address beyond loopback given directly has no public key to check "
                "the server against: pass the service's name (its key comes from the hub), or a "
                "Client made with curve=ClientCurve(...)")
        return Client(service, service=service, timeout=timeout)
    if reconnect:
        return connect(service, hub, timeout=timeout, keys=keys)
    keys = _keys(keys)
    record = _lookup(service, hub, keys, None, None)
    return Client(record["endpoint"], service=service, timeout=timeout,
                  curve=curve_for_service(keys, record, service))


def wait_for_service(hub: HubClient, name: str, timeout: float = 10.0) -> dict:
    """Poll the hub until `name` is live; ServiceNotFound after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return hub.lookup(name)
        except ServiceNotFound:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


__all__ = ["DEFAULT_HUB", "Hub", "HubClient", "Registry", "ServiceRecord", "connect", "open_service",
           "wait_for_service"]
