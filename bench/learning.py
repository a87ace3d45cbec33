"""Symphony against stable-baselines3 SAC at the same env-step budget: learning curves, one plot.

Method: for each algorithm and seed, one `podium train` run in its own process (one torch thread,
two runs at a time on this 2-core machine), in process (no bus), the same gymnasium env and time
limit, evaluated every `--eval-every` env steps (exploration counted for both) with `--eval-episodes`
noiseless episodes. Symphony runs the documented `short` preset (agents/symphony/core.py). The report
gives, per algorithm, the mean and min-max band of the eval return over seeds at each point, the final
return (mean of each run's last three evaluations, over seeds) and Symphony's final return as a ratio
of SAC's. Finished runs are kept and skipped; an unfinished Symphony run resumes from its checkpoint,
an unfinished SAC run (SB3 has no resume here) starts again.

    python bench/learning.py run --env Hopper-v5 --steps 100000 --seeds 0,1,2      # ~90 min, 2 cores
    python bench/learning.py report --env Hopper-v5 --steps 100000 --out docs/hopper-symphony-vs-sac.png
"""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import click
import numpy as np
from rich.console import Console
from rich.table import Table

console = Console()
ALGOS = ("symphony", "sac")


def run_dir(root: Path, algo: str, seed: int) -> Path:
    return root / f"{algo}-s{seed}"


def eval_rows(directory: Path) -> list[tuple[int, float]]:
    path = directory / "progress.csv"
    if not path.exists():
        return []
    with path.open() as f:
        return [(int(r["env_steps"]), float(r["eval_return"])) for r in csv.DictReader(f) if r["eval_return"]]


def finished(directory: Path, steps: int) -> bool:
    rows = eval_rows(directory)
    return bool(rows) and rows[-1][0] >= steps


def command(algo: str, env_id: str, steps: int, seed: int, directory: Path, eval_every: int,
            eval_episodes: int) -> list[str]:
    base = [str(Path(sys.executable).with_name("podium")), "train", algo, "--env", env_id, "--steps", str(steps),
            "--seed", str(seed), "--run-dir", str(directory)]
    if algo == "sac":
        return base + ["--eval-every", str(eval_every), "--eval-episodes", str(eval_episodes)]
    resume = ["--resume"] if (directory / "latest.json").exists() else []
    return base + ["--variant", "short", "--set", f"eval_every={eval_every}",
                   "--set", f"eval_episodes={eval_episodes}", *resume]


@click.group()
def main() -> None:
    """Symphony against SAC: `run` the training jobs, then `report` the curves."""


def shared(fn):
    for option in reversed((
            click.option("--env", "env_id", default="Hopper-v5", show_default=True),
            click.option("--steps", default=100_000, show_default=True),
            click.option("--seeds", default="0,1,2", show_default=True, help="Comma-separated.",
                         callback=lambda _c, _p, value: [int(s) for s in value.split(",")]),
            click.option("--root", type=click.Path(file_okay=False), default=None,
                         help="[default: runs/learning-ENV]"))):
        fn = option(fn)
    return fn


def root_for(root: str | None, env_id: str) -> Path:
    return Path(root) if root else Path("runs") / f"learning-{env_id}"


@main.command()
@shared
@click.option("--eval-every", default=2_500, show_default=True)
@click.option("--eval-episodes", default=10, show_default=True)
@click.option("--parallel", default=2, show_default=True, help="Runs at a time (one torch thread each).")
def run(env_id, steps, seeds, root, eval_every, eval_episodes, parallel) -> None:
    """Train every (algorithm, seed) not yet finished, `--parallel` at a time."""
    base = root_for(root, env_id)
    base.mkdir(parents=True, exist_ok=True)
    # interleave the algorithms so a stopped session leaves both with the same number of seeds
    jobs = [(algo, seed) for seed in seeds for algo in ALGOS
            if not finished(run_dir(base, algo, seed), steps)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    running: list[tuple[str, int, subprocess.Popen, float]] = []
    while jobs or running:
        while jobs and len(running) < parallel:
            algo, seed = jobs.pop(0)
            directory = run_dir(base, algo, seed)
            if algo == "sac" and directory.exists():
                shutil.rmtree(directory)   # an unfinished SB3 run cannot resume: start it again
            directory.mkdir(parents=True, exist_ok=True)
            log = (base / f"{algo}-s{seed}.log").open("a")
            cmd = command(algo, env_id, steps, seed, directory, eval_every, eval_episodes)
            console.print(f"start {algo} seed {seed}: podium {' '.join(cmd[1:])}")
            running.append((algo, seed, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env),
                            time.monotonic()))
        time.sleep(5)
        for entry in list(running):
            algo, seed, process, started = entry
            if process.poll() is None:
                continue
            running.remove(entry)
            state = "done" if process.returncode == 0 else f"FAILED (exit {process.returncode})"
            console.print(f"{algo} seed {seed}: {state} after {(time.monotonic() - started) / 60:.1f} min")


def curves(base: Path, algo: str, seeds) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Env steps every run of `algo` reached, and eval returns (seeds x points), truncated alike."""
    runs = {seed: eval_rows(run_dir(base, algo, seed)) for seed in seeds}
    runs = {seed: rows for seed, rows in runs.items() if rows}
    if not runs:
        return np.zeros(0), np.zeros((0, 0)), []
    points = min(len(rows) for rows in runs.values())
    steps = np.array([s for s, _ in next(iter(runs.values()))[:points]])
    returns = np.array([[r for _, r in rows[:points]] for rows in runs.values()])
    return steps, returns, sorted(runs)


@main.command()
@shared
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="[default: ROOT/curves.png]")
def report(env_id, steps, seeds, root, out) -> None:
    """One plot (mean and min-max band over seeds) and a table of final returns."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    base = root_for(root, env_id)
    table = Table(title=f"{env_id}: eval return (mean of the last 3 evaluations of each run)")
    for column in ("algorithm", "seeds", "env steps", "final, mean over seeds", "per seed", "best point"):
        table.add_column(column)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    finals: dict[str, float] = {}
    for algo, colour in zip(ALGOS, ("tab:blue", "tab:orange")):
        x, y, used = curves(base, algo, seeds)
        if not used:
            continue
        mean = y.mean(axis=0)
        ax.plot(x, mean, color=colour, label=f"{algo} ({len(used)} seeds)")
        ax.fill_between(x, y.min(axis=0), y.max(axis=0), color=colour, alpha=0.2)
        per_seed = y[:, -3:].mean(axis=1)
        finals[algo] = float(per_seed.mean())
        table.add_row(algo, ",".join(map(str, used)), f"{int(x[-1]):,}", f"{finals[algo]:,.1f}",
                      " ".join(f"{v:,.0f}" for v in per_seed), f"{mean.max():,.1f}")
    if not finals:
        raise click.UsageError(f"no progress.csv with rows under {base}")
    ax.set_xlabel("env steps (exploration included)")
    ax.set_ylabel("mean eval return (noiseless)")
    ax.set_title(f"{env_id}: Symphony ('short' preset) vs SB3 SAC\nmean and min-max band over seeds", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    path = Path(out) if out else base / "curves.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    console.print(table)
    if len(finals) == 2:
        console.print(f"Symphony / SAC final return: {finals['symphony'] / finals['sac']:.2f}x")
    console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
