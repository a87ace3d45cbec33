"""EchoTrail memory store: retrieval latency at 1k, 10k and 100k trajectories against a brute-force
numpy peer, and writes/s with 1 and 4 writer processes, in one run.

Method: trajectories are generated combinatorially from the phone suite's task phrasings (46
templates x 3 phrasings over Settings, Contacts, Clock, Notes, Messages and Calendar) filled with
names, phone numbers, emails, times, dates, titles and texts, each with 3 to 6 abstracted steps
(open the app, tap, type the goal's values as slots, save, end). The embedder is the offline
all-MiniLM-L6-v2. What a store embeds is an intent's goal key (its values replaced by their kind),
so 100,000 intents (about 44,000 distinct) share about 1,200 keys: every distinct key of the run is
encoded once, in batches, and the stores are bulk-loaded with `add_many(vectors=...)`; those are
the vectors `add` would compute. Every store lives in a temporary directory, removed at the end.

Timed apart, over the same held-out queries (drawn like the stored intents, with fresh values):
  query embedding   the embedder's encode of one query's goal key, its cache emptied first
  search            MemoryStore.search (k=3) in hybrid, semantic-only and lexical-only mode, with and
                    without the query's app as a filter, after a warm-up (vectors loaded, query
                    vectors in the embedder's cache, so no model time is in these figures)
  peer              plain numpy over the same float32 matrix: one matrix-vector product, argpartition
                    for the top k, sorted; with the app filter as a precomputed boolean mask. Also
                    with OpenBLAS held to one thread (threadpoolctl, where installed): on 2 shared
                    cores a second BLAS thread can wait a scheduler tick to run
Modes and the peer interleave query by query. Writes: `add` one at a time, each its own durable
commit (synchronous=FULL), by 1 and by 4 writer processes on one file, a fixed count in all (the
writers look vectors up in the pool, so this is the store's cost, not the model's); and
`add_many` rows/s while the stores are built.

    python bench/memory.py                                   # 1k, 10k, 100k; 200 queries
    python bench/memory.py --sizes 1000,10000 --queries 50   # quicker
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import random
import string
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from agents.echotrail.store import MemoryStore
from agents.echotrail.trajectory import Trajectory
from agents.gui.goal import goal_key
from control.progress import progress_bar
from sims.phone.apps.calendar import SEED_EVENTS
from sims.phone.apps.clock import LABELS, format_time
from sims.phone.apps.contacts import DOMAINS, FIRST, LAST
from sims.phone.tasks import registry
from sims.phone.tasks.calendar import NEW_EVENTS
from sims.phone.tasks.messages import QUESTIONS, TEXTS
from sims.phone.tasks.notes import LINES, TITLES

GOAL_MS = 5.0                      # the goal: search under 5 ms at 10,000 trajectories
FLOOR = 0.55                       # MemoryStore.search's default cosine floor
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
EVENTS = SEED_EVENTS + NEW_EVENTS + ("Physio", "School play", "Tax advisor", "Choir practice", "Job interview",
                                     "Date night", "Board meeting", "Climbing session", "Farmers market")
NOTES = TITLES + ("Garden plan", "Road trip", "Recipe ideas", "Packing list", "Gift ideas", "Workout log",
                  "Book notes", "Wedding speech", "House chores")
MORE_TEXTS = TEXTS + QUESTIONS + ("Back in five", "Don't forget the keys", "Dinner is at eight",
                                  "Got the tickets", "Happy birthday!", "Can you pick up milk?")
CITIES = ("Tokyo", "Lagos", "Lima", "Oslo", "Sydney", "Nairobi", "Quito", "Hanoi", "Reykjavik", "Toronto")
DEVICES = tuple(f"{a} {b}" for a in ("Studio", "Travel", "Kitchen", "Lab", "Office") for b in ("Phone", "Pixel"))
SCREENS = {"Settings": ("Settings", "NetworkDashboard", "ConnectedDevices", "DisplaySettings", "AboutPhone"),
           "Contacts": ("ContactList", "ContactDetail", "ContactEditor"),
           "Clock": ("AlarmList", "AlarmEditor", "Timer", "Stopwatch", "WorldClock"),
           "Notes": ("NoteList", "NoteEditor"),
           "Messages": ("ConversationList", "Thread", "NewMessage"),
           "Calendar": ("Month", "Day", "EventEditor")}
FIELDS = {"name": "Name", "first": "First name", "last": "Last name", "phone": "Phone", "new": "Phone",
          "email": "Email", "time": "Time", "new_time": "Time", "start": "Start time (HH:MM)",
          "end": "End time (HH:MM)", "day": "Date", "title": "Title", "label": "Label", "text": "Message",
          "body": "Body", "line": "Body", "minutes": "Minutes", "number": "To", "to": "To", "city": "City"}


# -- the data --------------------------------------------------------------------------------------
def _value(key: str, template: str, app: str, rng: random.Random) -> str:
    """A value for a phrasing's {key}, as the suite's own tasks would write it."""
    person = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    if key in ("name", "to"):
        return rng.choice(DEVICES) if template == "SettingsRenameDevice" else person
    if key == "first":
        return rng.choice(FIRST)
    if key == "last":
        return rng.choice(LAST)
    if key in ("phone", "number") or (key == "new" and app == "Contacts"):
        return f"+1 {rng.randrange(200, 999)}-555-{rng.randrange(0, 10_000):04d}"
    if key == "new":
        return rng.choice(NOTES)
    if key == "email":
        return f"{rng.choice(FIRST).lower()}.{rng.choice(LAST).lower()}{rng.randrange(10, 99)}@{rng.choice(DOMAINS)}"
    if key in ("time", "new_time", "start", "end"):
        return format_time(rng.randrange(0, 24), rng.choice((0, 0, 15, 30, 45, rng.randrange(60))))
    if key == "day":
        return f"{rng.choice(MONTHS)} {rng.randrange(1, 29)}"
    if key == "title":
        return rng.choice(EVENTS if app == "Calendar" else NOTES)
    if key == "label":
        return rng.choice([label for label in LABELS if label])
    if key in ("text",):
        return rng.choice(MORE_TEXTS)
    if key in ("line", "body"):
        return rng.choice(LINES)
    if key == "minutes":
        return str(rng.randrange(1, 91))
    if key == "city":
        return rng.choice(CITIES)
    if key == "state":
        return rng.choice(("on", "off"))
    high = rng.random() < 0.5
    return {"level": "maximum" if high else "minimum", "direction": "up" if high else "down",
            "adjective": "bright" if high else "dim"}[key]


def phrasings() -> list[tuple[str, str, str, str]]:
    """(template, app, kind, phrasing) for every phrasing of the phone suite."""
    return [(name, t.app, t.kind, goal) for name, t in registry().items() for goal in t.goals]


def draw_intent(rng: random.Random, table: list[tuple[str, str, str, str]]) -> tuple[str, str, str, dict[str, str]]:
    template, app, kind, phrasing = rng.choice(table)
    keys = {f for _, f, _, _ in string.Formatter().parse(phrasing) if f}
    values = {key: _value(key, template, app, rng) for key in sorted(keys)}
    return template, app, kind, {"intent": phrasing.format(**values), **values}


def make_trajectory(rng: random.Random, drawn: tuple[str, str, str, dict[str, str]], number: int) -> dict:
    """A trajectory of 3 to 6 steps for a drawn intent: open the app, then by the task's kind."""
    template, app, kind, values = drawn
    screens = [f"{app.lower()}/{s}" for s in SCREENS[app]]
    main, detail = screens[0], screens[min(1, len(screens) - 1)]
    steps = [{"screen": "launcher/Home", "action": "open_app", "text": app, "effect": f"the screen changed to {main}"}]
    typed = [(k, v) for k, v in values.items() if k != "intent" and k in FIELDS]
    if kind == "answer":
        target = typed[0][1] if typed else rng.choice(("Battery", "About phone", "Alarms", "Today"))
        steps += [{"screen": main, "action": "click", "target": target, "slot": "value" if typed else "",
                   "effect": f"the screen changed to {detail}"},
                  {"screen": detail, "action": "answer", "text": rng.choice(("3", "7:30 AM", "+1 555-0100", "84%")),
                   "effect": "the answer was given"}]
    elif kind == "infeasible":
        steps += [{"screen": main, "action": "scroll", "text": "down", "effect": "the list did not change"},
                  _end(main, "infeasible")]
    elif typed and "Delete" in template:
        steps += [{"screen": main, "action": "click", "target": typed[0][1], "slot": "value",
                   "effect": f"the screen changed to {detail}"},
                  {"screen": detail, "action": "click", "target": "Delete", "effect": f"the screen changed to {main}"},
                  _end(main)]
    elif typed:
        editor = screens[-1]
        steps.append({"screen": main, "action": "click", "target": rng.choice(("Add", "Create", "New", "Edit")),
                      "effect": f"the screen changed to {editor}"})
        for key, value in typed[:3]:
            steps.append({"screen": editor, "action": "input_text", "target": FIELDS[key], "text": value,
                          "slot": "value", "effect": f"the field {FIELDS[key]} now reads {value}"})
        steps += [{"screen": editor, "action": "click", "target": "Save", "effect": f"the screen changed to {main}"},
                  _end(main)]
    else:
        label = values.get("state") and template.removeprefix("Settings") or rng.choice(("Start", "Timer", "Stopwatch"))
        steps += [{"screen": main, "action": "click", "target": rng.choice(("Network & internet", "Display", label)),
                   "effect": f"the screen changed to {detail}"},
                  {"screen": detail, "action": "click", "target": label, "effect": f"{label} switched"},
                  _end(detail)]
    outcome = {"answer": "answered", "infeasible": "infeasible"}.get(kind, "complete")
    answer = steps[-1]["text"] if outcome == "answered" else None
    return {"intent": values["intent"], "app": app, "steps": steps[:6], "outcome": outcome, "answer": answer,
            "scores": {"completion": round(rng.uniform(0.7, 1), 3), "coherence": round(rng.uniform(0.5, 1), 3),
                       "efficiency": round(rng.uniform(0.4, 1), 3)},
            "provenance": rng.choice(("task", "explored")), "source": f"{template}/s{number}",
            "created": 1_790_000_000.0 - rng.uniform(0, 90 * 86400)}


