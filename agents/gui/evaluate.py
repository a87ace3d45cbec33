"""`podium eval gui`: the GUI agent on the phone task suite (or a task file), through the bus.

Each phone is a `podium sim phone` daemon: started here (K of them, on a hub in this process) or
already running under `podium up` (`--hub` and `--device`). One worker thread per phone takes the
next (task, seed), sets it up with the daemon's harness (`setup_task` / `setup_custom`), runs the
agent through a RemotePhone, and reads success with `task_status`. The agent itself only ever
sees the PhoneDevice interface.

The run folder gets every episode (agents.gui.episodes), report.json, report.md, a bar plot of
success per difficulty and per template, and progress.csv (one row per episode).
"""
from __future__ import annotations

import datetime as dt
import fnmatch
import json
import platform
import queue
import re
import subprocess
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt
from rich.console import Console

from agents.gui.agent import AgentConfig, GuiAgent
from agents.gui.backends import Backend, Memory, make_backend
from agents.gui.episodes import EpisodeRecorder
from agents.gui.prompts import PROMPT_VERSION
from agents.runs import ProgressLog, atomic_write, plot_bars
from control.errors import PodiumError, RemoteError
from control.progress import progress_bar

DIFFICULTIES = ("easy", "medium", "hard")
EPISODE_FIELDS = ("episode", "phase", "template", "difficulty", "seed", "success", "status", "steps", "optimal",
                  "seconds", "device", "memories", "critic")


class EvalError(PodiumError):
    """The evaluation cannot start or a phone daemon failed; the message says which."""


class EvalConfig(BaseModel):
    """Everything one evaluation depends on (recorded in report.json)."""

    model_config = ConfigDict(extra="forbid")

    suite: Literal["phone"] = "phone"
    backend: Literal["offline", "openai", "transformers"] = "offline"
    backend_options: dict[str, Any] = Field(default_factory=dict)
    tasks_file: str | None = None
    only: list[str] = Field(default_factory=list)     # template name patterns (fnmatch)
    seeds: PositiveInt = 1
    daemons: PositiveInt = 2
    max_steps: PositiveInt = 25
    history_screens: int = Field(1, ge=0)
    call_timeout: float = Field(60.0, gt=0)   # seconds a phone daemon may take to answer one call
    compress_history: bool = True
    hub: str | None = None                 # use daemons already on this hub ...
    devices: list[str] = Field(default_factory=list)   # ... by these names
    run_dir: str = "runs/eval-gui"


@dataclass(frozen=True)
class Job:
    index: int
    seed: int
    template: str | None = None            # a suite template, or
    spec: dict[str, Any] | None = None     # a task file's entry
    phrasing: int | None = None            # which of the template's goal phrasings (None: drawn from the seed)
    attempt: int = 0                       # the same instance again (an exploring backend tries it anew)

    @property
    def name(self) -> str:
        return self.template or str(self.spec["template"])


class MemorySource:
    """Where an evaluation gets memories for an episode and gives finished episodes back
    (agents.echotrail.memory.EchoTrail implements it; this default has none)."""

    write = False

    def recall(self, goal: str) -> list[Memory]:
        return []

    @staticmethod
    def prompt(memories: list[Memory]) -> str:
        return ""

    def remember(self, goal: str, result: Any, **how: Any) -> dict[str, Any] | None:
        return None


def suite_templates(hub: str, daemon: str) -> list[str]:
    """The task templates a phone daemon's harness offers."""
    from control.bus.hub import connect

    with connect(daemon, hub, timeout=30) as harness:
        return [t["name"] for t in harness.call("tasks")]


