"""`podium eval gui --memory on|off`: EchoTrail measured on held-out tasks.

The split (fixed by `split_seed`, written into the report):
  - held-out templates: a share of the suite's templates, never stored in any form;
  - training instances: the other templates at seeds 0..train_seeds-1, in all phrasings but the
    last (a template with one phrasing keeps it);
  - evaluation instances: those templates at seeds 1000.., in their last phrasing (parameters and
    wording never stored), plus the held-out templates at the same seeds.

Memory is built without labels: the explorer (curiosity, then goals it proposes) on each phone, then
the training instances, each tried `train_attempts` times (the first greedily, the others with an
exploring backend), every episode judged by the critic and stored only over its threshold. The
simulator's success checks are read for training episodes only to measure the critic's precision
and recall; they never decide what is stored.

Conditions, all on the same evaluation instances: off (no memory), on (critic-filtered store,
hybrid retrieval), and with `ablations`: no critic (every finished episode stored), lexical only,
semantic only.
"""
from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console
from rich.table import Table

from agents.echotrail.explorer import explore_phones
from agents.echotrail.memory import EchoTrail
from agents.echotrail.store import MemoryStore
from agents.gui.backends import make_backend
from agents.gui.evaluate import (
    DIFFICULTIES,
    EvalConfig,
    EvalError,
    Evaluation,
    Job,
    MemorySource,
    _groups,
    _rate,
    chosen_templates,
    phone_daemons,
)
from agents.runs import atomic_write, plot_bars

EVAL_SEED = 1000


class MemoryConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    memory: str = "on"                         # on: build and compare with off; off: the baseline alone
    split_seed: int = 0
    holdout: float = Field(0.2, ge=0, lt=1)    # the share of templates kept out entirely
    train_seeds: int = Field(3, ge=1)
    train_attempts: int = Field(6, ge=1)     # tries per training instance until the critic accepts one
    explore: float = Field(0.35, ge=0, le=1)   # the exploring backend's chance of a runner-up move
    curiosity_steps: int = Field(150, ge=0)    # per phone
    explore_goals: int = Field(12, ge=0)       # per phone
    k: int = Field(3, ge=1)
    ablations: bool = False
    memory_db: str | None = None               # default RUN/memory.db
    memory_service: str | None = None          # use the memory service of this name on the hub instead


def split(templates: list[dict[str, Any]], seed: int, holdout: float) -> tuple[list[str], list[str]]:
    """(held-in, held-out) template names, fixed by seed, held-out spread over difficulties."""
    rng = random.Random(f"split/{seed}")
    held_out: list[str] = []
    for difficulty in DIFFICULTIES:
        names = sorted(t["name"] for t in templates if t["difficulty"] == difficulty)
        rng.shuffle(names)
        held_out += names[:round(len(names) * holdout)]
    held_in = sorted(t["name"] for t in templates if t["name"] not in held_out)
    return held_in, sorted(held_out)


def training_jobs(templates: dict[str, dict], held_in: list[str], seeds: int, attempts: int) -> list[list[Job]]:
    """One list per attempt: every held-in template at every training seed, phrasings but the last."""
    passes = []
    for attempt in range(attempts):
        jobs = []
        for seed in range(seeds):
            for name in held_in:
                phrasings = templates[name]["phrasings"]
                phrasing = seed % max(1, phrasings - 1)
                jobs.append(Job(len(jobs) + attempt * 10_000, seed, name, phrasing=phrasing, attempt=attempt))
        passes.append(jobs)
    return passes


def evaluation_jobs(templates: dict[str, dict], held_in: list[str], held_out: list[str], seeds: int) -> list[Job]:
    jobs = []
    for seed in range(EVAL_SEED, EVAL_SEED + seeds):
        for name in held_in + held_out:
            phrasings = templates[name]["phrasings"]
            jobs.append(Job(50_000 + len(jobs), seed, name, phrasing=phrasings - 1 if name in held_in else None))
    return jobs


