"""A writer process for the store's multi-process tests:

    python -m tests.agents.echotrail.writer DB COUNT TAG [HANG]

adds COUNT trajectories (printing `acked ID INTENT` after each add returns, i.e. after its commit),
then, if HANG > 0, opens a write transaction, inserts HANG large trajectories (enough to spill
uncommitted pages into the WAL), prints `in-transaction` and sleeps until it is killed.
"""
from __future__ import annotations

import json
import sys
import time

from agents.echotrail.store import MemoryStore
from agents.echotrail.trajectory import Trajectory
from agents.embed import Embedder
from agents.gui.goal import goal_key
from tests.agents.echotrail.conftest import trajectory


def main(db: str, count: int, tag: str, hang: int = 0) -> None:
    embedder = Embedder("lexical")
    store = MemoryStore(db, embedder=embedder)
    for i in range(count):
        intent = f"Write note {tag} {i}"
        print(f"acked {store.add(trajectory(intent, 'Notes'))} {intent}", flush=True)
    if not hang:
        return
    effect = "x" * 1000
    with store._write():
        for i in range(hang):
            t = Trajectory.parse(trajectory(f"Uncommitted {tag} {i}", "Notes", steps=[
                {"screen": "notes/Main", "action": "click", "target": "Button 'New'", "effect": effect}] * 20))
            vector = embedder.encode([goal_key(t.intent)])[0]
            cursor = store.db.execute(
                "INSERT INTO trajectories (uid, intent, app, steps, outcome, answer, scores, provenance, source, "
                "created, embedding, embedder) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (f"uncommitted-{tag}-{i}", t.intent, t.app, json.dumps([s.model_dump() for s in t.steps]), t.outcome,
                 None, t.scores.model_dump_json(), t.provenance, "", t.created, vector.tobytes(), embedder.name))
            store._index(cursor.lastrowid, t.intent)
        print("in-transaction", flush=True)
        time.sleep(600)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 0)
