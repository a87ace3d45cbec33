"""Shared by the EchoTrail tests: a trajectory factory (plain dicts, as a peer would send them) and a
store in tmp_path with the real offline embedder."""
from __future__ import annotations

from typing import Any

import pytest


def trajectory(intent: str, app: str = "Settings", *, steps: list[dict[str, Any]] | None = None,
               outcome: str = "complete", scores: tuple[float, float, float] = (1.0, 0.9, 0.8),
               provenance: str = "task", **fields: Any) -> dict[str, Any]:
    """A valid trajectory as wire data; `steps` default to one tap and a status step."""
    steps = steps if steps is not None else [
        {"screen": f"{app.lower()}/Main", "action": "click", "target": f"Button '{intent[:40]}'",
         "effect": "the screen changed"},
        {"screen": f"{app.lower()}/Main", "action": "status", "text": "complete"}]
    completion, coherence, efficiency = scores
    return {"intent": intent, "app": app, "steps": steps, "outcome": outcome,
            "scores": {"completion": completion, "coherence": coherence, "efficiency": efficiency},
            "provenance": provenance, **fields}


@pytest.fixture
def make():
    return trajectory


@pytest.fixture
def store(tmp_path):
    """An empty store in tmp_path (real MiniLM embedder, loaded once per test process)."""
    from agents.echotrail.store import MemoryStore

    with MemoryStore(tmp_path / "memory.db") as opened:
        yield opened


@pytest.fixture
def lexical():
    """The hashed-words embedder: fast, for tests about storage rather than meaning."""
    from agents.embed import Embedder

    return Embedder("lexical")