class MemoryExperiment:
    def __init__(self, config: EvalConfig, memory: MemoryConfig, console: Console | None = None) -> None:
        self.config, self.memory, self.console = config, memory, console or Console()
        self.run_dir = Path(config.run_dir)
        self.backend = make_backend(config.backend, **config.backend_options)

    def run(self) -> dict[str, Any]:
        if self.config.tasks_file:
            raise EvalError("--memory splits the suite's templates into trained and held out: it takes --only "
                            "patterns, not a task file")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        started = time.time()
        with phone_daemons(self.config, self.console) as (hub, names):
            from control.bus.hub import connect

            with connect(names[0], hub, timeout=30) as harness:
                suite = {t["name"]: t for t in harness.call("tasks")}
            templates = {name: suite[name] for name in chosen_templates(self.config, list(suite))}
            held_in, held_out = split(list(templates.values()), self.memory.split_seed, self.memory.holdout)
            evaluation = evaluation_jobs(templates, held_in, held_out, self.config.seeds)
            stores = self._stores(hub) if self.memory.memory == "on" else {}   # off stores nothing
            built = {}
            if self.memory.memory == "on":
                built = self._build(hub, names, templates, held_in, stores)
            conditions = self._conditions(stores)
            results: dict[str, list[dict[str, Any]]] = {}
            for label, source in conditions.items():
                run = Evaluation(self.config, backend=self.backend, memory=source, console=self.console)
                results[label] = run.run_jobs(hub, names, evaluation, label=f"eval {label}")
        report = self.report(results, held_in, held_out, built, stores, time.time() - started)
        self.write(report)
        return report

    # -- building the memory ---------------------------------------------------------------------
    def _stores(self, hub: str) -> dict[str, Any]:
        if self.memory.memory_service:
            from agents.echotrail.service import RemoteMemory

            main: Any = RemoteMemory(self.memory.memory_service, hub=hub)
        else:
            main = MemoryStore(self.memory.memory_db or fresh_store_path(self.run_dir / "memory.db"))
        stores = {"main": main}
        if self.memory.ablations:
            stores["all"] = MemoryStore(fresh_store_path(self.run_dir / "memory-no-critic.db"))
        return stores

    def _build(self, hub: str, names: list[str], templates: dict, held_in: list[str],
               stores: dict[str, Any]) -> dict[str, Any]:
        echo = EchoTrail(stores["main"], k=self.memory.k, keep_all=stores.get("all"))
        explored = self._explore(hub, names, echo)
        rows: list[dict[str, Any]] = []
        solved: set[tuple[str, int]] = set()       # instances the critic accepted an attempt of
        for attempt, jobs in enumerate(training_jobs(templates, held_in, self.memory.train_seeds,
                                                      self.memory.train_attempts)):
            jobs = [j for j in jobs if (j.template, j.seed) not in solved]   # try again only what is unsolved
            if not jobs:
                break
            backend = self.backend if attempt == 0 else \
                make_backend(self.config.backend, **{**self.config.backend_options, **self._exploring(attempt)})
            run = Evaluation(self.config, backend=backend, memory=echo, console=self.console)
            batch = run.run_jobs(hub, names, jobs, label=f"train {attempt + 1}/{self.memory.train_attempts}")
            solved |= {(r["template"], r["seed"]) for r in batch if r["critic"]}
            rows += batch
        return {"explored": explored, "training": rows}

    def _exploring(self, attempt: int) -> dict[str, Any]:
        """Options that make the backend explore (the offline one has `explore`; models sample)."""
        if self.config.backend == "offline":
            return {"explore": self.memory.explore, "seed": attempt}
        return {}

    def _explore(self, hub: str, names: list[str], echo: EchoTrail) -> list[dict[str, Any]]:
        if not self.memory.curiosity_steps and not self.memory.explore_goals:
            return []
        with self.console.status(f"exploring on {len(names)} phones..."):
            pursued, failures = explore_phones(hub, names, self.backend, echo,
                                               curiosity_steps=self.memory.curiosity_steps,
                                               goals=self.memory.explore_goals,
                                               max_steps=min(15, self.config.max_steps),
                                               seed=self.memory.split_seed, timeout=self.config.call_timeout)
        for phone, problem in failures:
            self.console.print(f"[red]exploring {phone} failed[/]: {problem}; the memory is built without it")
        found = [goal for _, goal in pursued]
        accepted = sum(1 for g in found if g["accepted"])
        self.console.print(f"explored: {len(found)} self-proposed goals pursued, {accepted} passed the critic")
        return found

    def _conditions(self, stores: dict[str, Any]) -> dict[str, MemorySource]:
        k = self.memory.k
        if self.memory.memory == "off":
            return {"off": MemorySource()}
        conditions: dict[str, MemorySource] = {"off": MemorySource(),
                                               "on": EchoTrail(stores["main"], k=k, write=False)}
        if self.memory.ablations:
            conditions["no critic"] = EchoTrail(stores["all"], k=k, write=False)
            conditions["lexical only"] = EchoTrail(stores["main"], k=k, mode="lexical", write=False)
            conditions["semantic only"] = EchoTrail(stores["main"], k=k, mode="semantic", write=False)
        return conditions

    # -- the report -------------------------------------------------------------------------------
    def report(self, results: dict[str, list[dict]], held_in: list[str], held_out: list[str], built: dict,
               stores: dict[str, Any], seconds: float) -> dict[str, Any]:
        conditions = {}
        for label, rows in results.items():
            seen = [r for r in rows if r["template"] in held_in]
            unseen = [r for r in rows if r["template"] in held_out]
            conditions[label] = {
                "held_out_instances": _summary(seen), "held_out_templates": _summary(unseen),
                "all": _summary(rows), "by_difficulty": _groups(seen, "difficulty", DIFFICULTIES),
                "by_template": _groups(rows, "template")}
        training = built.get("training", [])
        judged = [r for r in training if r["critic"] is not None]
        tp = sum(1 for r in judged if r["critic"] and r["success"])
        fp = sum(1 for r in judged if r["critic"] and not r["success"])
        fn = sum(1 for r in judged if not r["critic"] and r["success"])
        critic = {"episodes": len(judged), "accepted": tp + fp, "true_positives": tp, "false_positives": fp,
                  "false_negatives": fn, "precision": round(tp / (tp + fp), 4) if tp + fp else None,
                  "recall": round(tp / (tp + fn), 4) if tp + fn else None}
        explored = built.get("explored", [])
        return {"memory": self.memory.model_dump(), "config": self.config.model_dump(), "backend": self.backend.name,
                "split": {"seed": self.memory.split_seed, "held_in_templates": held_in,
                          "held_out_templates": held_out, "training_seeds": list(range(self.memory.train_seeds)),
                          "evaluation_seeds": list(range(EVAL_SEED, EVAL_SEED + self.config.seeds))},
                "conditions": conditions, "critic": critic,
                "training": {"episodes": len(training), "success_rate": _rate(training)},
                "exploration": {"goals": len(explored), "accepted": sum(1 for g in explored if g["accepted"]),
                                "examples": explored[:20]},
                "stores": {name: store.stats() for name, store in stores.items()}, "seconds": round(seconds, 1)}

    def write(self, report: dict[str, Any]) -> None:
        atomic_write(self.run_dir / "memory-report.json", lambda tmp: tmp.write_text(json.dumps(report, indent=1)))
        atomic_write(self.run_dir / "memory-report.md", lambda tmp: tmp.write_text(markdown(report)))
        conditions = report["conditions"]
        groups = [d for d in DIFFICULTIES if any(d in c["by_difficulty"] for c in conditions.values())]
        series = {label: [c["by_difficulty"].get(d, {}).get("success_rate", 0) for d in groups] + \
                  [c["held_out_instances"]["success_rate"], c["held_out_templates"]["success_rate"]]
                  for label, c in conditions.items()}
        plot_bars([*groups, "held-out instances", "held-out templates"], series, self.run_dir / "memory.png",
                  ylabel="success rate", title="EchoTrail: memory on and off, held-out tasks", ymax=1)
        self.console.print(table(report))


