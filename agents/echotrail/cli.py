"""`podium memory`: the EchoTrail memory service as a daemon, and its store on the command line.

    podium memory --db memory.db --name memory:0          # the daemon (kind `memory` under podium up)
    podium memory --db memory.db list --app Clock          # or --service memory:0 [--hub ADDR]: through the bus
    podium memory --db memory.db search "Set an alarm for 7:30" -k 5
    podium memory --db memory.db explore --phones 2        # explore phone simulators, store what passes

Nothing heavy is imported until a command runs.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from control.bus.options import bind_option, key_options, make_daemon
from control.extras import MissingExtra, require
from control.terminal import errors, fail

console = Console()


@dataclass(frozen=True)
class Where:
    """The store the subcommands work on: a file, or a memory service on a hub."""

    db: str | None
    service: str | None
    hub: str | None
    keys: Any = None   # FleetKeys for a secured fleet (--keys/--hub-key, or PODIUM_KEYS...)


@click.group(invoke_without_command=True)
@click.option("--db", type=click.Path(dir_okay=False), help="The store (an SQLite file).")
@click.option("--service", metavar="NAME", help="Subcommands: use the memory service of this name on --hub "
                                                "instead of --db.")
@click.option("--name", default="memory:0", show_default=True, help="The daemon's service name in the hub.")
@click.option("--hub", envvar="PODIUM_HUB", help="The hub (default tcp://127.0.0.1:5770; env PODIUM_HUB).")
@bind_option
@key_options(serves=False)
@click.option("--allow", "serve_allow", type=click.Path(exists=True, file_okay=False), envvar="PODIUM_ALLOW",
              help="Serving: directory of client public keys allowed to call (env PODIUM_ALLOW).")
@click.pass_context
def memory(ctx: click.Context, db: str | None, service: str | None, name: str, hub: str | None, bind: str,
           serve_allow: str | None, keys) -> None:
    """EchoTrail's trajectory store. Without a subcommand: serve --db on the bus as NAME."""
    ctx.obj = Where(db, service, hub, keys)
    if ctx.invoked_subcommand is not None:
        return
    if service or not db:
        raise click.UsageError("the memory daemon serves a file: give --db PATH (and no --service), "
                               "or a subcommand (see --help)")
    if keys is not None:  # serving: the allow-list is needed too (clients need only the pair)
        from dataclasses import replace

        from control.errors import PodiumError

        keys = replace(keys, allow=Path(serve_allow) if serve_allow else None)
        try:
            keys.server_curve()
        except PodiumError as exc:
            fail(str(exc))
    _serve(db, name, hub, bind, keys)


def _serve(db: str, name: str, hub: str | None, bind: str, keys) -> None:
    from agents.echotrail.service import MemoryService
    from agents.echotrail.store import MemoryStore
    from control.bus.hub import DEFAULT_HUB
    from control.errors import PodiumError

    try:
        store = MemoryStore(db)
        store.embedder.encode(["warm up"])   # load the model before registering, not in the first call
    except PodiumError as exc:
        fail(str(exc))
    daemon = make_daemon(MemoryService(store), name, "memory", hub_endpoint=hub or DEFAULT_HUB, bind=bind,
                         keys=keys, capabilities={"db": str(Path(db).resolve()), "embedder": store.embedder.name})
    try:
        daemon.run()
    finally:
        store.close()


def _needs(extra: str, *modules: str, what: str = "`podium memory`") -> None:
    try:
        require(extra, *modules, what=what)
    except MissingExtra as exc:
        fail(str(exc))


@contextlib.contextmanager
def _failing() -> Iterator[None]:
    """Store, trajectory, bus and file errors as one line each (`error: ...`, exit status 1)."""
    import sqlite3

    from control.errors import PodiumError, RemoteError

    try:
        yield
    except KeyError as exc:                    # a missing id: its message, unquoted
        fail(str(exc) if isinstance(exc, RemoteError) else str(exc.args[0]))
    except (PodiumError, ValueError, sqlite3.DatabaseError) as exc:   # StoreError, TrajectoryError among them
        fail(str(exc))
    except OSError as exc:
        fail(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))


@contextlib.contextmanager
def _opened(where: Where, *, create: bool = False) -> Iterator[Any]:
    """The store to work on (a MemoryStore or a RemoteMemory), closed at the end; errors in the
    block become one line (see _failing). A file that does not exist is an error unless `create`
    (a command that only adds may start a store)."""
    with _failing():
        if where.service:
            from agents.echotrail.service import RemoteMemory

            store: Any = RemoteMemory(where.service, hub=where.hub, keys=where.keys)
        elif not where.db:
            raise click.UsageError("give --db PATH (a store file) or --service NAME (a memory service on --hub) "
                                   "before the subcommand")
        elif not create and not Path(where.db).exists():
            fail(f"no memory store at {where.db}: the file does not exist")
        else:
            from agents.echotrail.store import MemoryStore

            store = MemoryStore(where.db)
        try:
            yield store
        finally:
            store.close()