def _end(screen: str, status: str = "complete") -> dict:
    return {"screen": screen, "action": "status", "text": status, "effect": f"the task was declared {status}"}


class PoolEmbedder:
    """The offline embedder's vectors for a run's goal keys, looked up: what the writer processes
    embed with, so that their writes/s is the store's cost and not the model's."""

    def __init__(self, keys: list[str], vectors: np.ndarray, name: str) -> None:
        self.name, self.dim = name, vectors.shape[1]
        self._rows = {key: i for i, key in enumerate(keys)}
        self._vectors = vectors

    def encode(self, texts: list[str]) -> np.ndarray:
        return self._vectors[[self._rows[t] for t in texts]]


# -- what is timed ---------------------------------------------------------------------------------
def peer_top(matrix: np.ndarray, query: np.ndarray, mask: np.ndarray | None, k: int) -> np.ndarray:
    """The peer: brute-force cosine (unit vectors: a dot product) and argpartition for the top k."""
    scores = matrix @ query
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    top = np.argpartition(-scores, k)[:k]
    return top[np.argsort(-scores[top])]


def time_query_embedding(embedder, keys: list[str], threads: int) -> list[float]:
    """One query's goal key through the model at a time (the embedder's cache emptied of it first)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        times = []
        for key in keys:
            embedder._cache.pop(key, None)
            start = time.perf_counter()
            embedder.encode([key])
            times.append(time.perf_counter() - start)
        return times
    finally:
        torch.set_num_threads(before)


def measure_search(store: MemoryStore, queries: list[tuple[str, str]], matrix: np.ndarray,
                   masks: dict[str, np.ndarray], query_vectors: np.ndarray, k: int, warmup: int,
                   progress, task) -> tuple[dict[str, list[float]], float]:
    """Every case for query 1, then for query 2, ...; returns the times by case and the share of
    queries whose best semantic hit has the peer's best score (a check that both rank alike)."""
    cases: dict[str, Callable[[int], object]] = {}
    for mode in ("hybrid", "semantic", "lexical"):
        cases[mode] = lambda i, m=mode: store.search(queries[i][0], k=k, mode=m)
        cases[f"{mode} + app"] = lambda i, m=mode: store.search(queries[i][0], app=queries[i][1], k=k, mode=m)
    cases["numpy peer"] = lambda i: peer_top(matrix, query_vectors[i], None, k)
    cases["numpy peer + app"] = lambda i: peer_top(matrix, query_vectors[i], masks[queries[i][1]], k)
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        pass
    else:
        controller = ThreadpoolController()

        def one_thread(i: int, app: bool) -> np.ndarray:
            with controller.limit(limits=1, user_api="blas"):
                return peer_top(matrix, query_vectors[i], masks[queries[i][1]] if app else None, k)
        cases["numpy peer, 1 BLAS thread"] = lambda i: one_thread(i, False)
        cases["numpy peer, 1 BLAS thread + app"] = lambda i: one_thread(i, True)
    for i in range(min(warmup, len(queries))):            # vectors loaded, caches warm: discarded
        for call in cases.values():
            call(i)
    times: dict[str, list[float]] = {name: [] for name in cases}
    agree = 0
    for i in range(len(queries)):
        for name, call in cases.items():
            start = time.perf_counter()
            out = call(i)
            times[name].append(time.perf_counter() - start)
            if name == "semantic":
                best = float(matrix[peer_top(matrix, query_vectors[i], None, 1)[0]] @ query_vectors[i])
                agree += (abs(out[0].semantic - best) < 1e-4) if out else best < FLOOR
        progress.advance(task)
    return times, agree / len(queries)


