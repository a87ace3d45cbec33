"""The memory service: one trajectory store on the bus, shared by every agent on every device.

    podium memory --db memory.db --name memory:0          # the daemon (kind `memory` under podium up)
    memory = RemoteMemory("memory:0")                     # a store, as far as EchoTrail can tell
    EchoTrail(memory).recall("Turn Bluetooth off")

Everything a peer sends is validated (`Trajectory.parse`: every field bounded, nothing unknown);
a bad request is answered with an error naming what was wrong and changes nothing. `add` is
idempotent (a stored trajectory is found again by its content's hash), so a client may retry it after a timeout or
a service restart without storing anything twice.
"""
from __future__ import annotations

import math
import time
from typing import Any

from agents.echotrail.store import Hit, MemoryStore
from agents.echotrail.trajectory import Trajectory, TrajectoryError
from control.bus.rpc import idempotent
from control.errors import CallTimeout, ServiceNotFound

MAX_K = 100
MAX_QUERY = 2000
MAX_LIST = 1000
MODES = ("hybrid", "semantic", "lexical")


class MemoryService:
    """The daemon object: a MemoryStore behind plain-data methods. Every argument is checked here,
    so a peer's mistake is a TrajectoryError (a ValueError) naming the argument, never a crash in
    SQLite or numpy."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    @idempotent
    def add(self, trajectory: dict[str, Any]) -> int:
        return self.store.add(Trajectory.parse(trajectory))

    @idempotent
    def search(self, query: str, app: str | None = None, k: int = 3, mode: str = "hybrid", floor: float = 0.55,
               lexical_floor: float = 0.5) -> list[dict[str, Any]]:
        if not isinstance(query, str) or not query.strip() or len(query) > MAX_QUERY:
            raise TrajectoryError(f"query must be text of 1 to {MAX_QUERY} characters, got {_show(query)}")
        k = _integer(k, "k", 1, MAX_K)
        if mode not in MODES:
            raise TrajectoryError(f"mode must be hybrid, semantic or lexical, got {_show(mode)}")
        hits = self.store.search(query, app=_text(app, "app"), k=k, mode=mode, floor=_number(floor, "floor"),
                                 lexical_floor=_number(lexical_floor, "lexical_floor"))
        return [{"id": h.id, "trajectory": h.trajectory.model_dump(), "score": h.score, "semantic": h.semantic,
                 "lexical": h.lexical} for h in hits]

    @idempotent
    def get(self, id: int) -> dict[str, Any]:
        return self.store.get(_integer(id, "id", 0, 2**63 - 1)).model_dump()

    @idempotent
    def list(self, app: str | None = None, provenance: str | None = None, limit: int = 50,
             offset: int = 0) -> list[dict[str, Any]]:
        return [{"id": i, "trajectory": t.model_dump()} for i, t in
                self.store.list(app=_text(app, "app"), provenance=_text(provenance, "provenance"),
                                limit=_integer(limit, "limit", 1, MAX_LIST),
                                offset=_integer(offset, "offset", 0, 2**62))]

    @idempotent
    def stats(self) -> dict[str, Any]:
        return self.store.stats()

    def prune(self, below: float | None = None, older_than_days: float | None = None,
              keep_per_intent: int | None = None) -> int:
        return self.store.prune(
            below=None if below is None else _number(below, "below"),
            older_than_days=None if older_than_days is None else _number(older_than_days, "older_than_days"),
            keep_per_intent=None if keep_per_intent is None else _integer(keep_per_intent, "keep_per_intent",
                                                                          0, 2**62))


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{type(value).__name__} of {len(value) if hasattr(value, '__len__') else '?'}"


def _integer(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise TrajectoryError(f"{name} must be an integer from {low} to {high}, got {_show(value)}")
    return value


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TrajectoryError(f"{name} must be a finite number, got {_show(value)}")
    return float(value)


def _text(value: Any, name: str, limit: int = 200) -> str | None:
    if value is not None and (not isinstance(value, str) or len(value) > limit):
        raise TrajectoryError(f"{name} must be text of at most {limit} characters or null, got {_show(value)}")
    return value


class RemoteMemory:
    """A MemoryStore's reading and writing methods, through the memory service on the bus.

    It follows the service when it restarts: a call that times out (the service died) or finds no
    live service of the name is tried again, the name looked up again through the hub each time,
    for up to `patience` seconds. Only calls that are safe twice are retried: `add` is (an identical
    trajectory is found by its content's hash and answers its first id), `prune` is not. `timeout` is per attempt."""

    def __init__(self, service: str = "memory:0", *, hub: str | None = None, timeout: float = 30.0,
                 patience: float = 60.0, keys: Any = None) -> None:
        from control.bus.hub import DEFAULT_HUB, FROM_ENV, open_service

        self.client = open_service(service, hub=hub or DEFAULT_HUB, timeout=timeout,
                                   keys=FROM_ENV if keys is None else keys)
        self.name, self.patience = service, patience

    def _call(self, method: str, *args: Any, retry: bool = True) -> Any:
        deadline = time.monotonic() + self.patience
        while True:
            try:
                return self.client.request(method, args, idempotent=retry)
            except (CallTimeout, ServiceNotFound):
                if not retry or time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)

    def add(self, trajectory: Trajectory | dict[str, Any]) -> int:
        return int(self._call("add", Trajectory.parse(trajectory).model_dump()))

    def search(self, query: str, *, app: str | None = None, k: int = 3, mode: str = "hybrid", floor: float = 0.55,
               lexical_floor: float = 0.5) -> list[Hit]:
        hits = self._call("search", query, app, k, mode, floor, lexical_floor)
        return [Hit(h["id"], Trajectory.parse(h["trajectory"]), h["score"], h["semantic"], h["lexical"])
                for h in hits]

    def get(self, id_: int) -> Trajectory:
        return Trajectory.parse(self._call("get", id_))

    def list(self, *, app: str | None = None, provenance: str | None = None, limit: int = 50,
             offset: int = 0) -> list[tuple[int, Trajectory]]:
        return [(r["id"], Trajectory.parse(r["trajectory"]))
                for r in self._call("list", app, provenance, limit, offset)]

    def stats(self) -> dict[str, Any]:
        return self._call("stats")

    def prune(self, **how: Any) -> int:
        return int(self._call("prune", how.get("below"), how.get("older_than_days"), how.get("keep_per_intent"),
                              retry=False))

    def __len__(self) -> int:
        return int(self.stats()["trajectories"])

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> RemoteMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