def _table(title: str, *columns: str, right: tuple[str, ...] = ()):
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="right" if column in right else "left", overflow="fold")
    return table


def _row(table, *cells: Any) -> None:
    """Cells as plain text: a trajectory's words are never read as rich markup."""
    table.add_row(*(Text("–" if cell is None else str(cell)) for cell in cells))


def _score(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


@memory.command("list")
@click.option("--app", help="Only trajectories in this app.")
@click.option("--provenance", type=click.Choice(["explored", "task"]), help="Only those found this way.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--offset", default=0, show_default=True, type=click.IntRange(0))
@click.pass_obj
def list_command(where: Where, app: str | None, provenance: str | None, limit: int, offset: int) -> None:
    """Table of stored trajectories, oldest first."""
    with _opened(where) as store:
        rows = store.list(app=app, provenance=provenance, limit=limit, offset=offset)
        total = len(store)
    table = _table(f"{len(rows)} of {total} trajectories", "id", "intent", "app", "outcome", "total", "provenance",
                   "steps", right=("id", "total", "steps"))
    for id_, t in rows:
        _row(table, id_, t.intent, t.app, t.outcome, f"{t.scores.total:.2f}", t.provenance, len(t.steps))
    console.print(table)


@memory.command("show")
@click.argument("trajectory_id", metavar="ID", type=int)
@click.pass_obj
def show(where: Where, trajectory_id: int) -> None:
    """One trajectory: its intent, app, scores and every step."""
    import datetime as dt

    with _opened(where) as store:
        t = store.get(trajectory_id)
    s = t.scores
    header = [("intent", t.intent), ("app", t.app or "?"),
              ("outcome", t.outcome + (f": {t.answer}" if t.answer is not None else "")),
              ("scores", f"total {s.total:.2f} (completion {s.completion:.2f}, coherence {s.coherence:.2f}, "
                         f"efficiency {s.efficiency:.2f})"),
              ("provenance", t.provenance + (f" ({t.source})" if t.source else "")),
              ("created", dt.datetime.fromtimestamp(t.created).isoformat(timespec="seconds"))]
    for label, value in header:
        console.print(Text.assemble((f"{label:>10}  ", "bold"), value))
    table = _table(f"trajectory {trajectory_id}: {len(t.steps)} steps", "#", "screen", "action", "target", "text",
                   "effect", right=("#",))
    for number, step in enumerate(t.steps, 1):
        text = f"{step.text} [{step.slot}]" if step.slot and step.text else step.text
        _row(table, number, step.screen, step.action, step.target, text, step.effect)
    console.print(table)


@memory.command("search")
@click.argument("query")
@click.option("--app", help="Only trajectories in this app.")
@click.option("-k", "k", default=3, show_default=True, type=click.IntRange(1, 100), help="How many at most.")
@click.option("--mode", default="hybrid", show_default=True, type=click.Choice(["hybrid", "semantic", "lexical"]))
@click.option("--floor", default=0.55, show_default=True, type=float, help="The least cosine similarity.")
@click.option("--lexical-floor", default=0.5, show_default=True, type=float,
              help="The least share of the query's words in an intent.")
@click.pass_obj
def search(where: Where, query: str, app: str | None, k: int, mode: str, floor: float, lexical_floor: float) -> None:
    """The trajectories that best match QUERY (a goal, in words)."""
    if not query.strip():
        raise click.BadParameter("the query is empty", param_hint="QUERY")
    with _opened(where) as store:
        hits = store.search(query, app=app, k=k, mode=mode, floor=floor, lexical_floor=lexical_floor)
    if not hits:
        console.print(Text(f"nothing clears the floor for {query!r} ({mode})"))
        return
    table = _table(f"{len(hits)} best for {query!r} ({mode})", "rank", "id", "intent", "app", "fused", "semantic",
                   "lexical", right=("rank", "id", "fused", "semantic", "lexical"))
    for rank, hit in enumerate(hits, 1):
        _row(table, rank, hit.id, hit.trajectory.intent, hit.trajectory.app, f"{hit.score:.4f}",
             _score(hit.semantic), _score(hit.lexical))
    console.print(table)


@memory.command("prune")
@click.option("--below", type=click.FloatRange(0, 1), help="Delete those whose total score is below this.")
@click.option("--older-than-days", type=click.FloatRange(0), help="Delete those stored longer ago than this.")
@click.option("--keep-per-intent", type=click.IntRange(0), help="Keep only the N best of each intent.")
@click.pass_obj
def prune(where: Where, below: float | None, older_than_days: float | None, keep_per_intent: int | None) -> None:
    """Delete trajectories by score, age or number per intent; print how many went."""
    if below is None and older_than_days is None and keep_per_intent is None:
        raise click.UsageError("say what to prune: --below, --older-than-days and/or --keep-per-intent")
    with _opened(where) as store:
        gone = store.prune(below=below, older_than_days=older_than_days, keep_per_intent=keep_per_intent)
        left = len(store)
    console.print(f"pruned {gone} trajectories ({left} left)")


@memory.command("export")
@click.argument("file", type=click.Path(dir_okay=False))
@click.pass_obj
def export(where: Where, file: str) -> None:
    """Write every trajectory to FILE, one JSON object a line (embeddings are recomputed on import)."""
    from agents.echotrail.store import export_jsonl

    with _opened(where) as store:
        count = export_jsonl(store, file)
    console.print(f"exported {count} trajectories to {file}")


@memory.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
@click.pass_obj
def import_command(where: Where, file: str) -> None:
    """Add every valid line of FILE (a JSONL export). Bad lines are reported by number and skipped;
    the exit status is 1 if there were any."""
    from agents.echotrail.store import import_jsonl

    with _opened(where, create=True) as store:
        before = len(store)
        added, problems = import_jsonl(store, file)
        new = len(store) - before
    for problem in problems:
        errors.print(Text(problem), highlight=False)
    console.print(f"added {added} trajectories from {file} ({new} new, {added - new} already stored)"
                  + (f"; {len(problems)} bad lines skipped" if problems else ""))
    if problems:
        raise SystemExit(1)


@memory.command("stats")
@click.pass_obj
def stats(where: Where) -> None:
    """How many trajectories, by provenance and app; the schema and the embedder."""
    with _opened(where) as store:
        info = store.stats()
    vectors = ", ".join(f"{count} by {name}" for name, count in sorted(info.get("embedders", {}).items()))
    console.print(Text(f"{info['path']}: {info['trajectories']} trajectories, schema {info['schema']}"
                       + (f"; vectors: {vectors}" if vectors else "")
                       + (f"; searching with {info['embedder']}" if info.get("embedder") else "")))
    table = _table("by provenance and app", "provenance", "app", "count", right=("count",))
    for provenance, apps in sorted(info["by_provenance"].items()):
        for app, count in sorted(apps.items()):
            _row(table, provenance, app, count)
    console.print(table)


@memory.command("explore")
@click.option("--phones", default=1, show_default=True, type=click.IntRange(1, 16),
              help="Phone simulators to start and explore in parallel.")
@click.option("--device", "devices", multiple=True, help="Explore this phone daemon on --hub instead (repeatable).")
@click.option("--curiosity-steps", default=120, show_default=True, type=click.IntRange(0), help="Per phone.")
@click.option("--goals", default=10, show_default=True, type=click.IntRange(0),
              help="Self-proposed goals pursued per phone.")
@click.option("--max-steps", default=15, show_default=True, type=click.IntRange(1), help="Per goal.")
@click.option("--seed", default=0, show_default=True)
@click.pass_obj
def explore(where: Where, phones: int, devices: tuple[str, ...], curiosity_steps: int, goals: int, max_steps: int,
            seed: int) -> None:
    """Explore phones with no labels (curiosity, then goals proposed from what it met), pursue each
    goal with the offline agent and store what the critic accepts (provenance `explored`)."""
    _needs("gui", "PIL", "httpx", "jinja2", "matplotlib", what="`podium memory explore`")
    if not devices:
        _needs("phone-sim", "PIL", "starlette", "uvicorn", "lxml", what="`podium memory explore` (without --device)")
    from agents.echotrail.explorer import explore_phones
    from agents.echotrail.memory import EchoTrail
    from agents.gui.backends import make_backend
    from agents.gui.evaluate import EvalConfig, phone_daemons
    from control.bus.hub import DEFAULT_HUB

    config = EvalConfig(daemons=phones, hub=(where.hub or DEFAULT_HUB) if devices else None, devices=list(devices))
    with _opened(where, create=True) as store:
        with phone_daemons(config, console) as (hub, names):
            with console.status(f"exploring {len(names)} phones..."):
                pursued, failures = explore_phones(hub, names, make_backend("offline"), EchoTrail(store),
                                                   curiosity_steps=curiosity_steps, goals=goals,
                                                   max_steps=max_steps, seed=seed)
        total = len(store)
    table = _table(f"{len(pursued)} goals pursued on {len(names)} phones", "phone", "goal", "status", "steps",
                   "critic", "stored", right=("steps", "stored"))
    for phone, goal in pursued:
        _row(table, phone, goal["goal"], goal["status"], goal["steps"], "accepted" if goal["accepted"] else "rejected",
             goal["id"])
    console.print(table)
    stored = sum(1 for _, g in pursued if g["id"] is not None)
    console.print(f"{sum(1 for _, g in pursued if g['accepted'])} passed the critic, {stored} stored; "
                  f"the store holds {total} trajectories")
    for phone, problem in failures:
        errors.print(Text(f"error: exploring {phone} failed: {problem}"), highlight=False)
    if failures:
        raise SystemExit(1)