def jobs(config: EvalConfig, templates: list[str]) -> list[Job]:
    """(task, seed) pairs in a stable order: every task of the suite (or file) for every seed."""
    if config.tasks_file:
        from sims.phone.tasks import TaskError, load_task_file  # checks the file before anything starts

        try:
            specs = load_task_file(config.tasks_file)
        except TaskError as exc:
            raise EvalError(str(exc)) from None
        pairs = [(None, spec) for spec in specs]
    else:
        pairs = [(name, None) for name in chosen_templates(config, templates)]
    return [Job(i, seed, name, spec) for i, (seed, (name, spec)) in
            enumerate((seed, pair) for seed in range(config.seeds) for pair in pairs)]


def chosen_templates(config: EvalConfig, templates: list[str]) -> list[str]:
    """The templates `config.only` picks (all without it); a pattern that matches none is an error."""
    for pattern in config.only:
        if not fnmatch.filter(templates, pattern):
            raise EvalError(f"no template matches {pattern!r}; there are {len(templates)}, "
                            f"e.g. {', '.join(templates[:5])}")
    return [t for t in templates if not config.only or any(fnmatch.fnmatch(t, p) for p in config.only)]


@contextmanager
def phone_daemons(config: EvalConfig, console: Console) -> Iterator[tuple[str, list[str]]]:
    """(hub endpoint, daemon names): the given ones, or K fresh `podium sim phone` daemons."""
    from control.bus.hub import Hub, HubClient, wait_for_service
    from control.fleet.kinds import podium_command

    if config.hub:
        if not config.devices:
            raise EvalError("--hub needs at least one --device (the phone daemons' names)")
        yield config.hub, list(config.devices)
        return
    with ExitStack() as stack:
        hub = stack.enter_context(Hub("tcp://127.0.0.1:*"))
        names = [f"sim:phone-eval-{i}" for i in range(config.daemons)]
        procs = [subprocess.Popen(podium_command("sim", "phone", "--name", name, "--hub", hub.endpoint),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for name in names]
        stack.callback(_stop, procs)
        with HubClient(hub.endpoint) as hub_client, console.status(f"starting {len(names)} phone daemons..."):
            for name, proc in zip(names, procs):
                try:
                    wait_for_service(hub_client, name, timeout=90)
                except PodiumError:
                    raise EvalError(f"the phone daemon {name} did not start: "
                                    f"{_stderr(proc) or 'no output'}") from None
        yield hub.endpoint, names


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _stderr(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        return ""
    return proc.stderr.read().decode(errors="replace")[-800:] if proc.stderr else ""


class Evaluation:
    def __init__(self, config: EvalConfig, *, backend: Backend | None = None, memory: MemorySource | None = None,
                 console: Console | None = None) -> None:
        self.config = config
        self.console = console or Console()
        self.backend = backend or make_backend(config.backend, **config.backend_options)
        self.memory = memory or MemorySource()
        self.run_dir = Path(config.run_dir)
        self.lock = threading.Lock()           # guards results, the progress log, the memory
        self.model_lock = threading.Lock() if not self.backend.threadsafe else None
        self.results: list[dict[str, Any]] = []
        self.label = "evaluating"

    def run(self) -> dict[str, Any]:
        """Start (or find) the phones, run every job of the config, write and return the report."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        started = time.time()
        with phone_daemons(self.config, self.console) as (hub, names):
            todo = jobs(self.config, suite_templates(hub, names[0]))
            self.run_jobs(hub, names, todo)
        report = self.report(time.time() - started, started)
        self.write_report(report)
        if report["not_run"]:
            raise EvalError(f"every phone daemon failed with {report['not_run']} episodes left (the "
                            f"{len(self.results)} done are in {self.run_dir / 'report.json'}); "
                            f"first error: {self.errors[0]}")
        return report

    def run_jobs(self, hub: str, names: list[str], todo: list[Job], label: str = "evaluating") -> list[dict]:
        """Run `todo` on the phones `names` (one worker each); returns the rows of this batch."""
        self.log = ProgressLog(self.run_dir, EPISODE_FIELDS, name="progress.csv")
        work: queue.Queue[Job] = queue.Queue()
        for job in todo:
            work.put(job)
        self.errors: list[BaseException] = []
        self.pending = len(todo)
        self.label, first = label, len(self.results)
        with progress_bar(self.console, unit="episodes") as progress:
            bar = progress.add_task(label, total=len(todo))
            threads = [threading.Thread(target=self._worker, args=(hub, name, work, progress, bar, self.errors),
                                        name=f"eval-{name}", daemon=True) for name in names]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        self.not_run = self.pending
        return self.results[first:]

    # -- workers -----------------------------------------------------------------------------------
    def _worker(self, hub: str, name: str, work: queue.Queue, progress, bar, errors: list) -> None:
        from control.bus.hub import connect
        from control.phone import RemotePhone

        agent = GuiAgent(_Serialized(self.backend, self.model_lock) if self.model_lock else self.backend,
                         AgentConfig(max_steps=self.config.max_steps, history_screens=self.config.history_screens,
                                     compress_history=self.config.compress_history))
        job = None
        try:
            with connect(name, hub, timeout=self.config.call_timeout) as harness:
                phone = RemotePhone(name, hub=hub, timeout=self.config.call_timeout)
                try:
                    while self.pending:       # not just an empty queue: a failed phone may hand one back
                        try:
                            job = work.get(timeout=0.2)
                        except queue.Empty:
                            continue
                        row = self.episode(agent, phone, harness, job, name)
                        job = None
                        with self.lock:
                            self.pending -= 1
                            self.results.append(row)
                            self.log.append(row)
                            done = sum(r["success"] for r in self.results if r["phase"] == self.label)
                            seen = sum(1 for r in self.results if r["phase"] == self.label)
                            progress.update(bar, advance=1, description=f"{self.label} · success {done}/{seen} "
                                            f"({done / seen:.0%})")
                finally:
                    phone.close()
        except (PodiumError, RemoteError, OSError) as exc:
            errors.append(exc)
            if job is not None:
                work.put(job)     # the episode is not lost: another phone runs it from the start
            self.console.print(f"[red]phone daemon {name} failed[/]: {exc}; the other daemons go on")

    def episode(self, agent: GuiAgent, phone, harness, job: Job, device: str) -> dict[str, Any]:
        if job.spec is not None:
            task = harness.call("setup_custom", job.spec, job.seed)
        else:
            task = harness.call("setup_task", job.template, job.seed, job.phrasing)
        phase = "" if self.label == "evaluating" else re.sub(r"[^a-z0-9]+", "-", self.label.casefold()).strip("-") + "-"
        episode_id = f"{phase}{job.index:04d}-{task['name']}-s{job.seed}" + (f"-a{job.attempt}" if job.attempt else "")
        meta = {"id": episode_id, "phase": self.label, "goal": task["goal"], "template": task["name"],
                "difficulty": task["difficulty"], "kind": task["kind"], "seed": job.seed, "attempt": job.attempt,
                "optimal": task["optimal_steps"], "device": device, "backend": self.backend.name,
                "prompt_version": PROMPT_VERSION, "agent": agent.config.__dict__}
        recorder = EpisodeRecorder(self.run_dir / "episodes" / episode_id, meta)
        memories = self.memory.recall(task["goal"])
        if memories:
            recorder.judge(memories=[m.task for m in memories], memory_prompt=self.memory.prompt(memories))
        result = agent.run(phone, task["goal"], recorder=recorder, memories=memories)
        status = harness.call("task_status")
        verdict = self.memory.remember(task["goal"], result, provenance="task",
                                       source=f"{task['name']}/s{job.seed}") if self.memory.write else None
        recorder.judge(success=status["success"], critic=verdict)
        return {"episode": episode_id, "phase": self.label, "template": task["name"],
                "difficulty": task["difficulty"], "seed": job.seed, "success": bool(status["success"]),
                "status": result.status, "steps": result.actions, "optimal": task["optimal_steps"],
                "seconds": round(result.seconds, 2), "device": device, "memories": len(memories),
                "critic": None if verdict is None else verdict["accepted"]}

    # -- the report --------------------------------------------------------------------------------
    def report(self, seconds: float, started: float, rows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        rows = sorted(self.results if rows is None else rows, key=lambda r: r["episode"])
        return {"not_run": getattr(self, "not_run", 0), "suite": self.config.suite, "backend": self.backend.name,
                "prompt_version": PROMPT_VERSION, "config": self.config.model_dump(), "episodes": len(rows),
                "success_rate": _rate(rows), "by_difficulty": _groups(rows, "difficulty", DIFFICULTIES),
                "by_template": _groups(rows, "template"), "seconds": round(seconds, 1),
                "episodes_per_second": round(len(rows) / seconds, 3) if seconds else None,
                "started": dt.datetime.fromtimestamp(started, dt.UTC).isoformat(timespec="seconds"),
                "machine": f"{platform.node()} ({platform.machine()}, {platform.system()})", "results": rows}

    def write_report(self, report: dict[str, Any]) -> None:
        run = self.run_dir
        atomic_write(run / "report.json", lambda tmp: tmp.write_text(json.dumps(report, indent=1)))
        atomic_write(run / "report.md", lambda tmp: tmp.write_text(markdown(report)))
        plot_success(report, run / "success.png")


class _Serialized(Backend):
    """A backend that must not run twice at once (one model in memory), shared by the workers."""

    def __init__(self, backend: Backend, lock: threading.Lock) -> None:
        self.backend, self.lock, self.name = backend, lock, backend.name

    def reply(self, context, prompt):
        with self.lock:
            return self.backend.reply(context, prompt)


def _rate(rows: list[dict[str, Any]]) -> float:
    return round(sum(r["success"] for r in rows) / len(rows), 4) if rows else 0.0


def _groups(rows: list[dict[str, Any]], key: str, order: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    """Per group: episodes, success rate, and mean steps against optimal over the successes (a
    failure's step count says how long it flailed, not how efficient it was)."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[row[key]].append(row)
    names = [n for n in order if n in grouped] + sorted(n for n in grouped if n not in order)
    out = {}
    for name in names:
        group = grouped[name]
        wins = [r for r in group if r["success"]]
        out[name] = {"episodes": len(group), "successes": len(wins), "success_rate": _rate(group),
                     "mean_steps": round(sum(r["steps"] for r in wins) / len(wins), 2) if wins else None,
                     "mean_optimal": round(sum(r["optimal"] for r in wins) / len(wins), 2) if wins else None,
                     "difficulty": group[0]["difficulty"]}
    return out


def markdown(report: dict[str, Any]) -> str:
    """The report as markdown tables: per difficulty, then per template."""
    lines = [f"# GUI agent on the {report['suite']} suite: {report['backend']} backend", "",
             f"{report['episodes']} episodes, success {report['success_rate']:.0%}, prompt version "
             f"{report['prompt_version']}, {report['seconds']} s on {report['machine']} ({report['started']}).", ""]
    for title, key in (("difficulty", "by_difficulty"), ("template", "by_template")):
        lines += [f"| {title} | episodes | success | mean steps (successes) | optimal |", "|---|---:|---:|---:|---:|"]
        for name, row in report[key].items():
            steps = f"{row['mean_steps']:.1f}" if row["mean_steps"] is not None else "–"
            optimal = f"{row['mean_optimal']:.1f}" if row["mean_optimal"] is not None else "–"
            label = name if key == "by_difficulty" else f"{name} ({row['difficulty']})"
            lines.append(f"| {label} | {row['episodes']} | {row['success_rate']:.0%} | {steps} | {optimal} |")
        lines.append("")
    return "\n".join(lines)


def plot_success(report: dict[str, Any], out: Path) -> Path:
    by = report["by_difficulty"]
    return plot_bars(list(by), {report["backend"]: [row["success_rate"] for row in by.values()]}, out,
                     ylabel="success rate", title=f"{report['episodes']} episodes, {report['backend']} backend",
                     ymax=1)
