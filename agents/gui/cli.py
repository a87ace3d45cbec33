"""`podium eval gui` and `podium episodes show` (entry-point commands; nothing heavy at import)."""
from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from control.extras import needs_extra
from control.terminal import fail

console = Console()


@click.group("eval")
def eval_group() -> None:
    """Evaluate an agent on a task suite."""


@needs_extra("gui", "PIL", "httpx", "jinja2", "matplotlib")
@eval_group.command("gui")
@click.option("--suite", default="phone", show_default=True, type=click.Choice(["phone"]),
              help="The task suite (the phone simulator's).")
@click.option("--backend", default="offline", show_default=True,
              type=click.Choice(["offline", "openai", "transformers"]), help="The model behind the agent.")
@click.option("--model", help="openai: the model name the server knows; transformers: a local model folder.")
@click.option("--base-url", default="http://127.0.0.1:8000/v1", show_default=True,
              help="openai: the server's URL, up to /v1.")
@click.option("--api-key-env", default="OPENAI_API_KEY", show_default=True,
              help="openai: the environment variable holding the key (local servers need none).")
@click.option("--timeout", default=60.0, show_default=True, type=click.FloatRange(0.1),
              help="openai: seconds to wait for one reply.")
@click.option("--tasks", "tasks_file", type=click.Path(dir_okay=False, exists=True),
              help="A task file (TOML or JSON) instead of the whole suite.")
@click.option("--only", multiple=True, metavar="PATTERN", help="Templates to run, e.g. 'Clock*' (repeatable).")
@click.option("--seeds", default=1, show_default=True, type=click.IntRange(1), help="Seeds per task.")
@click.option("--daemons", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Phone daemons evaluated in parallel.")
@click.option("--max-steps", default=25, show_default=True, type=click.IntRange(1))
@click.option("--history-screens", default=1, show_default=True, type=click.IntRange(0),
              help="Screenshots of the last k steps in the model input (the current one included).")
@click.option("--no-compress", is_flag=True, help="Give the model every past screen instead of one-line anchors.")
@click.option("--hub", envvar="PODIUM_HUB", help="Use phone daemons already on this hub (with --device).")
@click.option("--device", "devices", multiple=True, help="A phone daemon's name on --hub (repeatable).")
@click.option("--run-dir", default="runs/eval-gui", show_default=True, type=click.Path(file_okay=False))
@click.option("--pages/--no-pages", default=True, show_default=True, help="Write the HTML episode pages.")
@click.option("--memory", type=click.Choice(["on", "off"]),
              help="EchoTrail on held-out tasks: on builds memory (exploration + training instances) and "
                   "compares with off on instances never stored; off runs the held-out baseline alone.")
@click.option("--ablations", is_flag=True, help="--memory on: also no critic, lexical only, semantic only.")
@click.option("--split-seed", default=0, show_default=True, help="--memory: the seed fixing the held-out split.")
@click.option("--memory-db", type=click.Path(dir_okay=False), help="--memory: the store (default RUN/memory.db).")
@click.option("--memory-service", metavar="NAME", help="--memory: use this memory service on the hub instead.")
@click.option("--curiosity-steps", default=150, show_default=True, type=click.IntRange(0),
              help="--memory on: the explorer's curiosity steps per phone.")
@click.option("--explore-goals", default=12, show_default=True, type=click.IntRange(0),
              help="--memory on: goals the explorer proposes and pursues per phone.")
def eval_gui(suite, backend, model, base_url, api_key_env, timeout, tasks_file, only, seeds, daemons, max_steps,
             history_screens, no_compress, hub, devices, run_dir, pages, memory, ablations, split_seed, memory_db,
             memory_service, curiosity_steps, explore_goals) -> None:
    """Run the GUI agent on the phone task suite through the bus and report success per difficulty."""
    from pydantic import ValidationError

    from agents.gui.backends import BackendError
    from agents.gui.episodes import write_pages
    from agents.gui.evaluate import EvalConfig, EvalError, Evaluation

    options: dict = {}
    if backend == "openai":
        options = {"base_url": base_url, "model": model or "default", "api_key_env": api_key_env, "timeout": timeout}
    elif backend == "transformers":
        if not model:
            fail("--backend transformers needs --model PATH (a local Qwen2-VL-family model folder)")
        options = {"model_path": model}
    try:
        config = EvalConfig(suite=suite, backend=backend, backend_options=options, tasks_file=tasks_file,
                            only=list(only), seeds=seeds, daemons=daemons, max_steps=max_steps,
                            history_screens=history_screens, compress_history=not no_compress, hub=hub,
                            devices=list(devices), run_dir=run_dir)
        if memory:
            from agents.echotrail.experiment import MemoryConfig, MemoryExperiment
            from agents.echotrail.store import StoreError

            settings = MemoryConfig(memory=memory, ablations=ablations, split_seed=split_seed, memory_db=memory_db,
                                    memory_service=memory_service, curiosity_steps=curiosity_steps,
                                    explore_goals=explore_goals)
            try:
                MemoryExperiment(config, settings, console=console).run()
            except StoreError as exc:
                fail(str(exc))
            index = write_pages(run_dir) if pages else None
            console.print(f"report: {Path(run_dir) / 'memory-report.md'}, plot: {Path(run_dir) / 'memory.png'}"
                          + (f", episodes: {index}" if index else ""))
            return
        report = Evaluation(config, console=console).run()
    except (ValidationError, EvalError, BackendError) as exc:
        fail(str(exc))
    _summary(report)
    index = write_pages(run_dir) if pages else None
    console.print(f"report: {Path(run_dir) / 'report.md'}, plot: {Path(run_dir) / 'success.png'}"
                  + (f", episodes: {index}" if index else ""))


def _summary(report: dict) -> None:
    from rich.table import Table

    table = Table(title=f"{report['backend']} backend: {report['episodes']} episodes, "
                        f"success {report['success_rate']:.0%}")
    for column in ("difficulty", "episodes", "success", "mean steps", "optimal"):
        table.add_column(column, justify="left" if column == "difficulty" else "right")
    for name, row in report["by_difficulty"].items():
        table.add_row(name, str(row["episodes"]), f"{row['success_rate']:.0%}",
                      "–" if row["mean_steps"] is None else f"{row['mean_steps']:.1f}",
                      "–" if row["mean_optimal"] is None else f"{row['mean_optimal']:.1f}")
    console.print(table)


@click.group()
def episodes() -> None:
    """Look at recorded GUI-agent episodes."""


@needs_extra("gui", "jinja2")
@episodes.command("show")
@click.argument("run", type=click.Path(file_okay=False, exists=True))
def episodes_show(run: str) -> None:
    """Write an HTML page per episode of RUN and an index page; print the index's path."""
    from agents.gui.episodes import EpisodeError, write_pages

    try:
        index = write_pages(run)
    except EpisodeError as exc:
        fail(str(exc))
    console.print(f"{index}")

