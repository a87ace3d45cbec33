"""The trajectory store: one SQLite file in WAL mode, safe for several writers (threads or
processes) at once, with hybrid retrieval.

    store = MemoryStore("memory.db")
    store.add(trajectory)                       # returns its id once the commit is durable
    store.search("Turn Bluetooth off", app="settings", k=3)

Durability: every add is one `BEGIN IMMEDIATE` transaction with `synchronous=FULL`; `add` returns
only after the commit, so an acknowledged write survives the writer being killed, and a writer
killed mid-transaction leaves nothing half-written (SQLite rolls the WAL back on the next open).

Retrieval: semantic (cosine over the offline embedder's vectors, numpy brute force: under a
millisecond at 10,000 x 384, so no index library earns its keep) and lexical (SQLite FTS5, BM25),
fused by reciprocal rank; filtered by app when known; top-k above a relevance floor.

Schema versions (PRAGMA user_version) and their migrations:
    1  the first layout: embeddings as JSON text, no full-text index, no answer or source columns
    2  embeddings as float32 blobs, FTS5 index kept in sync by triggers, answer and source columns
"""
from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from agents.echotrail.trajectory import Scores, Trajectory, TrajectoryError
from agents.gui.goal import goal_key
from control.errors import PodiumError

SCHEMA_VERSION = 2
Mode = Literal["hybrid", "semantic", "lexical"]
RRF_K = 60                       # reciprocal-rank fusion's usual constant
WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset("a an the to of in on for my me and or is it at with from by this that be do i".split())


class StoreError(PodiumError):
    """The store file is unusable (corrupt, not a store, a newer schema); the message says which."""


@dataclass(frozen=True)
class Hit:
    id: int
    trajectory: Trajectory
    score: float               # the fused score (higher is better)
    semantic: float | None     # cosine similarity to the query
    lexical: float | None      # the share of the query's words the trajectory's intent holds


