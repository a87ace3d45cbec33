"""The trajectory store: one SQLite file in WAL mode, safe for several writers (threads or
processes) at once, with hybrid retrieval.

    store = MemoryStore("memory.db")
    store.add(trajectory)                       # returns its id once the commit is durable
    store.search("Turn Bluetooth off", app="settings", k=3)

Durability: every add is one `BEGIN IMMEDIATE` transaction with `synchronous=FULL`; `add` returns
only after the commit, so an acknowledged write survives the writer being killed, and a writer
killed mid-transaction leaves nothing half-written (SQLite rolls the WAL back on the next open).

Retrieval: semantic (cosine over the offline embedder's vectors, numpy brute force: under a
millisecond at 10,000 x 384, so no index library earns its keep) and lexical (SQLite FTS5, BM25 over
the distinct goal keys, then the trajectories of the best keys), fused by reciprocal rank; filtered
by app when the caller gives one; top-k above a relevance floor.

Schema versions (PRAGMA user_version) and their migrations:
    1  the first layout: embeddings as JSON text, no full-text index, no answer or source columns
    2  embeddings as float32 blobs, FTS5 index kept in sync by triggers, answer and source columns
    3  the distinct goal keys in their own table (goal_keys, with the FTS5 index goal_keys_fts over
       them alone) and trajectories.key_id; the per-trajectory index trajectories_fts is dropped, and
       with it its body column (each trajectory's text: it ranked rows, it never scored them). A key
       goes with the last trajectory that has it
"""
from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np

from agents.echotrail.trajectory import Scores, Trajectory, TrajectoryError
from agents.gui.goal import goal_key
from control.errors import PodiumError

