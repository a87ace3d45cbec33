"""Training Symphony: the env loop, evaluation, logs, plots and crash-safe checkpoints.

The env is in-process by default, or any env daemon through the bus (`service=`): the trainer only
sees a gymnasium env. Evaluation runs its episodes at once on a vector env, one batched forward per
step (evaluate.py). Checkpoints are taken at the first episode end after every `checkpoint_every`
env steps (so a resumed run repeats the uninterrupted one exactly), and on SIGINT/SIGTERM (then
mid-episode: the resumed run starts a fresh episode). They hold tensors in safetensors and
everything else in JSON: nothing is unpickled on load. Every evaluation also writes a policy-only
snapshot (policy.py), and the best one is kept.

Logs, all keyed by env steps (exploration counted): progress.csv (one row per evaluation),
updates.csv (the update's losses, EMA baseline, mean sigma and beta, averaged over every
`log_every` updates), episodes.csv (each training episode's length and return), and the same
scalars in TensorBoard (tb/, one writer per run). A resume first drops whatever the run logged
after its checkpoint, from the CSVs and from the event files, so no step is logged twice.
"""
from __future__ import annotations

import json
import logging
import signal
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from rich.console import Console
from rich.text import Text
from safetensors.torch import load_file, save_file

from agents.runs import ProgressLog, atomic_write, plot_curves
from agents.symphony.core import UPDATE_STATS, AccelerationError, Symphony, SymphonyConfig, probe_acceleration
from agents.symphony.evaluate import make_eval_envs, run_episodes
from agents.symphony.policy import BEST_POLICY, LATEST_POLICY, read_snapshot_meta, save_policy_snapshot
from control.progress import progress_bar

log = logging.getLogger(__name__)

CSV_FIELDS = ("env_steps", "updates", "episodes", "eval_return", "train_return", "env_steps_per_s",
              "updates_per_s", "wall_s", "eval_length", "eval_s")
UPDATE_FIELDS = ("env_steps", "updates", "updates_averaged", *UPDATE_STATS)
EPISODE_FIELDS = ("env_steps", "episode", "length", "return", "exploring")


