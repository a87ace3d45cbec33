"""Evaluation's share of Symphony's training-loop wall time: one run, one JSON line.

Method: build a Trainer, time every call of its evaluation method, run 3,000 env steps (evaluations
at 1,000, 2,000 and 3,000, 10 noiseless episodes each); share = time in evaluation / wall time of
`Trainer.run`. The peer is the code before the vector evaluation (commit 00fb97c, episodes one after
another, one forward per step), run from an exported tree through PYTHONPATH; runs interleave.

    git archive 00fb97c agents control sims devices | tar -x -C /tmp/podium-before
    OMP_NUM_THREADS=1 PYTHONPATH=/tmp/podium-before python bench/symphony_eval.py before Hopper-v5
    OMP_NUM_THREADS=1 PYTHONPATH=. python bench/symphony_eval.py after Hopper-v5
    OMP_NUM_THREADS=1 PYTHONPATH=. python bench/symphony_eval.py after-sync Hopper-v5 sync   # stock SyncVectorEnv
"""
from __future__ import annotations

import json
import sys
import tempfile
import time

import gymnasium as gym
import numpy as np
import torch
from rich.console import Console

import agents.symphony.train as train_module
from agents.symphony.core import SymphonyConfig
from agents.symphony.train import Trainer


def main(label: str, env_id: str, stock: bool = False) -> dict:
    torch.set_num_threads(1)
    extra = {"max_episode_steps": 200, "a_max": 2.0} if env_id.startswith("Pendulum") else {}
    config = SymphonyConfig(hidden=64, batch=64, exploration_steps=500, exploration_repeats=10,
                            eval_every=1000, eval_episodes=10, seed=0, **extra)
    spent = {"eval_s": 0.0, "evals": 0, "eval_env_steps": 0}
    vector = hasattr(Trainer, "evaluate_episodes")        # the code under test has the vector evaluation
    name = "evaluate_episodes" if vector else "evaluate"
    original = getattr(Trainer, name)

    def timed(self, *args, **kwargs):
        started = time.perf_counter()
        out = original(self, *args, **kwargs)
        spent["eval_s"] += time.perf_counter() - started
        spent["evals"] += 1
        if vector:
            spent["eval_env_steps"] += int(np.sum(out[1]))
        return out

    setattr(Trainer, name, timed)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(config, env_id, run_dir, console=Console(quiet=True))
        if stock:       # gymnasium's own SyncVectorEnv (next-step autoreset; finished sub-envs masked)
            trainer.eval_env.close()
            trainer.eval_env = gym.vector.SyncVectorEnv(
                [lambda: gym.make(env_id, max_episode_steps=config.max_episode_steps)] * config.eval_episodes)
        if not vector:
            env, step = trainer.eval_env, trainer.eval_env.step

            def counting(action):
                spent["eval_env_steps"] += 1
                return step(action)
            env.step = counting
        started = time.perf_counter()
        summary = trainer.run(3000)
        wall = time.perf_counter() - started
        trainer.close()
    return {"label": label, "env": env_id, "wall_s": round(wall, 2), "eval_s": round(spent["eval_s"], 2),
            "evals": spent["evals"], "eval_env_steps": spent["eval_env_steps"],
            "eval_share": round(spent["eval_s"] / wall, 4), "eval_return": round(summary["eval_return"], 3),
            "code": train_module.__file__}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], len(sys.argv) > 3 and sys.argv[3] == "sync")))
