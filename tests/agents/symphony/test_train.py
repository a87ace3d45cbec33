"""Symphony training: it learns Pendulum on the CPU, and a SIGKILLed run resumes exactly."""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys

import pytest
import torch
from rich.console import Console
from safetensors.torch import load_file

from agents.symphony.core import Symphony, SymphonyConfig, SymphonyConfigError
from agents.symphony.train import Trainer
from tests.conftest import wait_until

# Small nets on a 2-core machine: one torch thread per training process is several times faster than
# two fighting over the cores (and over them with the env daemon and anything else running).
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}
SMALL = dict(hidden=64, batch=64, exploration_steps=1000, exploration_repeats=10, capacity=10_000,
             max_episode_steps=200, lr=1e-3, a_max=2.0)  # Pendulum's torque range is [-2, 2]


def test_short_cpu_run_on_pendulum_improves_clearly(tmp_path):
    torch.set_num_threads(1)
    config = SymphonyConfig(**SMALL, updates_per_step=2, eval_every=1000, eval_episodes=3, seed=0)
    trainer = Trainer(config, "Pendulum-v1", tmp_path / "run", console=Console(quiet=True))
    untrained = trainer.evaluate(5)
    trainer.run(5000)
    trained = trainer.evaluate(5)
    print(f"Symphony on Pendulum-v1: eval return {untrained:.0f} -> {trained:.0f} after 5,000 steps")
    assert trained > untrained + 500
    assert (tmp_path / "run" / "learning_curve.png").stat().st_size > 0
    rows = list(csv.DictReader(open(tmp_path / "run" / "progress.csv")))
    assert [int(r["env_steps"]) for r in rows] == [1000, 2000, 3000, 4000, 5000]


def train_cli(run_dir, steps: int, *extra: str) -> list[str]:
    settings = [f"--set={k}={v}" for k, v in {**SMALL, "updates_per_step": 1, "eval_every": 400,
                                             "eval_episodes": 1}.items()]
    return [sys.executable, "-m", "control.cli", "train", "symphony", "--env", "Pendulum-v1",
            "--steps", str(steps), "--run-dir", str(run_dir), "--checkpoint-every", "400",
            *settings, *extra]


def latest_step(run_dir) -> int:
    try:
        name = json.loads((run_dir / "latest.json").read_text())["checkpoint"]
    except (FileNotFoundError, ValueError):
        return 0
    return int(name.split("-")[1])


def test_resume_after_sigkill_repeats_the_uninterrupted_run(tmp_path):
    steps = 2400
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    subprocess.run(train_cli(whole, steps), check=True, capture_output=True, timeout=300, env=ONE_THREAD)
    proc = subprocess.Popen(train_cli(broken, steps), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=ONE_THREAD)
    wait_until(lambda: latest_step(broken) >= 1200 or proc.poll() is not None, timeout=300)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = latest_step(broken)
    assert 1200 <= killed_at < steps, "the kill must land between checkpoints, before the end"
    result = subprocess.run(train_cli(broken, steps, "--resume"), capture_output=True, text=True, timeout=300,
                            env=ONE_THREAD)
    assert result.returncode == 0, result.stderr
    assert f"at {killed_at:,} env steps" in " ".join(result.stdout.split())  # rich wraps lines
    a = load_file(str(whole / "checkpoint-000002400.safetensors"))
    b = load_file(str(broken / "checkpoint-000002400.safetensors"))
    assert a.keys() == b.keys()
    for key in a:  # networks, optimiser, EMA, replay buffer, RNG: bit for bit
        assert torch.equal(a[key], b[key]), key
    meta_a = json.loads((whole / "checkpoint-000002400.json").read_text())
    meta_b = json.loads((broken / "checkpoint-000002400.json").read_text())
    for key in ("updates", "buffer", "rng_numpy"):
        assert meta_a[key] == meta_b[key]
    assert {k: v for k, v in meta_a["counters"].items() if k != "wall_s"} == \
           {k: v for k, v in meta_b["counters"].items() if k != "wall_s"}
    curve = lambda d: [(r["env_steps"], r["eval_return"]) for r in csv.DictReader(open(d / "progress.csv"))]
    assert curve(whole) == curve(broken)  # the same curve, continued
    for name in ("updates.csv", "episodes.csv"):  # the same logs, each step once
        assert list(csv.DictReader(open(whole / name))) == list(csv.DictReader(open(broken / name))), name
    from tests.agents.symphony.test_runs import raw_tensorboard_steps

    logged = raw_tensorboard_steps(broken)
    assert logged == raw_tensorboard_steps(whole) and "update/critic_loss" in logged


def test_resume_with_other_settings_is_refused_by_name(tmp_path):
    config = SymphonyConfig(**SMALL, eval_every=1000, eval_episodes=1)
    Trainer(config, "Pendulum-v1", tmp_path / "r", console=Console(quiet=True)).checkpoint()
    other = SymphonyConfig(**{**SMALL, "hidden": 32}, eval_every=1000, eval_episodes=1)
    with pytest.raises(ValueError, match=r"hidden \(saved 64, now 32\)"):
        Trainer(other, "Pendulum-v1", tmp_path / "r", console=Console(quiet=True)).resume()