SCHEMA_VERSION = 3
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
        embedder TEXT NOT NULL,
        key_id INTEGER)""",
    "CREATE INDEX IF NOT EXISTS trajectories_app ON trajectories(app)",
    "CREATE TABLE IF NOT EXISTS goal_keys (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE)",
    "CREATE INDEX IF NOT EXISTS trajectories_key ON trajectories(key_id, app)",    # a key's rows [of one app]
    """CREATE VIRTUAL TABLE IF NOT EXISTS goal_keys_fts USING fts5(key, content='goal_keys', content_rowid='id',
        tokenize='porter unicode61')""",
    """CREATE TRIGGER IF NOT EXISTS goal_keys_new AFTER INSERT ON goal_keys BEGIN
        INSERT INTO goal_keys_fts (rowid, key) VALUES (new.id, new.key);
    END""",
    """CREATE TRIGGER IF NOT EXISTS goal_keys_gone AFTER DELETE ON goal_keys BEGIN
        INSERT INTO goal_keys_fts (goal_keys_fts, rowid, key) VALUES ('delete', old.id, old.key);
    END""",
    # one probe of trajectories_key per deleted row
    """CREATE TRIGGER IF NOT EXISTS trajectories_key_gone AFTER DELETE ON trajectories
        WHEN NOT EXISTS (SELECT 1 FROM trajectories WHERE key_id = old.key_id) BEGIN
        DELETE FROM goal_keys WHERE id = old.key_id;
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
        except sqlite3.Error as exc:       # a folder that does not exist, a file it may not open
            raise StoreError(f"{self.path} cannot be opened as a memory store: {exc}") from None
        try:
            self.db.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
            # Judge the file before anything writes to it (journal mode, schema): a file refused
            # here is left exactly as it was.
            with _Transaction(self.db, self._lock, "BEGIN"):
                version = self._check()
                problems = [r[0] for r in self.db.execute("PRAGMA quick_check(5)")]
            if problems != ["ok"]:
                raise StoreError(f"{self.path} is damaged: {'; '.join(problems)}")
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            if version != SCHEMA_VERSION:
                self._migrate()
        except BaseException as exc:
            self.db.close()
            if isinstance(exc, sqlite3.DatabaseError):
                raise StoreError(f"{self.path} is not a usable memory store: {exc}") from None
            raise

    # -- schema ------------------------------------------------------------------------------------
    def _check(self) -> int:
        """The file's schema version; StoreError if this podium cannot read it."""
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if version == 0 and tables - {"sqlite_sequence"}:
            raise StoreError(f"{self.path} is an SQLite file but not a memory store (it has tables "
                             f"{', '.join(sorted(tables))} and no schema version)")
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path} has schema version {version}; this podium reads up to "
                             f"{SCHEMA_VERSION}: upgrade podium")
        needed = {"trajectories", "goal_keys", "goal_keys_fts", "meta"} if version == SCHEMA_VERSION else \
            {"trajectories"} if version else set()
        if needed - tables:
            raise StoreError(f"{self.path} says schema version {version} but lacks the tables "
                             f"{', '.join(sorted(needed - tables))}")
        return version

    def _migrate(self) -> None:
        with self._write():
            version = self._check()         # again, under the write lock: another process may have migrated
            if version == SCHEMA_VERSION:
                return
            if version == 1:
                self._from_v1()
            elif version == 2:
                self._from_v2()
            for statement in SCHEMA:
                self.db.execute(statement)
            self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _from_v1(self) -> None:
        """v1 -> v3: JSON embeddings to float32 blobs, answer and source columns, the goal keys.
        Each row's uid is recomputed the v2 way, so that adding one of them again stores nothing."""
        old = self.db.execute("SELECT id, uid, intent, app, steps, outcome, scores, provenance, created, "
                              "embedding, embedder FROM trajectories").fetchall()
        self.db.execute("ALTER TABLE trajectories RENAME TO trajectories_v1")
        for statement in SCHEMA:
            self.db.execute(statement)
        uids: set[str] = set()
        for (id_, uid, intent, app, steps, outcome, scores, provenance, created, embedding, embedder) in old:
            try:
                trajectory = Trajectory.parse(self._row_dict(intent, app, steps, outcome, None, scores,
                                                             provenance, "", created))
                vector = np.asarray(json.loads(embedding), np.float32)
            except (ValueError, TypeError) as exc:     # TrajectoryError and JSONDecodeError among them
                raise StoreError(f"{self.path}: trajectory {id_} cannot be migrated from schema 1: {exc}") from None
            fresh = _uid(trajectory.model_dump_json(exclude={"created"}))
            uid = fresh if fresh not in uids else uid      # a v1 duplicate keeps its old uid: no row is lost
            uids.add(uid)
            self.db.execute("INSERT INTO trajectories (id, uid, intent, app, steps, outcome, answer, scores, "
                            "provenance, source, created, embedding, embedder) VALUES (?,?,?,?,?,?,NULL,?,?,'',?,?,?)",
                            (id_, uid, intent, app, steps, outcome, scores, provenance, created,
                             vector.tobytes(), embedder))
            self._index(id_, intent)
        self.db.execute("DROP TABLE trajectories_v1")

    def _from_v2(self) -> None:
        """v2 -> v3: each stored intent's goal key into goal_keys and its id into key_id; the
        per-trajectory FTS index and its trigger dropped."""
        self.db.execute("DROP TRIGGER IF EXISTS trajectories_gone")
        self.db.execute("DROP TABLE IF EXISTS trajectories_fts")
        self.db.execute("ALTER TABLE trajectories ADD COLUMN key_id INTEGER")
        for statement in SCHEMA:
            self.db.execute(statement)
        for id_, intent in self.db.execute("SELECT id, intent FROM trajectories").fetchall():
            self._index(id_, intent)

    # -- writing -----------------------------------------------------------------------------------
    def add(self, trajectory: Trajectory | dict[str, Any]) -> int:
        """Store a trajectory; returns its id after a durable commit (an identical one: its old id)."""
        return self.add_many([trajectory])[0]

    def add_many(self, trajectories: Iterable[Trajectory | dict[str, Any]], *,
                 vectors: np.ndarray | None = None) -> list[int]:
        """Store a batch in one transaction (one durable commit); returns the ids in order, as `add`
        would (an identical trajectory, stored before or earlier in the batch: that one's id).
        Embeddings: one batched encode, or `vectors`, one row per trajectory made by this store's
        embedder from the intent's goal key (a bulk load of vectors already computed, e.g. an import)."""
        batch = [Trajectory.parse(t) for t in trajectories]
        if not batch:
            return []
        if vectors is None:
            vectors = self.embedder.encode([goal_key(t.intent) for t in batch])
        vectors = np.asarray(vectors, np.float32)
        dim = getattr(self.embedder, "dim", None)
        if vectors.ndim != 2 or len(vectors) != len(batch) or (dim is not None and vectors.shape[1] != dim):
            raise ValueError(f"vectors must have shape ({len(batch)}, {dim or 'dim'}): one row per trajectory, "
                             f"from {self.embedder.name}; got {vectors.shape}")
        uids = [_uid(t.model_dump_json(exclude={"created"})) for t in batch]
        name, known = self.embedder.name, {}      # uid -> id: what is stored, this batch included
        with self._write():
            for uid, t, vector in zip(uids, batch, vectors):
                if uid in known:
                    continue
                found = self.db.execute("SELECT id FROM trajectories WHERE uid = ?", (uid,)).fetchone()
                if found is None:
                    found = [self.db.execute(
                        "INSERT INTO trajectories (uid, intent, app, steps, outcome, answer, scores, provenance, "
                        "source, created, embedding, embedder) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                        (uid, t.intent, t.app, json.dumps([s.model_dump() for s in t.steps]), t.outcome, t.answer,
                         t.scores.model_dump_json(), t.provenance, t.source, t.created, vector.tobytes(),
                         name)).lastrowid]
                    self._index(found[0], t.intent)
                known[uid] = int(found[0])
        return [known[uid] for uid in uids]

    def _index(self, id_: int, intent: str) -> None:
        """Give row `id_` its goal key's id, adding the key if it is new (in a write transaction)."""
        key = goal_key(intent)
        found = self.db.execute("SELECT id FROM goal_keys WHERE key = ?", (key,)).fetchone()
        key_id = found[0] if found else self.db.execute("INSERT INTO goal_keys (key) VALUES (?)", (key,)).lastrowid
        self.db.execute("UPDATE trajectories SET key_id = ? WHERE id = ?", (key_id, id_))

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
        """Counts by provenance and app, and by the embedder each vector was made with. `embedder`
        is this store's own, if it has loaded it (stats alone never loads a model)."""
        with _Transaction(self.db, self._lock, "BEGIN"):       # one snapshot for both counts
            rows = self.db.execute("SELECT provenance, app, count(*) FROM trajectories GROUP BY provenance, app")\
                .fetchall()
            vectors = dict(self.db.execute("SELECT embedder, count(*) FROM trajectories GROUP BY embedder"))
        by: dict[str, dict[str, int]] = {}
        for provenance, app, count in rows:
            by.setdefault(provenance, {})[app or "?"] = count
        return {"path": str(self.path), "trajectories": sum(vectors.values()), "schema": SCHEMA_VERSION,
                "embedder": getattr(self._embedder, "name", None), "embedders": vectors, "by_provenance": by}

    def search(self, query: str, *, app: str | None = None, k: int = 3, floor: float = 0.55,
               lexical_floor: float = 0.5, mode: Mode = "hybrid") -> list[Hit]:
        """The k best trajectories for `query`. A candidate must clear the floor of the signal(s)
        in use: cosine >= `floor` (semantic), or at least `lexical_floor` of the query's words in
        its intent (lexical); hybrid takes either and ranks by reciprocal-rank fusion."""
        if mode not in ("hybrid", "semantic", "lexical"):
            raise ValueError(f"mode must be hybrid, semantic or lexical, not {mode!r}")
        if k < 1:
            raise ValueError(f"k must be at least 1, not {k}")
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
        with self._lock:          # one consistent snapshot: another thread's refresh rebinds all three
            self._refresh()
            vectors, ids, apps = self._vectors, self._ids, self._apps
        if vectors is None or not len(ids):
            return {}
        q = self.embedder.encode([goal_key(query)])[0]
        scores = vectors @ q
        if app:
            scores = np.where(apps == app, scores, -np.inf)
        top = np.argpartition(-scores, min(pool, len(scores) - 1))[:pool]
        return {int(ids[i]): float(scores[i]) for i in top if np.isfinite(scores[i])}

    def _lexical(self, query: str, app: str | None, pool: int) -> dict[int, float]:
        words = _words(goal_key(query))
        if not words:
            return {}
        match = " OR ".join(f'"{w}"' for w in words)     # quoted: no FTS5 syntax from users
        stem = _stems(words)
        # Many trajectories share one key: rank the few keys (bm25 picks the pool, the share scores
        # it), then take the best keys' trajectories. With an app, only keys that app has.
        of_app, args = ("AND app = ?", [app]) if app else ("", [])
        found: dict[int, float] = {}
        with self._lock:
            keys = self.db.execute(
                "SELECT f.rowid, f.key FROM goal_keys_fts f WHERE goal_keys_fts MATCH ? "
                + ("AND EXISTS (SELECT 1 FROM trajectories WHERE key_id = f.rowid AND app = ?) " if app else "")
                + "ORDER BY bm25(goal_keys_fts) LIMIT ?", [match, *args, pool]).fetchall()
            scored = [(len(_stems(_words(key)) & stem) / len(stem), key_id) for key_id, key in keys]
            for share, key_id in sorted(scored, key=lambda s: -s[0]):      # stable: bm25 breaks ties
                rows = self.db.execute(f"SELECT id FROM trajectories WHERE key_id = ? {of_app} ORDER BY id LIMIT ?",
                                       [key_id, *args, pool - len(found)])
                found.update((id_, share) for id_, in rows)
                if len(found) >= pool:
                    break
        return found

    def _refresh(self) -> None:
        """Load the vectors written since the last search (by any process); all of them after a delete.
        Only vectors of this store's embedder: another's (a host without the model writes lexical
        ones) are not comparable, and those trajectories are found by their words alone."""
        with self._lock:
            deletes = int(self.db.execute("SELECT value FROM meta WHERE key = 'deletes'").fetchone()[0])
            last, generation = self._seen
            if generation != deletes:
                last, self._vectors, self._ids, self._apps = 0, None, np.zeros(0, np.int64), np.zeros(0, object)
            rows = self.db.execute("SELECT id, app, embedding FROM trajectories WHERE id > ? AND embedder = ? "
                                   "ORDER BY id", (last, self.embedder.name)).fetchall()
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
        return export_jsonl(self, path)

    def import_file(self, path: str | Path) -> tuple[int, list[str]]:
        return import_jsonl(self, path)

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
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error), one writer thread at a time in this process.
    `begin="BEGIN"`: a read transaction (one consistent snapshot for several statements)."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock, begin: str = "BEGIN IMMEDIATE") -> None:
        self.db, self.lock, self.begin = db, lock, begin

    def __enter__(self) -> None:
        self.lock.acquire()
        try:
            self.db.execute(self.begin)
        except BaseException:
            self.lock.release()
            raise

    def __exit__(self, kind, exc, tb) -> None:
        try:
            if not kind:
                try:
                    self.db.execute("COMMIT")
                except BaseException:
                    self._rollback()
                    raise
            else:
                self._rollback()
        finally:
            self.lock.release()

    def _rollback(self) -> None:
        if self.db.in_transaction:       # SQLite may have rolled back already (a damaged file, a full disk)
            self.db.execute("ROLLBACK")