def pick_device(name: str = "auto") -> torch.device:
    """'auto' = the GPU when torch sees one, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def make_env(env_id: str, service: str | None, hub: str | None, index: int, max_steps: int) -> gym.Env:
    """A local env, or env `index` of a daemon (RemoteEnv): the trainer cannot tell them apart."""
    if service is None:
        return gym.make(env_id, max_episode_steps=max_steps)
    from control.bus.hub import DEFAULT_HUB
    from control.gym.envs import RemoteEnv

    return RemoteEnv(service, index=index, hub=hub or DEFAULT_HUB, timeout=30.0)


class RunSeeds:
    """Every random stream of a run, spawned from one numpy SeedSequence of the run's seed.

    Children, in this order: torch (weights, replay sampling, the update's noise), numpy (the
    trainer's generator), training env resets, evaluation env resets, action noise of the env
    loop. Reset seeds are drawn per episode index from their child (stateless, so a resumed run
    repeats the original), and seeds s and s + 1 share no reset: they are not one list shifted."""

    STREAMS = ("torch", "numpy", "train_resets", "eval_resets", "action_noise")

    def __init__(self, seed: int) -> None:
        self.root = np.random.SeedSequence(seed)
        self.children = dict(zip(self.STREAMS, self.root.spawn(len(self.STREAMS))))

    def seed_of(self, stream: str) -> int:
        """A 63-bit integer seed for `stream` (torch generators take up to 64 bits)."""
        return int(self.children[stream].generate_state(1, np.uint64)[0] >> np.uint64(1))

    def numpy(self) -> np.random.Generator:
        return np.random.default_rng(self.children["numpy"])

    def train_reset(self, episode: int) -> int:
        return self._indexed("train_resets", episode)

    def eval_reset(self, episode: int) -> int:
        """The k-th evaluation episode's seed: the same at every evaluation of a run, so its
        curve compares like with like; different from run to run."""
        return self._indexed("eval_resets", episode)

    def _indexed(self, stream: str, index: int) -> int:
        child = self.children[stream]
        sequence = np.random.SeedSequence(child.entropy, spawn_key=(*child.spawn_key, index))
        return int(sequence.generate_state(1, np.uint32)[0])


@dataclass
class Counters:
    env_steps: int = 0
    episodes: int = 0
    reward_scale: float = 0.0      # r_n = mean |r| over the exploration data; fixed afterwards
    last_eval: float | None = None
    last_train_return: float | None = None
    wall_s: float = 0.0
    exploration_rewards: list[float] = field(default_factory=list)
    logged_updates: int = 0        # agent.updates at the last updates.csv row


class Trainer:
    """Runs Symphony on one env for a number of env steps, in `run_dir`."""

    def __init__(self, config: SymphonyConfig, env_id: str, run_dir: str | Path, *,
                 device: str = "auto", service: str | None = None, hub: str | None = None,
                 checkpoint_every: int = 25_000, compile: bool = False, cuda_graph: bool | None = None,
                 log_every: int = 100, console: Console | None = None) -> None:
        """`compile`: torch.compile the loss; `cuda_graph`: capture the update as a CUDA graph
        (None: on a CUDA device). Either is tried at once on a scratch agent where a graph is
        wanted, so a failure falls back to eager now, with a warning, not 10,240 steps in.
        `log_every`: updates averaged into one updates.csv row (at the first env step after)."""
        config.check_trainable()  # SymphonyConfigError before any env is made or step runs
        self.config, self.env_id, self.service, self.hub = config, env_id, service, hub
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.checkpoint_every, self.compile = checkpoint_every, compile
        self.log_every = max(1, log_every)
        self.console = console or Console()
        self.seeds = RunSeeds(config.seed)
        torch.manual_seed(self.seeds.seed_of("torch"))
        self.rng = self.seeds.numpy()
        self.env = make_env(env_id, service, hub, 0, config.max_episode_steps)
        # the evaluation episodes at once: eval_episodes local envs, or the daemon's envs 1, 2, ...
        self.eval_env = make_eval_envs(env_id, service, hub, config.eval_episodes, config.max_episode_steps)
        obs_dim = int(np.prod(self.env.observation_space.shape))
        act_dim = int(np.prod(self.env.action_space.shape))
        self.agent = Symphony(obs_dim, act_dim, config, pick_device(device))
        self.agent.noise_generator.manual_seed(self.seeds.seed_of("action_noise"))
        self.cuda_graph = self.agent.device.type == "cuda" if cuda_graph is None else cuda_graph
        self.acceleration_problem: str | None = None  # why updates run eagerly against the request
        if self.cuda_graph:
            try:
                probe_acceleration(obs_dim, act_dim, config, self.agent.device, compile=compile)
            except AccelerationError as exc:
                self._fall_back_to_eager(exc, "at start-up, on a scratch buffer")
        self.counters = Counters()
        self._clock = (time.perf_counter(), 0.0, 0, 0)
        self.mode = "eager"
        self._stop_requested = False
        self._checkpoint_due = checkpoint_every
        self._writer: Any = None  # the run's one TensorBoard writer, opened at the first scalar
        self.best_eval = self._best_so_far()

    def _accelerate(self) -> str:
        """The requested update mode, or 'eager' (with a warning) when it cannot be had."""
        if self.acceleration_problem is not None or not (self.compile or self.cuda_graph):
            return "eager"
        try:
            return self.agent.accelerate(compile=self.compile, cuda_graph=self.cuda_graph)
        except AccelerationError as exc:
            self._fall_back_to_eager(exc, "after exploration")
            return "eager"

    def _fall_back_to_eager(self, exc: AccelerationError, when: str) -> None:
        self.acceleration_problem = str(exc)
        message = (f"update acceleration (torch.compile / CUDA graph) failed {when}, so updates run "
                   f"eagerly (slower, same maths): {exc}")
        log.warning(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)
        self.console.print(Text.assemble(("warning: ", "bold yellow"), message))  # no markup parsing

    # -- the loop --------------------------------------------------------------------------------
    def run(self, total_steps: int) -> dict[str, Any]:
        """Train until `total_steps` env steps (counting exploration); returns the final counters."""
        c, counters = self.config, self.counters
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        self._clock = (time.perf_counter(), counters.wall_s, counters.env_steps, self.agent.updates)
        obs, episode_step, episode_return = self._new_episode()
        try:
            with progress_bar(self.console, unit="env steps") as progress:
                task = progress.add_task(self._describe(), total=total_steps, completed=counters.env_steps)
                while counters.env_steps < total_steps and not self._stop_requested:
                    exploring = counters.env_steps < c.exploration_steps
                    tail = episode_step >= c.max_episode_steps - c.noise_tail
                    action = self.agent.act(obs, active=0.0 if (tail and not exploring) else 1.0)
                    next_obs, reward, terminated, truncated, _ = self.env.step(action)
                    episode_step += 1
                    episode_return += float(reward)
                    truncated = truncated or episode_step >= c.max_episode_steps
                    self._store(obs, action, float(reward), next_obs, terminated, exploring)
                    counters.env_steps += 1
                    if counters.env_steps == c.exploration_steps:
                        self._end_exploration()
                    if self.agent.buffer.full and counters.env_steps > c.exploration_steps:
                        for _ in range(c.updates_per_step):
                            self.agent.update()
                        if self.agent.updates - counters.logged_updates >= self.log_every:
                            self._log_updates()
                    obs = next_obs
                    if counters.env_steps % c.eval_every == 0:  # before a checkpoint: it is saved too
                        self._evaluate_and_log()
                    if terminated or truncated:
                        counters.episodes += 1
                        counters.last_train_return = episode_return
                        self._log_episode(episode_step, episode_return, exploring)
                        if counters.env_steps >= self._checkpoint_due:
                            self.checkpoint()
                            self._checkpoint_due = counters.env_steps + self.checkpoint_every
                        obs, episode_step, episode_return = self._new_episode()
                    progress.update(task, completed=counters.env_steps, description=self._describe())
        finally:
            counters.wall_s = self._wall()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.checkpoint()  # the final state, or the state at a SIGINT/SIGTERM
        if self._stop_requested:
            self.console.print("stopped by signal: checkpoint written; continue with --resume")
        self.plot()
        return self.summary()

    def _new_episode(self) -> tuple[np.ndarray, int, float]:
        # One seed per episode, from the episode counter: a resumed run repeats the original.
        obs, _ = self.env.reset(seed=self.seeds.train_reset(self.counters.episodes))
        return obs, 0, 0.0

    def _store(self, obs, action, reward, next_obs, terminated, exploring) -> None:
        not_done_gamma = 0.0 if terminated else self.config.gamma
        if exploring:  # raw for now: normalised once r_n is known, at the end of exploration
            self.counters.exploration_rewards.append(reward)
        else:
            reward = reward / self.counters.reward_scale
        self.agent.buffer.add(obs, action, reward, next_obs, not_done_gamma)

    def _end_exploration(self) -> None:
        """r_n from the exploration data, normalise it, tile it to a full buffer, then speed up."""
        c, buffer = self.config, self.agent.buffer
        scale = float(np.mean(np.abs(self.counters.exploration_rewards))) or 1.0
        self.counters.reward_scale = scale
        self.counters.exploration_rewards = []
        buffer.rewards[: buffer.size] /= scale
        buffer.fill_by_tiling(c.exploration_repeats)  # full: check_trainable tied the sizes
        self.mode = self._accelerate()
        self.console.print(f"exploration done: {c.exploration_steps} steps, reward scale r_n = {scale:.4g}, "
                           f"buffer {buffer.size:,}/{buffer.capacity:,}, updates run {self.mode} on "
                           f"{self.agent.device}")

    def _describe(self) -> str:
        """Phase, update rate and the last eval return, for the progress bar."""
        last = self.counters.last_eval
        if self.counters.env_steps < self.config.exploration_steps:
            text = "exploring"
        else:
            text = f"training, {self._rates()[1]:,.0f} updates/s"
        return f"{text}, eval return {last:,.1f}" if last is not None else text

    # -- evaluation and logs ---------------------------------------------------------------------
    def evaluate(self, episodes: int | None = None) -> float:
        """Mean return of noiseless episodes, all at once on the evaluation vector env (one batched
        forward per step); episode k starts from the run's k-th evaluation seed."""
        return float(np.mean(self.evaluate_episodes(episodes)[0]))

    def evaluate_episodes(self, episodes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Returns and lengths of the evaluation episodes, in seed order."""
        seeds = [self.seeds.eval_reset(k) for k in range(episodes or self.config.eval_episodes)]
        return run_episodes(self.eval_env, self.agent.act_batch, seeds, self.config.max_episode_steps)

    def _rates(self) -> tuple[float, float]:
        """Env steps/s and updates/s since this run() started (a resumed run counts afresh)."""
        start, _, steps_before, updates_before = self._clock
        elapsed = max(time.perf_counter() - start, 1e-9)
        return ((self.counters.env_steps - steps_before) / elapsed,
                (self.agent.updates - updates_before) / elapsed)

    def _wall(self) -> float:
        start, wall_before, _, _ = self._clock
        return wall_before + time.perf_counter() - start

    def _evaluate_and_log(self) -> None:
        counters = self.counters
        started = time.perf_counter()
        returns, lengths = self.evaluate_episodes()
        eval_s = time.perf_counter() - started
        counters.last_eval = float(np.mean(returns))
        env_rate, update_rate = self._rates()
        row = {"env_steps": counters.env_steps, "updates": self.agent.updates, "episodes": counters.episodes,
               "eval_return": counters.last_eval, "train_return": counters.last_train_return,
               "env_steps_per_s": env_rate, "updates_per_s": update_rate, "wall_s": self._wall(),
               "eval_length": float(np.mean(lengths)), "eval_s": eval_s}
        progress_log(self.run_dir).append(row)
        self._scalars(counters.env_steps, {
            "eval/return": row["eval_return"], "eval/episode_length": row["eval_length"],
            "eval/wall_s": eval_s, "speed/env_steps_per_s": env_rate, "speed/updates_per_s": update_rate})
        self._snapshot_policy()

    def _snapshot_policy(self) -> None:
        """policy.safetensors (the actor now), and policy-best.safetensors when this evaluation is
        the best of the run so far."""
        steps, value = self.counters.env_steps, self.counters.last_eval
        extra = {"env_steps": steps, "eval_return": value, "updates": self.agent.updates}
        save_policy_snapshot(self.run_dir / LATEST_POLICY, self.agent, self.env_id, extra)
        if self.best_eval is None or value > self.best_eval:
            self.best_eval = value
            save_policy_snapshot(self.run_dir / BEST_POLICY, self.agent, self.env_id, extra)

    def _best_so_far(self) -> float | None:
        meta = read_snapshot_meta(self.run_dir / BEST_POLICY)
        return None if meta is None else float(meta["eval_return"])

    def _log_updates(self) -> None:
        """One updates.csv row: the means over the updates since the last row."""
        stats = self.agent.take_update_stats()
        self.counters.logged_updates = self.agent.updates
        if stats is None:
            return
        steps = self.counters.env_steps
        ProgressLog(self.run_dir, UPDATE_FIELDS, UPDATES_CSV).append(
            {"env_steps": steps, "updates": self.agent.updates, **stats})
        self._scalars(steps, {f"update/{k}": stats[k] for k in UPDATE_STATS})

    def _log_episode(self, length: int, value: float, exploring: bool) -> None:
        steps = self.counters.env_steps
        ProgressLog(self.run_dir, EPISODE_FIELDS, EPISODES_CSV).append(
            {"env_steps": steps, "episode": self.counters.episodes, "length": length, "return": value,
             "exploring": int(exploring)})
        self._scalars(steps, {"train/episode_return": value, "train/episode_length": length})

    def _scalars(self, step: int, values: dict[str, float]) -> None:
        writer = self._tensorboard()
        if writer is None:
            return
        for tag, value in values.items():
            if value is not None:
                writer.add_scalar(tag, value, step)

    def _tensorboard(self) -> Any:
        """The run's one SummaryWriter (None without tensorboard: the CSVs hold the same figures)."""
        if self._writer is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                return None
            self._writer = SummaryWriter(self.run_dir / "tb")
        return self._writer

    def close(self) -> None:
        """Close both envs (for remote envs: their connections) and the TensorBoard writer."""
        for env in (self.env, self.eval_env):
            env.close()
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def plot(self) -> Path | None:
        return plot_run(self.run_dir)

    def summary(self) -> dict[str, Any]:
        return {"env_steps": self.counters.env_steps, "updates": self.agent.updates,
                "episodes": self.counters.episodes, "eval_return": self.counters.last_eval,
                "mode": self.mode, "device": str(self.agent.device)}

    # -- checkpoints -----------------------------------------------------------------------------
    def _on_signal(self, signum: int, _frame: Any) -> None:
        self._stop_requested = True

    def checkpoint(self) -> Path:
        """Atomically write a checkpoint and point `latest.json` at it (the commit point)."""
        steps = self.counters.env_steps
        name = f"checkpoint-{steps:09d}"
        tensors = {f"agent.{k}": v.cpu() for k, v in self.agent.state_tensors().items()}
        buffer_tensors, buffer_meta = self.agent.buffer.export_state()  # each distinct row once
        tensors.update({f"buffer.{k}": v for k, v in buffer_tensors.items()})
        tensors["rng.torch"] = torch.get_rng_state()
        tensors["rng.action_noise"] = self.agent.noise_generator.get_state()
        if torch.cuda.is_available():
            tensors["rng.cuda"] = torch.cuda.get_rng_state()
        meta = {"config": self.config.to_dict(), "env_id": self.env_id, "counters": vars(self.counters),
                "updates": self.agent.updates, "buffer": buffer_meta,
                "rng_numpy": self.rng.bit_generator.state, "checkpoint_due": self._checkpoint_due,
                "mode": self.mode, "compile": self.compile}
        if self._writer is not None:  # what the logs hold up to here survives a SIGKILL
            self._writer.flush()
        atomic_write(self.run_dir / f"{name}.safetensors", lambda p: save_file(tensors, str(p)))
        atomic_write(self.run_dir / f"{name}.json", lambda p: p.write_text(json.dumps(meta)))
        atomic_write(self.run_dir / "latest.json", lambda p: p.write_text(json.dumps({"checkpoint": name})))
        for old in self.run_dir.glob("checkpoint-*"):
            if not old.name.startswith(name):
                old.unlink()
        return self.run_dir / name

    def resume(self) -> bool:
        """Load the latest checkpoint of `run_dir`, if any; the curve continues from there."""
        pointer = self.run_dir / "latest.json"
        if not pointer.exists():
            return False
        name = json.loads(pointer.read_text())["checkpoint"]
        meta = json.loads((self.run_dir / f"{name}.json").read_text())
        if meta["env_id"] != self.env_id:
            raise ValueError(f"{self.run_dir} trained {meta['env_id']}, not {self.env_id}")
        differ = {k: (v, meta["config"].get(k)) for k, v in self.config.to_dict().items()
                  if meta["config"].get(k) != v}
        if differ:
            raise ValueError(f"{self.run_dir} was trained with other settings; resume with the same "
                             "ones: " + ", ".join(f"{k} (saved {old!r}, now {new!r})"
                                                  for k, (new, old) in differ.items()))
        tensors = load_file(str(self.run_dir / f"{name}.safetensors"))
        agent, buffer = self.agent, self.agent.buffer
        agent.load_state_tensors({k[len("agent."):]: v.to(agent.device) for k, v in tensors.items()
                                  if k.startswith("agent.")})
        if "buffer.written_slots" in tensors:
            buffer.import_state({k[len("buffer."):]: v for k, v in tensors.items() if k.startswith("buffer.")},
                                meta["buffer"])
        else:  # a checkpoint from before the distinct-row format: every row stored as it was
            size = meta["buffer"]["size"]
            for key, tensor in buffer.fields().items():
                tensor[:size] = tensors[f"buffer.{key}"].to(agent.device)
            buffer.terminal[:size] = tensors["buffer.terminal"].numpy()
            buffer.written[:size] = True
            buffer.size, buffer.head = size, meta["buffer"]["head"]
            buffer.head_tensor.fill_(buffer.head)
        agent.updates = meta["updates"]
        self.counters = Counters(**meta["counters"])
        self._checkpoint_due = meta["checkpoint_due"]
        if buffer.full and self.counters.env_steps >= self.config.exploration_steps:
            # Before the RNG states are restored: capturing a CUDA graph draws random numbers.
            self.mode = self._accelerate()
        self.rng.bit_generator.state = meta["rng_numpy"]
        torch.set_rng_state(tensors["rng.torch"])
        if "rng.action_noise" in tensors:
            agent.noise_generator.set_state(tensors["rng.action_noise"])
        if "rng.cuda" in tensors and torch.cuda.is_available():
            torch.cuda.set_rng_state(tensors["rng.cuda"])
        steps = self.counters.env_steps
        drop_logs_after(self.run_dir, steps)  # the killed run may have logged past its checkpoint
        self.best_eval = self._best_so_far()
        self.console.print(f"resumed {self.run_dir} at {self.counters.env_steps:,} env steps "
                           f"({agent.updates:,} updates)")
        return True


UPDATES_CSV, EPISODES_CSV = "updates.csv", "episodes.csv"


def progress_log(run_dir: str | Path) -> ProgressLog:
    """RUN_DIR/progress.csv, with the columns every trainer here writes."""
    return ProgressLog(run_dir, CSV_FIELDS)


def drop_logs_after(run_dir: str | Path, steps: int) -> None:
    """Forget every logged point past env step `steps`: CSV rows and TensorBoard events (the event
    files are rewritten without them), so a run resumed from there logs each step once."""
    keep = lambda row: int(row["env_steps"]) <= steps
    progress_log(run_dir).keep(keep)
    ProgressLog(run_dir, UPDATE_FIELDS, UPDATES_CSV).keep(keep)
    ProgressLog(run_dir, EPISODE_FIELDS, EPISODES_CSV).keep(keep)
    tb = Path(run_dir) / "tb"
    if not tb.is_dir():
        return
    try:
        from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
        from tensorboard.summary.writer.record_writer import RecordWriter
    except ImportError:
        return
    for path in sorted(tb.glob("events.out.tfevents.*")):
        events = list(EventFileLoader(str(path)).Load())  # stops at a record a SIGKILL cut short
        kept = [e for e in events if not e.HasField("summary") or e.step <= steps]
        if len(kept) == len(events):
            continue  # nothing past `steps`

        def write(tmp: Path, kept=kept) -> None:
            with open(tmp, "wb") as f:
                writer = RecordWriter(f)
                for event in kept:
                    writer.write(event.SerializeToString())
                writer.flush()
        atomic_write(path, write)


def read_progress(run_dir: str | Path) -> list[dict[str, str]]:
    return progress_log(run_dir).rows()


def plot_run(run_dir: str | Path) -> Path | None:
    """learning_curve.png in the run directory: eval return against env steps."""
    return plot_runs([Path(run_dir)])


def plot_runs(run_dirs: list[Path], out: Path | None = None) -> Path | None:
    """Eval return against env steps (exploration counted), one line per run, in one PNG."""
    curves = [(Path(d).name, [int(r["env_steps"]) for r in rows], [float(r["eval_return"]) for r in rows])
              for d in run_dirs for rows in [read_progress(d)]]
    return plot_curves(curves, out or Path(run_dirs[0]) / "learning_curve.png",
                       xlabel="env steps (exploration included)", ylabel="mean eval return (noiseless)")
