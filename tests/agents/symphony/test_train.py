"""Symphony training: it learns Pendulum on the CPU, and a SIGKILLed run resumes exactly."""
from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys

import pytest
import torch
from rich.console import Console
from safetensors.torch import load_file

from agents.symphony.core import SymphonyConfig
from agents.symphony.train import Trainer
from tests.conftest import wait_until

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
    subprocess.run(train_cli(whole, steps), check=True, capture_output=True, timeout=300)
    proc = subprocess.Popen(train_cli(broken, steps), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: latest_step(broken) >= 1200 or proc.poll() is not None, timeout=300)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = latest_step(broken)
    assert 1200 <= killed_at < steps, "the kill must land between checkpoints, before the end"
    result = subprocess.run(train_cli(broken, steps, "--resume"), capture_output=True, text=True, timeout=300)
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
        assert subprocess.run(cmd, capture_output=True, timeout=300).returncode == 0
    rows = list(csv.DictReader(open(sym / "progress.csv")))
    assert [int(r["env_steps"]) for r in rows] == [400, 800, 1200]
    podium = [sys.executable, "-m", "control.cli"]
    result = subprocess.run([*podium, "train", "sac", "--env", "Pendulum-v1", "--steps", "600",
                             "--eval-every", "300", "--eval-episodes", "1", "--run-dir", str(sac)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert [int(r["env_steps"]) for r in csv.DictReader(open(sac / "progress.csv"))] == [300, 600]
    out = tmp_path / "compare.png"
    assert subprocess.run([*podium, "plot", str(sym), str(sac), "--out", str(out)],
                          capture_output=True, timeout=120).returncode == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    gif = tmp_path / "play.gif"
    result = subprocess.run([*podium, "play", str(sym), "--out", str(gif), "--steps", "20"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    from PIL import Image
    with Image.open(gif) as image:
        assert image.n_frames == 21