def export_jsonl(source: Any, path: str | Path, *, batch: int = 500) -> int:
    """Every trajectory of `source` (a MemoryStore or a RemoteMemory: anything with `list`) as one
    JSON line (no embeddings: they are recomputed on import). Written to a temporary file and
    renamed, so `path` is never left half-written. Returns how many."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    count = 0
    try:
        with open(tmp, "w", encoding="utf-8") as out:
            while rows := source.list(limit=batch, offset=count):
                for _, trajectory in rows:
                    out.write(trajectory.model_dump_json() + "\n")
                count += len(rows)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return count


def import_jsonl(target: Any, path: str | Path) -> tuple[int, list[str]]:
    """Add every valid line of a JSONL export to `target` (anything with `add`); returns (lines
    added, one problem per bad line, naming its number). Bad lines do not stop the good ones."""
    added, problems = 0, []
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                target.add(json.loads(raw.decode("utf-8")))
                added += 1
            except UnicodeDecodeError as exc:
                problems.append(f"line {number}: not UTF-8 text ({exc.reason} at byte {exc.start})")
            except json.JSONDecodeError as exc:
                problems.append(f"line {number}: not JSON ({exc.msg} at column {exc.colno})")
            except TrajectoryError as exc:
                problems.append(f"line {number}: {exc}")
    return added, problems


def _filters(*, app: str | None = None, provenance: str | None = None) -> tuple[str, list]:
    clauses, args = [], []
    if app:
        clauses.append("app = ?")
        args.append(app)
    if provenance:
        clauses.append("provenance = ?")
        args.append(provenance)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", args


@lru_cache(maxsize=8192)
def _words(key: str) -> tuple[str, ...]:
    """A goal key's words to match on, once each, stopwords aside. The words that stand for values
    stay: they say what kind of task it is ('some minute' is a timer, 'a phone number' a contact's);
    leaving them out lost four held-out successes in `podium eval gui --memory on` (2026-12-01)."""
    return tuple(dict.fromkeys(w for w in WORD.findall(key.casefold()) if w not in STOPWORDS))


def _stems(words: tuple[str, ...]) -> frozenset[str]:
    return frozenset(w[:5] for w in words)      # crude stems: 'alarms' meets 'alarm', 'deleted' meets 'delete'


def _uid(body: str) -> str:
    import hashlib

    return hashlib.sha256(body.encode()).hexdigest()[:32]
