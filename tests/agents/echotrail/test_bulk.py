"""MemoryStore.add_many: one transaction for a batch, the same ids and dedupe as `add`."""
from __future__ import annotations

import numpy as np
import pytest

from agents.echotrail.store import MemoryStore
from agents.embed import Embedder
from agents.gui.goal import goal_key


def trajectory(intent: str, source: str = "") -> dict:
    return {"intent": intent, "app": "Settings", "outcome": "complete", "provenance": "task", "source": source,
            "steps": [{"screen": "launcher/Home", "action": "open_app", "text": "Settings"},
                      {"screen": "settings/NetworkDashboard", "action": "click", "target": "Bluetooth",
                       "effect": "Bluetooth switched off"}],
            "scores": {"completion": 1.0, "coherence": 0.9, "efficiency": 0.8}}


@pytest.fixture
def store(tmp_path):
    with MemoryStore(tmp_path / "memory.db", embedder=Embedder("lexical")) as s:
        yield s


def test_add_many_ids_and_dedupe_as_add(store, tmp_path):
    first = store.add(trajectory("Turn Bluetooth off"))
    batch = [trajectory("Turn Wi-Fi on"), trajectory("Turn Bluetooth off"), trajectory("Turn Wi-Fi on"),
             trajectory("Turn dark theme on", "s1")]
    ids = store.add_many(batch)
    assert ids[1] == first                           # stored before: its old id
    assert ids[0] == ids[2] and len({ids[0], ids[3], first}) == 3    # a repeat in the batch: one row
    assert len(store) == 3 and store.add_many(batch) == ids and store.add_many([]) == []
    with MemoryStore(tmp_path / "one-by-one.db", embedder=Embedder("lexical")) as other:
        assert [other.add(t) for t in [trajectory("Turn Bluetooth off"), *batch]] == [first, *ids]
    assert store.get(ids[3]).source == "s1"
    assert [h.id for h in store.search("Switch dark theme on", k=1)] == [ids[3]]
    assert [h.id for h in store.search("dark theme", k=1, mode="lexical")] == [ids[3]]


def test_add_many_with_vectors(store):
    batch = [trajectory("Turn Wi-Fi on"), trajectory("Turn dark theme on")]
    vectors = store.embedder.encode([goal_key(t["intent"]) for t in batch])
    ids = store.add_many(batch, vectors=vectors)
    assert [h.id for h in store.search("Turn dark theme on", k=1, mode="semantic")] == [ids[1]]
    hit = store.search("Turn Wi-Fi on", k=1, mode="semantic")[0]
    assert hit.id == ids[0] and hit.semantic == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("shape", [(1, 512), (2, 384), (2,), (2, 512, 1)])
def test_add_many_checks_the_vectors_shape(store, shape):
    with pytest.raises(ValueError, match=r"vectors must have shape \(2, 512\).*got"):
        store.add_many([trajectory("Turn Wi-Fi on"), trajectory("Turn dark theme on")], vectors=np.zeros(shape))
    assert len(store) == 0


def test_add_many_is_one_transaction(store):
    bad = {**trajectory("Turn Wi-Fi on"), "outcome": "maybe"}
    with pytest.raises(ValueError, match="outcome"):
        store.add_many([trajectory("Turn Bluetooth off"), bad])
    assert len(store) == 0