def writer(path: str, pool: str, name: str, trajectories: list[dict], barrier, out) -> None:
    """One writer process: `add` each trajectory in turn, each add its own durable commit."""
    keys = json.loads(Path(pool + ".json").read_text())
    store = MemoryStore(path, embedder=PoolEmbedder(keys, np.load(pool + ".npy"), name))
    barrier.wait()
    began, times = time.monotonic(), []
    for trajectory in trajectories:
        start = time.perf_counter()
        store.add(trajectory)
        times.append(time.perf_counter() - start)
    out.put((began, time.monotonic(), times))
    store.close()


def measure_writes(tmp: Path, pool: str, name: str, trajectories: list[dict], writers: int) -> dict:
    """`writers` processes add len(trajectories) in all to one fresh store file."""
    path = tmp / f"writes-{writers}.db"
    MemoryStore(path, embedder=object()).close()          # the schema, before the writers race for it
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(writers), ctx.Queue()
    share = -(-len(trajectories) // writers)
    procs = [ctx.Process(target=writer, args=(str(path), pool, name, trajectories[w * share:(w + 1) * share],
                                              barrier, out)) for w in range(writers)]
    for proc in procs:
        proc.start()
    results = [out.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join(60)
    with MemoryStore(path, embedder=object()) as store:
        stored = len(store)
    assert stored == len(trajectories), f"{stored} stored of {len(trajectories)}"
    wall = max(r[1] for r in results) - min(r[0] for r in results)
    times = [t for r in results for t in r[2]]
    p50, p99 = np.percentile(times, [50, 99])
    return {"writers": writers, "writes": len(trajectories), "per_s": len(trajectories) / wall,
            "p50": p50, "p99": p99}


# -- the run ---------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000", help="stored trajectories, comma-separated")
    parser.add_argument("--queries", type=int, default=200, help="held-out queries timed per size")
    parser.add_argument("--embed-queries", type=int, default=30, help="queries whose embedding is timed")
    parser.add_argument("--writes", type=int, default=400, help="trajectories added in all, per writer count")
    parser.add_argument("-k", type=int, default=3, help="hits per search (the store's default)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    console = Console(width=150)
    load_before = os.getloadavg()[0]

    from agents.embed import shared_embedder

    started = time.perf_counter()
    embedder = shared_embedder()
    embedder.encode(["warm up"])
    console.print(f"embedder {embedder.name} ({embedder.dim} dims) loaded in {time.perf_counter() - started:.1f} s")

    rng, table = random.Random(0), phrasings()
    stored = [make_trajectory(rng, draw_intent(rng, table), i) for i in range(max(sizes))]
    writes = [make_trajectory(rng, draw_intent(rng, table), i) for i in range(args.writes)]
    query_rng = random.Random(1)
    queries = [(d[3]["intent"], d[1]) for d in (draw_intent(query_rng, table) for _ in range(args.queries))]
    started = time.perf_counter()
    trajectories = [Trajectory.parse(t) for t in stored]
    keys = [goal_key(t.intent) for t in trajectories]
    pool = list(dict.fromkeys(keys + [goal_key(t["intent"]) for t in writes]))
    console.print(f"{len(stored):,} trajectories ({len(set(t.intent for t in trajectories)):,} distinct intents, "
                  f"{len(pool):,} distinct goal keys) generated and parsed in {time.perf_counter() - started:.1f} s")
    import torch

    configured = torch.get_num_threads()
    torch.set_num_threads(1)                # setup, not measured: one thread is the faster on 2 shared cores
    started = time.perf_counter()
    pool_vectors = embedder.encode(pool)
    console.print(f"{len(pool):,} goal keys embedded in batches of 64 (1 torch thread) in "
                  f"{time.perf_counter() - started:.1f} s ({len(pool) / (time.perf_counter() - started):,.0f}/s)")
    torch.set_num_threads(configured)
    row = {key: i for i, key in enumerate(pool)}
    vectors = pool_vectors[[row[key] for key in keys]]
    query_keys = [goal_key(q) for q, _ in queries]

    results: dict = {"sizes": {}, "embedding": {}, "writes": []}
    for threads in dict.fromkeys((configured, 1)):
        times = time_query_embedding(embedder, query_keys[:args.embed_queries], threads)
        results["embedding"][threads] = dict(zip(("p50", "p99"), np.percentile(times, [50, 99])), n=len(times))
    embedder.encode(query_keys)                              # every query's vector cached for the searches
    query_vectors = embedder.encode(query_keys)

    with tempfile.TemporaryDirectory(prefix="podium-bench-memory-") as tmp, \
            progress_bar(console, unit="queries", transient=True) as progress:
        for size in sizes:
            store = MemoryStore(Path(tmp) / f"memory-{size}.db", embedder=embedder)
            started = time.perf_counter()
            store.add_many(trajectories[:size], vectors=vectors[:size])
            loaded = time.perf_counter() - started
            matrix = np.ascontiguousarray(vectors[:size])
            apps = np.array([t.app for t in trajectories[:size]])
            masks = {app: apps == app for app in set(apps)}
            for query, _ in queries:      # back in goal_key's cache, which the bulk load pushed them out of
                goal_key(query)
            task = progress.add_task(f"search at {size:,}", total=len(queries))
            times, agree = measure_search(store, queries, matrix, masks, query_vectors, args.k, 10, progress, task)
            results["sizes"][size] = {"add_many_per_s": size / loaded, "agree": agree,
                                      "cases": {name: dict(zip(("p50", "p99"), np.percentile(t, [50, 99])))
                                                for name, t in times.items()}}
            store.close()
            progress.remove_task(task)
        pool_file = str(Path(tmp) / "pool")
        np.save(pool_file + ".npy", pool_vectors)
        Path(pool_file + ".json").write_text(json.dumps(pool))
        for writers in (1, 4):
            results["writes"].append(measure_writes(Path(tmp), pool_file, embedder.name, writes, writers))

    report(console, results, args, configured, (load_before, os.getloadavg()[0]))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=float))


def report(console: Console, results: dict, args, threads: int, load: tuple[float, float]) -> None:
    import sqlite3

    import sentence_transformers
    import torch

    table = Table(title=f"MemoryStore.search, k={args.k}, {args.queries} queries per size (query vector cached; "
                        "ratio: to the numpy peer with the same filter)")
    for column in ("stored", "case", "p50", "p99", "ratio p50", "ratio p99"):
        table.add_column(column, justify="right")
    for size, figures in results["sizes"].items():
        cases = figures["cases"]
        for name, f in cases.items():
            peer = cases["numpy peer + app" if name.endswith("+ app") else "numpy peer"]
            table.add_row(f"{size:,}", name, ms(f["p50"]), ms(f["p99"]), f"{f['p50'] / peer['p50']:.2f}",
                          f"{f['p99'] / peer['p99']:.2f}", end_section=name == list(cases)[-1])
    console.print(table)
    for size, figures in results["sizes"].items():
        console.print(f"{size:,} stored: add_many {figures['add_many_per_s']:,.0f} rows/s; best semantic hit "
                      f"has the peer's best score for {figures['agree']:.0%} of queries")
    embedding = Table(title="query embedding (one goal key through all-MiniLM-L6-v2, uncached)")
    for column in ("torch threads", "queries", "p50", "p99"):
        embedding.add_column(column, justify="right")
    for n, f in results["embedding"].items():
        embedding.add_row(f"{n}{' (as the embedder sets it)' if n == threads else ''}", str(f["n"]),
                          ms(f["p50"]), ms(f["p99"]))
    console.print(embedding)
    writes = Table(title="add(), one durable commit each, writer processes on one file")
    for column in ("writers", "writes", "writes/s", "p50 per add", "p99 per add"):
        writes.add_column(column, justify="right")
    for f in results["writes"]:
        writes.add_row(str(f["writers"]), str(f["writes"]), f"{f['per_s']:,.0f}", ms(f["p50"]), ms(f["p99"]))
    console.print(writes)
    if 10_000 in results["sizes"]:
        cases, goal = results["sizes"][10_000]["cases"], GOAL_MS / 1000
        verdicts = [f"{name} {ms(f['p50'])} / {ms(f['p99'])} " + ("[green]met[/]" if f["p99"] < goal else
                                                                  "[yellow]met at p50[/]" if f["p50"] < goal else
                                                                  "[red]not met[/]")
                    for name, f in cases.items() if not name.startswith("numpy")]
        console.print(f"goal, search under {GOAL_MS:.0f} ms at 10,000 trajectories (p50 / p99): " + "; ".join(verdicts))
    console.print(f"machine: {platform.machine()}, {os.cpu_count()} cores (load average {load[0]:.1f} before, "
                  f"{load[1]:.1f} after), Python {platform.python_version()}, numpy {np.__version__}, SQLite "
                  f"{sqlite3.sqlite_version}, torch {torch.__version__}, sentence-transformers "
                  f"{sentence_transformers.__version__}")


def ms(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f} µs" if seconds < 1e-3 else f"{seconds * 1e3:,.2f} ms"


if __name__ == "__main__":
    main()
