"""A run's files: logs that a resume does not duplicate, compact checkpoints, policy snapshots
that `podium play` takes, Humanoid-v4, and the short preset."""
from __future__ import annotations

import csv
import json
import pickle
import shutil
import warnings

import numpy as np
import pytest
import torch
from rich.console import Console
from safetensors import safe_open

from agents.symphony.core import UPDATE_STATS, SymphonyConfig, exploration_share
from agents.symphony.policy import BEST_POLICY, LATEST_POLICY, load_policy, read_snapshot_meta
from agents.symphony.train import Trainer

QUICK = dict(hidden=16, batch=16, updates_per_step=1, exploration_steps=200, exploration_repeats=5,
             max_episode_steps=200, eval_every=200, eval_episodes=2, a_max=2.0)


def trainer(run_dir, **overrides) -> Trainer:
    return Trainer(SymphonyConfig(**{**QUICK, **overrides}), "Pendulum-v1", run_dir, log_every=20,
                   console=Console(quiet=True))


def rows(path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def steps_of(run_dir, name: str) -> list[int]:
    return [int(r["env_steps"]) for r in rows(run_dir / name)]


def tensorboard_steps(run_dir) -> dict[str, list[int]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir / "tb"), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [e.step for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def raw_tensorboard_steps(run_dir) -> dict[str, list[int]]:
    """Every scalar point in every event file, as written (EventAccumulator hides purged ones)."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    out: dict[str, list[int]] = {}
    for path in sorted((run_dir / "tb").glob("events.out.tfevents.*")):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                out.setdefault(value.tag, []).append(event.step)
    return out


def train_to(run_dir, steps: int, resume: bool = False) -> Trainer:
    t = trainer(run_dir)
    if resume:
        assert t.resume()
    t.run(steps)
    t.close()
    return t


def test_update_stats_are_the_loss_terms_averaged_over_the_stride():
    from agents.symphony.core import Symphony

    agent = Symphony(3, 1, SymphonyConfig(hidden=16, batch=8, capacity=32))
    rng = np.random.default_rng(0)
    for _ in range(32):
        agent.buffer.add(rng.standard_normal(3), rng.standard_normal(1), 1.0, rng.standard_normal(3), 0.99)
    losses, emas = [], []
    for _ in range(3):
        agent.update()
        losses.append(agent.last_loss.item())
        emas.append(agent.ema.item())
    stats = agent.take_update_stats()
    assert stats["updates_averaged"] == 3 and set(UPDATE_STATS) <= stats.keys()
    assert stats["loss"] == pytest.approx(np.mean(losses), rel=1e-5)
    assert stats["ema"] == pytest.approx(np.mean(emas), rel=1e-5)
    assert stats["critic_loss"] + stats["actor_loss"] + stats["swaddle"] == pytest.approx(stats["loss"], rel=1e-4)
    assert 0 < stats["sigma"] < 1 and 0 < stats["beta"] < 1
    assert agent.take_update_stats() is None  # the sums were reset


def test_logs_hold_every_step_once_after_a_resume_even_past_the_checkpoint(tmp_path, one_thread):
    """Train to 400, keep that checkpoint, go on to 600 (logging past it), then crash back to the
    400 checkpoint and resume to 800: every log equals the uninterrupted run's, each step once."""
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    train_to(whole, 800)
    train_to(broken, 400)
    saved = tmp_path / "saved"
    saved.mkdir()
    for path in broken.glob("checkpoint-*"):
        shutil.copy(path, saved / path.name)
    shutil.copy(broken / "latest.json", saved / "latest.json")
    train_to(broken, 600, resume=True)  # logs 401..600, then "crashes"
    for path in broken.glob("checkpoint-*"):
        path.unlink()
    for path in saved.iterdir():
        shutil.copy(path, broken / path.name)
    train_to(broken, 800, resume=True)
    for name in ("progress.csv", "updates.csv", "episodes.csv"):
        steps = steps_of(broken, name)
        assert steps == sorted(set(steps)) and steps[-1] == 800, name  # strictly increasing, no repeat
    assert steps_of(broken, "progress.csv") == [200, 400, 600, 800]
    assert steps_of(broken, "episodes.csv") == [200, 400, 600, 800]
    assert len(steps_of(broken, "updates.csv")) == (800 - 200) // 20
    for name in ("updates.csv", "episodes.csv"):  # the same figures as the run never interrupted
        assert rows(broken / name) == rows(whole / name), name
    strip = lambda rs: [{k: r[k] for k in ("env_steps", "eval_return", "eval_length", "train_return")} for r in rs]
    assert strip(rows(broken / "progress.csv")) == strip(rows(whole / "progress.csv"))
    for reader in (tensorboard_steps, raw_tensorboard_steps):
        tb = reader(broken)
        assert {"eval/return", "train/episode_return", "train/episode_length", "update/critic_loss",
                "update/actor_loss", "update/swaddle", "update/ema", "update/sigma", "update/beta"} <= tb.keys()
        for tag, steps in tb.items():
            assert steps == sorted(set(steps)), (reader.__name__, tag)  # each step once
        assert tb["update/critic_loss"] == steps_of(broken, "updates.csv")
        assert tb["eval/return"] == [200, 400, 600, 800]
    assert tensorboard_steps(broken) == tensorboard_steps(whole)


def test_checkpoints_store_the_tiled_exploration_rows_once_and_restore_the_buffer_exactly(tmp_path, one_thread):
    t = trainer(tmp_path / "r", exploration_repeats=50)  # capacity 10,000 from 200 rows
    t.run(450)
    path = t.checkpoint()
    buffer = t.agent.buffer
    with safe_open(f"{path}.safetensors", framework="pt") as f:
        stored = {k: f.get_slice(k).get_shape() for k in f.keys() if k.startswith("buffer.")}
    assert stored["buffer.obs.tiled"][0] == 200  # each exploration row once, not 50 times
    assert stored["buffer.obs.written"][0] == 250  # and the rows written since: 450 of 10,000 slots
    restored = trainer(tmp_path / "r", exploration_repeats=50)
    assert restored.resume()
    other = restored.agent.buffer
    for name, tensor in buffer.fields().items():
        assert torch.equal(tensor, other.fields()[name]), name
    assert np.array_equal(buffer.terminal, other.terminal) and np.array_equal(buffer.written, other.written)
    assert (buffer.size, buffer.head, buffer.tile_period) == (other.size, other.head, other.tile_period)
    assert int(other.head_tensor) == buffer.head
    t.close()
    restored.close()


def test_checkpoints_and_snapshots_load_without_pickle(tmp_path, monkeypatch, one_thread):
    t = trainer(tmp_path / "r")
    t.run(400)
    t.close()

    def refuse(*_args, **_kwargs):
        raise AssertionError("nothing may be unpickled")
    for module, name in ((torch, "load"), (pickle, "load"), (pickle, "loads"), (pickle, "Unpickler")):
        monkeypatch.setattr(module, name, refuse)
    assert trainer(tmp_path / "r").resume()
    load_policy(tmp_path / "r")
    load_policy(tmp_path / "r" / BEST_POLICY)


def test_every_evaluation_snapshots_the_policy_and_the_best_is_kept(tmp_path, one_thread):
    run = tmp_path / "r"
    t = trainer(run)
    t.run(600)
    evals = [(int(r["env_steps"]), float(r["eval_return"])) for r in rows(run / "progress.csv")]
    latest, best = read_snapshot_meta(run / LATEST_POLICY), read_snapshot_meta(run / BEST_POLICY)
    assert len(evals) == 3 and latest["env_steps"] == 600 and latest["eval_return"] == evals[-1][1]
    assert (best["env_steps"], best["eval_return"]) == max(evals, key=lambda e: e[1])
    assert best["env_id"] == "Pendulum-v1" and best["config"]["hidden"] == 16
    with safe_open(str(run / LATEST_POLICY), framework="pt") as f:
        keys = list(f.keys())
    assert keys and all(k.startswith("actor.") for k in keys)  # no critic, optimiser or buffer
    assert (run / LATEST_POLICY).stat().st_size < 20_000
    obs = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    expected = t.agent.act_batch(obs)
    checkpoint = run / f"{json.loads((run / 'latest.json').read_text())['checkpoint']}.json"
    for source in (run / LATEST_POLICY, run, checkpoint):  # a snapshot, a run's latest checkpoint, a checkpoint
        policy, meta = load_policy(source)
        assert meta["env_id"] == "Pendulum-v1"
        np.testing.assert_array_equal(policy.act_batch(obs), expected)
    t.close()


def test_play_takes_a_policy_snapshot_a_checkpoint_or_a_run_directory(tmp_path, one_thread):
    from click.testing import CliRunner
    from PIL import Image

    from agents.symphony.cli import play

    run = tmp_path / "r"
    t = trainer(run)
    t.run(400)
    t.close()
    checkpoint = run / f"{json.loads((run / 'latest.json').read_text())['checkpoint']}.safetensors"
    runner = CliRunner()
    for i, args in enumerate(([str(run / BEST_POLICY)], [str(checkpoint)], [str(run), "--best"], [str(run)])):
        out = tmp_path / f"play{i}.gif"
        result = runner.invoke(play, [*args, "--out", str(out), "--steps", "3", "--size", "32"])
        assert result.exit_code == 0, result.output
        with Image.open(out) as image:
            assert image.n_frames == 4
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(play, [str(empty), "--best"])
    assert result.exit_code == 2 and "no best policy snapshot" in result.output


def test_humanoid_v4_trains_a_few_steps(tmp_path, one_thread):
    """v4 is registered by the installed gymnasium and runs on the mujoco bindings (no mujoco-py)."""
    config = SymphonyConfig(hidden=16, batch=8, exploration_steps=20, exploration_repeats=2, eval_every=30,
                            eval_episodes=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # gymnasium: "Humanoid-v4 is out of date"
        t = Trainer(config, "Humanoid-v4", tmp_path / "h4", console=Console(quiet=True))
        assert t.env.spec.id == "Humanoid-v4" and t.env.observation_space.shape == (376,)
        summary = t.run(30)
    t.close()
    assert summary["env_steps"] == 30 and summary["updates"] == 30 and np.isfinite(summary["eval_return"])


def test_the_short_preset_scales_s3_budget_settings_to_a_tenth():
    short, s3 = SymphonyConfig.variant("short"), SymphonyConfig.variant("S3")
    assert (short.hidden, short.batch, short.exploration_steps, short.exploration_repeats) == (128, 96, 1_024, 50)
    assert short.buffer_capacity == 51_200 == s3.buffer_capacity // 10
    assert short.batch == 3 * short.hidden // 4  # batch = N value nodes, as in S3 (384) and ED (288)
    assert (short.eval_every, short.eval_episodes) == (1_000, 10)
    assert short.updates_per_step == s3.updates_per_step and short.lr == s3.lr
    for steps in (10_000, 24_000, 52_224):  # the same fading at a tenth of the steps
        assert exploration_share(short, steps // 10) == pytest.approx(exploration_share(s3, steps), abs=2e-3)
    assert exploration_share(s3, 100_000) == pytest.approx(0.765, abs=1e-3)  # S3 cut at 100k: mostly exploration
    assert exploration_share(short, 100_000) == 0.0


def test_exploration_share_matches_sampling_from_the_ring():
    from agents.symphony.core import FadingReplayBuffer

    torch.manual_seed(0)
    config = SymphonyConfig(exploration_steps=100, exploration_repeats=10)
    for written in (0, 300, 700, 950):
        buffer = FadingReplayBuffer(1, 1, config.buffer_capacity, "cpu")
        for _ in range(100):
            buffer.add(np.ones(1), np.zeros(1), 0.0, np.zeros(1), 0.99)  # obs 1: exploration
        buffer.fill_by_tiling(10)
        for _ in range(written):
            buffer.add(np.zeros(1), np.zeros(1), 0.0, np.zeros(1), 0.99)
        sampled = buffer.obs[buffer.sample_indices(200_000)][:, 0].mean().item()
        assert sampled == pytest.approx(exploration_share(config, 100 + written), abs=0.005)


def test_cli_trains_the_short_preset(tmp_path, one_thread):
    from click.testing import CliRunner

    from agents.symphony.cli import train

    result = CliRunner().invoke(train, ["symphony", "--env", "Pendulum-v1", "--variant", "short", "--steps", "2",
                                        "--set", "a_max=2", "--log-every", "50", "--run-dir", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "s" / "config.json").read_text())
    assert (config["hidden"], config["batch"], config["capacity"], config["eval_every"]) == (128, 96, 51_200, 1_000)


def test_a_row_cut_short_by_a_kill_is_left_out_and_dropped_on_resume(tmp_path):
    """A process killed while writing a CSV row leaves a line without its newline: readers leave
    it out, and `keep` (a resume) rewrites the file without it."""
    from agents.runs import ProgressLog

    log = ProgressLog(tmp_path, ("env_steps", "eval_return"))
    log.append({"env_steps": 1000, "eval_return": 1.5})
    log.append({"env_steps": 2000, "eval_return": 2.5})
    with open(log.path, "a") as f:
        f.write("3000,3.")  # the kill: half a row
    assert [r["env_steps"] for r in log.rows()] == ["1000", "2000"]
    log.keep(lambda row: int(row["env_steps"]) <= 5000)
    assert log.path.read_text().splitlines() == ["env_steps,eval_return", "1000,1.5", "2000,2.5"]
    log.append({"env_steps": 3000, "eval_return": 3.5})
    assert [r["eval_return"] for r in log.rows()] == ["1.5", "2.5", "3.5"]