SCHEMA = [   # statements, not a script: executescript would commit the open transaction
    """CREATE TABLE IF NOT EXISTS trajectories (
        id INTEGER PRIMARY KEY,
        uid TEXT NOT NULL UNIQUE,
        intent TEXT NOT NULL,
        app TEXT NOT NULL DEFAULT '',
        steps TEXT NOT NULL,
        outcome TEXT NOT NULL,
        answer TEXT,
        scores TEXT NOT NULL,
        provenance TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT '',
        created REAL NOT NULL,
        embedding BLOB NOT NULL,
        embedder TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS trajectories_app ON trajectories(app)",
    "CREATE VIRTUAL TABLE IF NOT EXISTS trajectories_fts USING fts5(intent, body, tokenize='porter unicode61')",
    """CREATE TRIGGER IF NOT EXISTS trajectories_gone AFTER DELETE ON trajectories BEGIN
        DELETE FROM trajectories_fts WHERE rowid = old.id;
    END""",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "INSERT OR IGNORE INTO meta VALUES ('deletes', '0')",
]


class MemoryStore:
    """See the module docstring. One object may be shared by threads; each process opens its own."""

    def __init__(self, path: str | Path, *, embedder: Any = None, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self._embedder = embedder
        self._lock = threading.RLock()
        self._vectors: np.ndarray | None = None
        self._ids: np.ndarray = np.zeros(0, np.int64)
        self._apps: np.ndarray = np.zeros(0, object)
        self._seen = (0, -1)      # (the highest id loaded, the delete generation it was loaded at)
        try:
            self.db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a usable memory store: {exc}") from None

    # -- schema ------------------------------------------------------------------------------------
    def _migrate(self) -> None:
        with self._write():
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if version == 0 and tables - {"sqlite_sequence"}:
                raise StoreError(f"{self.path} is an SQLite file but not a memory store (it has tables "
                                 f"{', '.join(sorted(tables))} and no schema version)")
            if version > SCHEMA_VERSION:
                raise StoreError(f"{self.path} has schema version {version}; this podium reads up to "
                                 f"{SCHEMA_VERSION}: upgrade podium")
            if version == 1:
                self._from_v1()
            for statement in SCHEMA:
                self.db.execute(statement)
            self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _from_v1(self) -> None:
        """v1 -> v2: JSON embeddings to float32 blobs, answer and source columns, the FTS index."""
        old = self.db.execute("SELECT id, uid, intent, app, steps, outcome, scores, provenance, created, "
                              "embedding, embedder FROM trajectories").fetchall()
        self.db.execute("ALTER TABLE trajectories RENAME TO trajectories_v1")
        for statement in SCHEMA:
            self.db.execute(statement)
        for (id_, uid, intent, app, steps, outcome, scores, provenance, created, embedding, embedder) in old:
            vector = np.asarray(json.loads(embedding), np.float32)
            self.db.execute("INSERT INTO trajectories VALUES (?,?,?,?,?,?,NULL,?,?,'',?,?,?)",
                            (id_, uid, intent, app, steps, outcome, scores, provenance, created,
                             vector.tobytes(), embedder))
            self._index(id_, intent, Trajectory.parse(self._row_dict(intent, app, steps, outcome, None, scores,
                                                                      provenance, "", created)).text())
        self.db.execute("DROP TABLE trajectories_v1")

    # -- writing -----------------------------------------------------------------------------------
    def add(self, trajectory: Trajectory | dict[str, Any]) -> int:
        """Store a trajectory; returns its id after a durable commit (an identical one: its old id)."""
        trajectory = Trajectory.parse(trajectory)
        body = trajectory.model_dump_json(exclude={"created"})
        uid = _uid(body)
        vector = self.embedder.encode([goal_key(trajectory.intent)])[0].astype(np.float32)
        with self._write():
            found = self.db.execute("SELECT id FROM trajectories WHERE uid = ?", (uid,)).fetchone()
            if found:
                return int(found[0])
            cursor = self.db.execute(
                "INSERT INTO trajectories (uid, intent, app, steps, outcome, answer, scores, provenance, source, "
                "created, embedding, embedder) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (uid, trajectory.intent, trajectory.app, json.dumps([s.model_dump() for s in trajectory.steps]),
                 trajectory.outcome, trajectory.answer, trajectory.scores.model_dump_json(), trajectory.provenance,
                 trajectory.source, trajectory.created, vector.tobytes(), self.embedder.name))
            self._index(cursor.lastrowid, trajectory.intent, trajectory.text())
            return int(cursor.lastrowid)

    def _index(self, id_: int, intent: str, body: str) -> None:
        self.db.execute("INSERT INTO trajectories_fts (rowid, intent, body) VALUES (?, ?, ?)",
                        (id_, goal_key(intent), body))

    def delete(self, ids: Iterable[int]) -> int:
        ids = list(ids)
        with self._write():
            gone = 0
            for chunk in range(0, len(ids), 500):
                part = ids[chunk:chunk + 500]
                gone += self.db.execute(f"DELETE FROM trajectories WHERE id IN ({','.join('?' * len(part))})",
                                        part).rowcount
            self.db.execute("UPDATE meta SET value = value + 1 WHERE key = 'deletes'")
        return gone

    def prune(self, *, below: float | None = None, older_than_days: float | None = None,
              keep_per_intent: int | None = None) -> int:
        """Delete trajectories scoring below `below`, older than some days, or beyond the best
        `keep_per_intent` for one intent. Returns how many went."""
        doomed: set[int] = set()
        with self._lock:
            rows = self.db.execute("SELECT id, intent, scores, created FROM trajectories").fetchall()
        now = time.time()
        by_intent: dict[str, list[tuple[float, int]]] = {}
        for id_, intent, scores, created in rows:
            total = Scores.model_validate_json(scores).total
            if below is not None and total < below:
                doomed.add(id_)
            if older_than_days is not None and now - created > older_than_days * 86400:
                doomed.add(id_)
            by_intent.setdefault(intent.casefold(), []).append((total, id_))
        if keep_per_intent is not None:
            for entries in by_intent.values():
                doomed.update(id_ for _, id_ in sorted(entries, reverse=True)[keep_per_intent:])
        return self.delete(sorted(doomed)) if doomed else 0

    # -- reading -----------------------------------------------------------------------------------
    def get(self, id_: int) -> Trajectory:
        with self._lock:
            row = self.db.execute("SELECT intent, app, steps, outcome, answer, scores, provenance, source, created "
                                  "FROM trajectories WHERE id = ?", (id_,)).fetchone()
        if row is None:
            raise KeyError(f"no trajectory {id_} in {self.path}")
        return Trajectory.parse(self._row_dict(*row))

    def list(self, *, app: str | None = None, provenance: str | None = None, limit: int = 50,
             offset: int = 0) -> list[tuple[int, Trajectory]]:
        where, args = _filters(app=app, provenance=provenance)
        with self._lock:
            rows = self.db.execute(f"SELECT id, intent, app, steps, outcome, answer, scores, provenance, source, "
                                   f"created FROM trajectories {where} ORDER BY id LIMIT ? OFFSET ?",
                                   [*args, limit, offset]).fetchall()
        return [(row[0], Trajectory.parse(self._row_dict(*row[1:]))) for row in rows]

    def __iter__(self) -> Iterator[tuple[int, Trajectory]]:
        offset = 0
        while batch := self.list(limit=500, offset=offset):
            yield from batch
            offset += len(batch)

    def __len__(self) -> int:
        with self._lock:
            return int(self.db.execute("SELECT count(*) FROM trajectories").fetchone()[0])

    def stats(self) -> dict[str, Any]:
        with self._lock:
            rows = self.db.execute("SELECT provenance, app, count(*) FROM trajectories GROUP BY provenance, app")\
                .fetchall()
        by: dict[str, dict[str, int]] = {}
        for provenance, app, count in rows:
            by.setdefault(provenance, {})[app or "?"] = count
        return {"path": str(self.path), "trajectories": len(self), "schema": SCHEMA_VERSION,
                "embedder": self.embedder.name, "by_provenance": by}

    def search(self, query: str, *, app: str | None = None, k: int = 3, floor: float = 0.55,
               lexical_floor: float = 0.5, mode: Mode = "hybrid") -> list[Hit]:
        """The k best trajectories for `query`. A candidate must clear the floor of the signal(s)
        in use: cosine >= `floor` (semantic), or at least `lexical_floor` of the query's words in
        its intent (lexical); hybrid takes either and ranks by reciprocal-rank fusion."""
        if mode not in ("hybrid", "semantic", "lexical"):
            raise ValueError(f"mode must be hybrid, semantic or lexical, not {mode!r}")
        pool = max(50, 5 * k)
        semantic = self._semantic(query, app, pool) if mode != "lexical" else {}
        lexical = self._lexical(query, app, pool) if mode != "semantic" else {}
        fused: dict[int, float] = {}
        for ranking, floor_of in ((semantic, floor), (lexical, lexical_floor)):
            ranked = sorted(ranking.items(), key=lambda item: -item[1])
            for rank, (id_, value) in enumerate(ranked):
                if value >= floor_of:
                    fused[id_] = fused.get(id_, 0.0) + 1.0 / (RRF_K + rank + 1)
        hits = []
        for id_ in sorted(fused, key=lambda id_: -fused[id_]):
            try:
                trajectory = self.get(id_)
            except KeyError:          # pruned by another process since the vectors were loaded
                continue
            hits.append(Hit(id_, trajectory, round(fused[id_], 6), semantic.get(id_), lexical.get(id_)))
            if len(hits) == k:
                break
        return hits

    def _semantic(self, query: str, app: str | None, pool: int) -> dict[int, float]:
        self._refresh()
        if self._vectors is None or not len(self._ids):
            return {}
        q = self.embedder.encode([goal_key(query)])[0]
        scores = self._vectors @ q
        if app:
            scores = np.where(self._apps == app, scores, -np.inf)
        top = np.argpartition(-scores, min(pool, len(scores) - 1))[:pool]
        return {int(self._ids[i]): float(scores[i]) for i in top if np.isfinite(scores[i])}

    def _lexical(self, query: str, app: str | None, pool: int) -> dict[int, float]:
        words = [w for w in WORD.findall(goal_key(query).casefold()) if w not in STOPWORDS]
        if not words:
            return {}
        match = " OR ".join(f'"{w}"' for w in dict.fromkeys(words))     # quoted: no FTS5 syntax from users
        where, args = _filters(app=app, prefix="t.")
        with self._lock:
            rows = self.db.execute(
                f"SELECT f.rowid, t.intent FROM trajectories_fts f JOIN trajectories t ON t.id = f.rowid "
                f"WHERE trajectories_fts MATCH ? {where.replace('WHERE', 'AND')} "
                f"ORDER BY bm25(trajectories_fts, 4.0, 1.0) LIMIT ?", [match, *args, pool]).fetchall()
        stem = {w[:5] for w in words}      # crude stems: 'alarms' meets 'alarm', 'deleted' meets 'delete'
        return {int(id_): len({w[:5] for w in WORD.findall(goal_key(intent).casefold())} & stem) / len(stem)
                for id_, intent in rows}

    def _refresh(self) -> None:
        """Load the vectors written since the last search (by any process); all of them after a delete."""
        with self._lock:
            deletes = int(self.db.execute("SELECT value FROM meta WHERE key = 'deletes'").fetchone()[0])
            last, generation = self._seen
            if generation != deletes:
                last, self._vectors, self._ids, self._apps = 0, None, np.zeros(0, np.int64), np.zeros(0, object)
            rows = self.db.execute("SELECT id, app, embedding FROM trajectories WHERE id > ? ORDER BY id",
                                   (last,)).fetchall()
            if rows:
                vectors = np.frombuffer(b"".join(r[2] for r in rows), np.float32).reshape(len(rows), -1)
                if self._vectors is not None and vectors.shape[1] != self._vectors.shape[1]:
                    raise StoreError(f"{self.path} mixes embeddings of {self._vectors.shape[1]} and "
                                     f"{vectors.shape[1]} dimensions")
                self._vectors = vectors if self._vectors is None else np.vstack([self._vectors, vectors])
                self._ids = np.concatenate([self._ids, np.array([r[0] for r in rows], np.int64)])
                self._apps = np.concatenate([self._apps, np.array([r[1] for r in rows], object)])
                last = int(rows[-1][0])
            self._seen = (last, deletes)

    # -- import and export -------------------------------------------------------------------------
    def export(self, path: str | Path) -> int:
        """Every trajectory as one JSON line (no embeddings: they are recomputed on import)."""
        count = 0
        with open(path, "w") as out:
            for _, trajectory in self:
                out.write(trajectory.model_dump_json() + "\n")
                count += 1
        return count

    def import_file(self, path: str | Path) -> tuple[int, list[str]]:
        """Add every valid line of a JSONL export; returns (added, problems by line)."""
        added, problems = 0, []
        with open(path) as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    self.add(json.loads(line))
                    added += 1
                except (json.JSONDecodeError, TrajectoryError) as exc:
                    problems.append(f"line {number}: {exc}")
        return added, problems

    # -- plumbing ----------------------------------------------------------------------------------
    @property
    def embedder(self):
        if self._embedder is None:
            from agents.embed import shared_embedder

            self._embedder = shared_embedder()
        return self._embedder

    def _write(self):
        return _Transaction(self.db, self._lock)

    @staticmethod
    def _row_dict(intent, app, steps, outcome, answer, scores, provenance, source, created) -> dict[str, Any]:
        return {"intent": intent, "app": app, "steps": json.loads(steps), "outcome": outcome, "answer": answer,
                "scores": json.loads(scores), "provenance": provenance, "source": source, "created": created}

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error), one writer thread at a time in this process."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self.db, self.lock = db, lock

    def __enter__(self) -> None:
        self.lock.acquire()
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.lock.release()
            raise

    def __exit__(self, kind, exc, tb) -> None:
        try:
            self.db.execute("ROLLBACK" if kind else "COMMIT")
        finally:
            self.lock.release()


def _filters(*, app: str | None = None, provenance: str | None = None, prefix: str = "") -> tuple[str, list]:
    clauses, args = [], []
    if app:
        clauses.append(f"{prefix}app = ?")
        args.append(app)
    if provenance:
        clauses.append(f"{prefix}provenance = ?")
        args.append(provenance)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", args


def _uid(body: str) -> str:
    import hashlib

    return hashlib.sha256(body.encode()).hexdigest()[:32]