def test_cli_refuses_bad_settings_and_a_resume_without_checkpoint(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "control.cli", "train", "symphony", "--env",
                               "Pendulum-v1", "--run-dir", str(tmp_path / "r"), *args],
                              capture_output=True, text=True, timeout=120)
    bad_key = run("--set", "hiddn=3")
    assert bad_key.returncode == 2 and "'hiddn=3': expected key=value" in bad_key.stderr
    bad_value = run("--set", "lr=fast")
    assert bad_value.returncode == 2 and "lr must be a float" in bad_value.stderr
    no_checkpoint = run("--resume")
    assert no_checkpoint.returncode == 2 and "has no checkpoint" in no_checkpoint.stderr


def test_every_random_stream_comes_from_one_seed_sequence_per_run():
    from agents.symphony.train import RunSeeds

    a, again, b = RunSeeds(0), RunSeeds(0), RunSeeds(1)
    resets = {name: [s.train_reset(k) for k in range(100)] for name, s in (("a", a), ("again", again), ("b", b))}
    assert resets["a"] == resets["again"]  # reproducible from the seed
    assert not set(resets["a"]) & set(resets["b"])  # seeds 0 and 1 share no reset (not a shifted list)
    evals = [[s.eval_reset(k) for k in range(25)] for s in (a, b)]
    assert evals[0] != evals[1] and not set(evals[0]) & set(resets["a"])
    streams = [a.seed_of(n) for n in RunSeeds.STREAMS]
    assert len(set(streams)) == len(streams) and streams != [b.seed_of(n) for n in RunSeeds.STREAMS]
    assert a.numpy().random() == again.numpy().random() != b.numpy().random()


def recorded_run(tmp_path, seed: int) -> tuple[Trainer, dict[str, list[int]]]:
    """A short exploration-only run on Pendulum, with every env reset seed recorded."""
    config = SymphonyConfig(**{**SMALL, "hidden": 16}, eval_every=300, eval_episodes=2, seed=seed)
    trainer = Trainer(config, "Pendulum-v1", tmp_path / f"s{seed}", console=Console(quiet=True))
    seen: dict[str, list[int]] = {"train": [], "eval": []}
    for name, env in (("train", trainer.env), *(("eval", e) for e in trainer.eval_env.envs)):
        def reset(*, seed=None, options=None, _reset=env.reset, _name=name):
            seen[_name].append(seed)
            return _reset(seed=seed, options=options)
        env.reset = reset
    trainer.run(600)
    trainer.close()
    return trainer, seen


def test_training_and_evaluation_resets_and_noise_differ_between_seeds(tmp_path, one_thread):
    from agents.symphony.train import RunSeeds

    runs = {seed: recorded_run(tmp_path, seed) for seed in (0, 1)}
    for seed, (trainer, seen) in runs.items():
        seeds = RunSeeds(seed)
        assert seen["train"] == [seeds.train_reset(k) for k in range(4)]  # 3 episodes of 200, then a 4th
        assert seen["eval"] == [seeds.eval_reset(k) for k in (0, 1)] * 2  # the same starts at each eval
        assert trainer.agent.noise_generator.initial_seed() == seeds.seed_of("action_noise")
    (t0, s0), (t1, s1) = runs[0], runs[1]
    assert not set(s0["train"]) & set(s1["train"]) and not set(s0["eval"]) & set(s1["eval"])
    assert not torch.equal(t0.agent.params[0], t1.agent.params[0])
    assert not torch.equal(t0.agent.buffer.actions, t1.agent.buffer.actions)


def cli_args(run_dir, *extra: str) -> list[str]:
    settings = [f"--set={k}={v}" for k, v in {**SMALL, "hidden": 16, "eval_episodes": 1}.items()]
    where = ["--run-dir", str(run_dir)] if run_dir else []
    return ["symphony", "--env", "Pendulum-v1", "--steps", "1", *where, *settings, *extra]