def fresh_store_path(path: Path) -> Path:
    """A run's own store starts empty: a memory left by an earlier run would leak into this one's split."""
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    return path


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"episodes": len(rows), "success_rate": _rate(rows),
            "mean_steps": round(sum(r["steps"] for r in rows) / len(rows), 2) if rows else None,
            "mean_steps_successes": round(sum(r["steps"] for r in rows if r["success"]) /
                                          max(1, sum(r["success"] for r in rows)), 2) if rows else None}


def table(report: dict[str, Any]) -> Table:
    out = Table(title="EchoTrail on held-out tasks (success rate, mean steps)")
    for column in ("condition", "held-out instances", "steps", "held-out templates", "steps"):
        out.add_column(column, justify="left" if column == "condition" else "right")
    for label, c in report["conditions"].items():
        a, b = c["held_out_instances"], c["held_out_templates"]
        out.add_row(label, f"{a['success_rate']:.0%} of {a['episodes']}", f"{a['mean_steps'] or 0:.1f}",
                    f"{b['success_rate']:.0%} of {b['episodes']}", f"{b['mean_steps'] or 0:.1f}")
    critic = report["critic"]
    if critic["episodes"]:
        out.caption = (f"critic on {critic['episodes']} training episodes: precision {critic['precision']}, "
                       f"recall {critic['recall']}; stored {report['stores']['main']['trajectories']}")
    return out


def markdown(report: dict[str, Any]) -> str:
    split_ = report["split"]
    lines = [f"# EchoTrail: memory on vs off ({report['backend']} backend)", "",
             f"Split seed {split_['seed']}: {len(split_['held_in_templates'])} templates trained on (seeds "
             f"{split_['training_seeds']}), {len(split_['held_out_templates'])} held out "
             f"({', '.join(split_['held_out_templates'])}); evaluation seeds {split_['evaluation_seeds']}.", "",
             "| condition | held-out instances | mean steps | held-out templates | mean steps |",
             "|---|---:|---:|---:|---:|"]
    for label, c in report["conditions"].items():
        a, b = c["held_out_instances"], c["held_out_templates"]
        lines.append(f"| {label} | {a['success_rate']:.1%} ({a['episodes']}) | {a['mean_steps'] or 0:.2f} | "
                     f"{b['success_rate']:.1%} ({b['episodes']}) | {b['mean_steps'] or 0:.2f} |")
    lines += ["", "Held-out instances by difficulty:", "",
              "| condition | " + " | ".join(DIFFICULTIES) + " |", "|---|" + "---:|" * len(DIFFICULTIES)]
    for label, c in report["conditions"].items():
        cells = [f"{c['by_difficulty'][d]['success_rate']:.0%}" if d in c["by_difficulty"] else "–"
                 for d in DIFFICULTIES]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    critic = report["critic"]
    if critic["episodes"]:
        lines += ["", f"Critic on {critic['episodes']} training episodes (against the simulator's own checks): "
                      f"precision {critic['precision']}, recall {critic['recall']} ({critic['accepted']} accepted, "
                      f"{critic['false_positives']} of them failures). Exploration: {report['exploration']['goals']} "
                      f"self-proposed goals, {report['exploration']['accepted']} passed the critic."]
    return "\n".join(lines) + "\n"
