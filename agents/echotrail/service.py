"""The memory service: one trajectory store on the bus, shared by every agent on every device.

    podium memory --db memory.db --name memory:0          # the daemon (kind `memory` under podium up)
    memory = RemoteMemory("memory:0")                     # a store, as far as EchoTrail can tell
    EchoTrail(memory).recall("Turn Bluetooth off")

Everything a peer sends is validated (`Trajectory.parse`: every field bounded, nothing unknown);
a bad request is answered with an error naming what was wrong and changes nothing. `add` is
idempotent (a trajectory's id is its content's hash), so a client may retry it after a timeout or
a service restart without storing anything twice.
"""
from __future__ import annotations

from typing import Any

from agents.echotrail.store import Hit, MemoryStore
from agents.echotrail.trajectory import Trajectory, TrajectoryError
from control.bus.rpc import idempotent

MAX_K = 100
MAX_QUERY = 2000


class MemoryService:
    """The daemon object: a MemoryStore behind plain-data methods."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    @idempotent
    def add(self, trajectory: dict[str, Any]) -> int:
        return self.store.add(Trajectory.parse(trajectory))

    @idempotent
    def search(self, query: str, app: str | None = None, k: int = 3, mode: str = "hybrid", floor: float = 0.55,
               lexical_floor: float = 0.5) -> list[dict[str, Any]]:
        if not isinstance(query, str) or not query.strip() or len(query) > MAX_QUERY:
            raise TrajectoryError(f"query must be text of 1 to {MAX_QUERY} characters")
        if not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise TrajectoryError(f"k must be an integer from 1 to {MAX_K}, got {k!r}")
        if mode not in ("hybrid", "semantic", "lexical"):
            raise TrajectoryError(f"mode must be hybrid, semantic or lexical, got {mode!r}")
        hits = self.store.search(query, app=app, k=k, mode=mode, floor=float(floor), lexical_floor=float(lexical_floor))
        return [{"id": h.id, "trajectory": h.trajectory.model_dump(), "score": h.score, "semantic": h.semantic,
                 "lexical": h.lexical} for h in hits]

    @idempotent
    def get(self, id: int) -> dict[str, Any]:  # noqa: A002 (the wire name)
        return self.store.get(int(id)).model_dump()

    @idempotent
    def list(self, app: str | None = None, provenance: str | None = None, limit: int = 50,
             offset: int = 0) -> list[dict[str, Any]]:
        limit = max(1, min(int(limit), 1000))
        return [{"id": i, "trajectory": t.model_dump()} for i, t in
                self.store.list(app=app, provenance=provenance, limit=limit, offset=max(0, int(offset)))]

    @idempotent
    def stats(self) -> dict[str, Any]:
        return self.store.stats()

    def prune(self, below: float | None = None, older_than_days: float | None = None,
              keep_per_intent: int | None = None) -> int:
        return self.store.prune(below=below, older_than_days=older_than_days, keep_per_intent=keep_per_intent)


class RemoteMemory:
    """A MemoryStore's reading and writing methods, through the memory service on the bus. It
    follows the service when it restarts (looked up again through the hub)."""

    def __init__(self, service: str = "memory:0", *, hub: str | None = None, timeout: float = 30.0) -> None:
        from control.bus.hub import DEFAULT_HUB, open_service

        self.client = open_service(service, hub=hub or DEFAULT_HUB, timeout=timeout)
        self.name = service

    def add(self, trajectory: Trajectory | dict[str, Any]) -> int:
        return int(self.client.call("add", Trajectory.parse(trajectory).model_dump()))

    def search(self, query: str, *, app: str | None = None, k: int = 3, mode: str = "hybrid", floor: float = 0.55,
               lexical_floor: float = 0.5) -> list[Hit]:
        hits = self.client.call("search", query, app, k, mode, floor, lexical_floor)
        return [Hit(h["id"], Trajectory.parse(h["trajectory"]), h["score"], h["semantic"], h["lexical"])
                for h in hits]

    def get(self, id_: int) -> Trajectory:
        return Trajectory.parse(self.client.call("get", id_))

    def list(self, *, app: str | None = None, provenance: str | None = None, limit: int = 50,
             offset: int = 0) -> list[tuple[int, Trajectory]]:
        return [(r["id"], Trajectory.parse(r["trajectory"]))
                for r in self.client.call("list", app, provenance, limit, offset)]

    def stats(self) -> dict[str, Any]:
        return self.client.call("stats")

    def prune(self, **how: Any) -> int:
        return int(self.client.call("prune", how.get("below"), how.get("older_than_days"),
                                    how.get("keep_per_intent")))

    def __len__(self) -> int:
        return int(self.stats()["trajectories"])

    def close(self) -> None:
        self.client.close()