def test_cli_seed_from_set_or_seed_and_a_capacity_that_cannot_fill_is_refused(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from agents.symphony.cli import train

    runner = CliRunner()
    for name, extra, expected in (("both", ("--seed", "3", "--set", "seed=3"), 3),
                                  ("set", ("--set", "seed=4"), 4), ("flag", ("--seed", "5"), 5)):
        result = runner.invoke(train, cli_args(tmp_path / name, *extra))
        assert result.exit_code == 0, result.output
        assert json.loads((tmp_path / name / "config.json").read_text())["seed"] == expected
    monkeypatch.chdir(tmp_path)  # the default run directory names that seed
    assert runner.invoke(train, cli_args(None, "--set", "seed=6")).exit_code == 0
    assert json.loads((tmp_path / "runs/symphony-Pendulum-v1-s6/config.json").read_text())["seed"] == 6
    clash = runner.invoke(train, cli_args(tmp_path / "clash", "--seed", "3", "--set", "seed=4"))
    assert clash.exit_code == 2 and "--seed 3 and --set seed=4 disagree" in clash.output
    too_big = runner.invoke(train, cli_args(tmp_path / "big", "--set", "capacity=20000"))
    assert too_big.exit_code == 2 and "capacity 20,000 differs" in too_big.output
    assert not (tmp_path / "big").exists()  # refused before the run started


def quick_config(**overrides) -> SymphonyConfig:
    return SymphonyConfig(**{"hidden": 16, "batch": 16, "updates_per_step": 1, "exploration_steps": 200,
                             "exploration_repeats": 5, "max_episode_steps": 200, "eval_every": 10_000,
                             "a_max": 2.0, **overrides})


def test_trainer_refuses_a_capacity_the_exploration_data_cannot_fill(tmp_path):
    with pytest.raises(SymphonyConfigError, match="capacity 2,000 differs"):
        Trainer(quick_config(capacity=2000), "Pendulum-v1", tmp_path / "r", console=Console(quiet=True))
    assert not (tmp_path / "r").exists()


def test_a_capture_failure_at_start_up_falls_back_to_eager_and_training_goes_on(tmp_path, monkeypatch,
                                                                                 one_thread):
    calls = []

    def capture(self):
        calls.append(1)
        raise RuntimeError("no graphs today")
    monkeypatch.setattr(Symphony, "_capture", capture)
    with pytest.warns(RuntimeWarning, match=r"failed at start-up.*run eagerly.*RuntimeError: no graphs today"):
        trainer = Trainer(quick_config(), "Pendulum-v1", tmp_path / "r", cuda_graph=True,
                          console=Console(quiet=True))
    summary = trainer.run(260)
    trainer.close()
    assert calls == [1]  # the smoke capture only: the run does not try again after exploration
    assert summary["mode"] == "eager" and summary["updates"] == 60


def test_a_capture_failure_after_exploration_falls_back_to_eager_too(tmp_path, monkeypatch, one_thread):
    calls = []

    def capture(self):  # the scratch capture at start-up works, the real one fails
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("out of graph memory")
        return self.update_eager
    monkeypatch.setattr(Symphony, "_capture", capture)
    trainer = Trainer(quick_config(), "Pendulum-v1", tmp_path / "r", cuda_graph=True, console=Console(quiet=True))
    with pytest.warns(RuntimeWarning, match="failed after exploration.*out of graph memory"):
        summary = trainer.run(260)
    trainer.close()
    assert calls == [1, 1] and summary["mode"] == "eager" and summary["updates"] == 60


def test_bus_training_baseline_plot_and_play_end_to_end(tmp_path):
    """Symphony through an env daemon, SB3 SAC beside it, one comparison plot, and a GIF."""
    from control.bus.daemon import Daemon
    from control.bus.hub import Hub, HubClient, wait_for_service
    from sims.mujoco.env_service import EnvService
    from tests.conftest import free_port

    hub_address = f"tcp://127.0.0.1:{free_port()}"
    sym, sac = tmp_path / "symphony", tmp_path / "sac"
    with Hub(hub_address), Daemon(EnvService("Pendulum-v1", 2, render_mode=None), "sim:pend", "sim",
                                  hub=hub_address):
        with HubClient(hub_address) as client:
            wait_for_service(client, "sim:pend")
        cmd = train_cli(sym, 1200, "--service", "sim:pend", "--hub", hub_address)
        assert subprocess.run(cmd, capture_output=True, timeout=300, env=ONE_THREAD).returncode == 0
    rows = list(csv.DictReader(open(sym / "progress.csv")))
    assert [int(r["env_steps"]) for r in rows] == [400, 800, 1200]
    podium = [sys.executable, "-m", "control.cli"]
    result = subprocess.run([*podium, "train", "sac", "--env", "Pendulum-v1", "--steps", "600",
                             "--eval-every", "300", "--eval-episodes", "1", "--run-dir", str(sac)],
                            capture_output=True, text=True, timeout=300, env=ONE_THREAD)
    assert result.returncode == 0, result.stderr
    assert [int(r["env_steps"]) for r in csv.DictReader(open(sac / "progress.csv"))] == [300, 600]
    out = tmp_path / "compare.png"
    assert subprocess.run([*podium, "plot", str(sym), str(sac), "--out", str(out)],
                          capture_output=True, timeout=120).returncode == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    gif = tmp_path / "play.gif"
    result = subprocess.run([*podium, "play", str(sym), "--out", str(gif), "--steps", "20"],
                            capture_output=True, text=True, timeout=120, env=ONE_THREAD)
    assert result.returncode == 0, result.stderr
    from PIL import Image
    with Image.open(gif) as image:
        assert image.n_frames == 21
