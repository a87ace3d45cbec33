"""`podium train symphony|sac|td3`, `podium plot`, `podium play` (entry-point commands)."""
from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import click
from rich.console import Console

from control.extras import needs_extra

console = Console()
# Nothing heavy at import time: every `podium` command (daemons too) loads this module as a plugin,
# so torch and the algorithm are imported inside the commands that need them.


def _overrides(pairs: tuple[str, ...]) -> dict:
    """--set key=value pairs, typed by the SymphonyConfig field they name."""
    from agents.symphony.core import SymphonyConfig

    types = {f.name: f.type for f in fields(SymphonyConfig)}
    out = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or key not in types:
            raise click.BadParameter(f"{pair!r}: expected key=value with key one of {', '.join(types)}",
                                     param_hint="--set")
        type_name = types[key].removesuffix(" | None")  # capacity: None means derived
        kind = {"int": int, "float": float, "str": str}[type_name]
        try:
            out[key] = kind(float(text)) if kind is int else kind(text)
        except ValueError:
            raise click.BadParameter(f"{key} must be a {type_name}, got {text!r}", param_hint="--set") from None
    return out


def _run_dir(run_dir: str | None, algo: str, env: str, seed: int) -> Path:
    return Path(run_dir) if run_dir else Path("runs") / f"{algo}-{env}-s{seed}"


env_option = click.option("--env", "env_id", default="Humanoid-v5", show_default=True, help="Gymnasium env id.")
steps_option = click.option("--steps", default=1_000_000, show_default=True, type=click.IntRange(1),
                            help="Env steps, exploration included.")
service_option = click.option("--service", help="Train through the bus on this env daemon (needs 2 envs or "
                              "more: index 0 trains, the others evaluate; Symphony runs its evaluation "
                              "episodes on all of them at once, the SB3 baselines on index 1).")
hub_option = click.option("--hub", envvar="PODIUM_HUB", help="Hub address (with --service).")
run_dir_option = click.option("--run-dir", type=click.Path(file_okay=False),
                              help="Where logs and checkpoints go [default: runs/ALGO-ENV-sSEED].")
seed_option = click.option("--seed", default=0, show_default=True)


def run_options(command):
    """The options every `podium train` command shares: env, steps, bus, run directory, seed."""
    for option in reversed((env_option, steps_option, service_option, hub_option, run_dir_option,
                            seed_option)):
        command = option(command)
    return command


@needs_extra("rl", "torch", "gymnasium")
@click.group()
def train() -> None:
    """Train an agent (Symphony, or the SB3 baselines for side-by-side curves)."""


@train.command("symphony")
@run_options
@click.option("--variant", default="S3", show_default=True, type=click.Choice(["S3", "S2", "ED", "short"]),
              help="The paper's S3, S2 or ED, or short: S3 scaled for ~100,000-step CPU runs (docs/symphony.md).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a setting, e.g. --set hidden=256 --set eval_episodes=10.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1, ...")
@click.option("--compile", "compile_loss", is_flag=True, help="torch.compile the loss (then CUDA graph on GPU).")
@click.option("--checkpoint-every", default=25_000, show_default=True, type=click.IntRange(1))
@click.option("--log-every", default=100, show_default=True, type=click.IntRange(1),
              help="Updates averaged into one row of updates.csv (losses, EMA, sigma, beta).")
