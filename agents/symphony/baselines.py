"""stable-baselines3 SAC/TD3 with the same env, bus, CSV/TensorBoard logs and evaluation as Symphony,
so their learning curves can share one plot (`podium plot runs/symphony-... runs/sac-...`)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console

from agents.symphony.train import make_env, plot_run, progress_log
from control.progress import progress_bar


def train_baseline(algo: str, env_id: str, steps: int, run_dir: Path, *, service: str | None = None,
                   hub: str | None = None, seed: int = 0, eval_every: int = 2_500,
                   eval_episodes: int = 25, max_episode_steps: int = 1_000,
                   console: Console | None = None, **algo_kwargs: Any) -> dict[str, Any]:
    from stable_baselines3 import SAC, TD3
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.evaluation import evaluate_policy

    console = console or Console()
    run_dir.mkdir(parents=True, exist_ok=True)
    env = make_env(env_id, service, hub, 0, max_episode_steps)
    eval_env = make_env(env_id, service, hub, 1, max_episode_steps)
    model_cls = {"sac": SAC, "td3": TD3}[algo]
    model = model_cls("MlpPolicy", env, seed=seed, tensorboard_log=str(run_dir / "tb"), **algo_kwargs)
    started = time.perf_counter()
    last: dict[str, Any] = {}

    class Progress(BaseCallback):
        """Evaluate every `eval_every` env steps into progress.csv, and drive the progress bar."""

        def _on_step(self) -> bool:
            steps_done = self.num_timesteps
            progress.update(task, completed=steps_done)
            if steps_done % eval_every == 0:
                mean, _ = evaluate_policy(self.model, eval_env, n_eval_episodes=eval_episodes)
                elapsed = time.perf_counter() - started
                row = {"env_steps": steps_done, "updates": self.model._n_updates, "episodes": None,
                       "eval_return": float(mean), "train_return": None,
                       "env_steps_per_s": steps_done / elapsed,
                       "updates_per_s": self.model._n_updates / elapsed, "wall_s": elapsed}
                progress_log(run_dir).append(row)
                last.update(row)
                progress.update(task, description=f"{algo}, eval return {mean:,.1f}")
            return True

    with progress_bar(console, unit="env steps") as progress:
        task = progress.add_task(algo, total=steps)
        model.learn(steps, callback=Progress())
    model.save(run_dir / f"{algo}_model")
    plot_run(run_dir)
    return {"env_steps": steps, "eval_return": last.get("eval_return"), "algo": algo}