@click.option("--resume", is_flag=True, help="Continue from the run directory's latest checkpoint.")
def train_symphony(env_id, steps, service, hub, run_dir, seed, variant, overrides, device, compile_loss,
                   checkpoint_every, log_every, resume) -> None:
    """Train Symphony (env in-process, or through the bus with --service)."""
    from agents.symphony.core import SymphonyConfig
    from agents.symphony.train import Trainer

    settings = _overrides(overrides)
    if "seed" in settings:  # --set seed=N is the seed; with a different --seed it is ambiguous
        source = click.get_current_context().get_parameter_source("seed")
        if source not in (None, click.core.ParameterSource.DEFAULT) and settings["seed"] != seed:
            raise click.UsageError(f"--seed {seed} and --set seed={settings['seed']} disagree: give the seed once")
        seed = settings["seed"]
    settings["seed"] = seed
    try:
        config = SymphonyConfig.variant(variant, **settings)
        directory = _run_dir(run_dir, "symphony", env_id, seed)
        trainer = Trainer(config, env_id, directory, device=device, service=service, hub=hub,
                          checkpoint_every=checkpoint_every, compile=compile_loss, log_every=log_every,
                          console=console)
    except ValueError as exc:  # SymphonyConfigError: settings that cannot train (capacity, ...)
        raise click.UsageError(str(exc)) from None
    try:
        if resume and not trainer.resume():
            raise click.UsageError(f"--resume: {directory} has no checkpoint")
    except ValueError as exc:  # the run was trained with other settings or on another env
        raise click.UsageError(str(exc)) from None
    if not resume and (directory / "latest.json").exists():
        raise click.UsageError(f"{directory} already holds a run: pass --resume, or another --run-dir")
    (directory / "config.json").write_text(json.dumps({"algo": "symphony", "env_id": env_id,
                                                       **config.to_dict()}, indent=2))
    try:
        summary = trainer.run(steps)
    finally:
        trainer.close()
    console.print(f"done: {summary}; curve: {directory / 'learning_curve.png'}")


def _baseline_command(algo: str) -> None:
    """`podium train sac` and `podium train td3`: one command shape, two algorithms."""
    @train.command(algo, help=f"Train stable-baselines3 {algo.upper()} with the same env, bus, logs "
                              "and evaluation as Symphony.")
    @run_options
    @click.option("--eval-every", default=2_500, show_default=True)
    @click.option("--eval-episodes", default=25, show_default=True)
    def command(**kwargs) -> None:
        _train_sb3(algo, **kwargs)


for _algo in ("sac", "td3"):
    _baseline_command(_algo)


def _train_sb3(algo: str, env_id, steps, service, hub, run_dir, seed, eval_every, eval_episodes) -> None:
    from agents.symphony.baselines import train_baseline

    directory = _run_dir(run_dir, algo, env_id, seed)
    summary = train_baseline(algo, env_id, steps, directory, service=service, hub=hub, seed=seed,
                             eval_every=eval_every, eval_episodes=eval_episodes, console=console)
    console.print(f"done: {summary}; curve: {directory / 'learning_curve.png'}")


@needs_extra("rl", "matplotlib")
@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--out", type=click.Path(dir_okay=False), help="PNG path [default: RUN_DIR/learning_curve.png].")
def plot(run_dirs: tuple[str, ...], out: str | None) -> None:
    """Plot eval return against env steps; several RUN_DIRS share one figure."""
    from agents.symphony.train import plot_runs

    path = plot_runs([Path(d) for d in run_dirs], Path(out) if out else None)
    if path is None:
        raise click.UsageError("no progress.csv with rows in the given run directories yet")
    console.print(f"wrote {path}")


@needs_extra("rl", "torch", "imageio")
@click.command()
@click.argument("source", metavar="RUN_DIR|FILE", type=click.Path(exists=True))
@click.option("--best", is_flag=True, help="With a run directory: its best policy snapshot, not the latest "
              "checkpoint.")
@click.option("--out", type=click.Path(dir_okay=False), help="GIF or MP4 [default: play.gif beside the source].")
@click.option("--steps", default=1_000, show_default=True, type=click.IntRange(1))
@click.option("--size", default=240, show_default=True, type=click.IntRange(32, 2048), help="Frame height and width.")
def play(source: str, best: bool, out: str | None, steps: int, size: int) -> None:
    """Render a trained policy (noiseless) to a GIF or MP4, offscreen.

    RUN_DIR|FILE: a run directory (its latest checkpoint; --best: policy-best.safetensors), a full
    checkpoint (checkpoint-*.safetensors) or a policy snapshot (policy*.safetensors)."""
    from agents.symphony.play import render_policy

    where = Path(source)
    default_out = (where if where.is_dir() else where.parent) / "play.gif"
    try:
        path = render_policy(where, Path(out) if out else default_out, steps, size, best=best)
    except (FileNotFoundError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    console.print(f"wrote {path}")
