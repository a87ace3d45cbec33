"""`podium demo`: the embedded default, end to end, in about a minute.

It lives in `agents` because it shows the whole stack (agents may import control; control imports
none of the packages above it) and joins the CLI through the `podium.commands` entry point.

Starts a hub in this process and four daemons as separate OS processes (echo, MuJoCo Humanoid-v5
x 4, Pendulum-v1 x 2, the phone simulator); lists them, calls the echo service (including a remote
error), measures round trips for three payload sizes, rolls out the humanoids through the bus as a
gymnasium vector env and saves a rendered frame, trains Symphony briefly on Pendulum through the
bus, solves a phone task with the scripted oracle, runs the GUI agent on four suite tasks with
episode pages, and shuts everything down.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click
import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from control.bus.hub import Hub, HubClient, connect, wait_for_service
from control.bus.security import ALLOW_ENV, BIND_ENV, HUB_KEY_ENV, KEYS_ENV
from control.errors import RemoteError
from control.extras import needs_extra
from control.phone import JSONAction, Observation, PhoneDevice
from control.progress import progress_bar

SERVICE = "echo:demo"
SIM = "sim:humanoid-demo"
SIM_ENVS = 4
PENDULUM = "sim:pendulum-demo"
PHONE = "sim:phone-demo"
PHONE_TASK, PHONE_SEED = "CalendarEventFromMessage", 3   # reads Messages, then writes to Calendar


def _payloads(calls: int) -> list[tuple[str, Any, int]]:
    rng = np.random.default_rng(0)
    return [
        ("64 B bytes", bytes(64), calls),
        ("348 x float32 observation", rng.standard_normal(348).astype(np.float32), calls),
        ("1080x2400x3 uint8 screenshot", rng.integers(0, 256, (1080, 2400, 3), dtype=np.uint8),
         max(20, calls // 100)),
    ]


def round_trips(call: Callable[[], Any], count: int, progress: Progress, label: str) -> np.ndarray:
    """Seconds per call for `count` calls, after a short warm-up."""
    for _ in range(min(20, count)):
        call()
    times = np.empty(count)
    task = progress.add_task(label, total=count)
    for i in range(count):
        start = time.perf_counter()
        call()
        times[i] = time.perf_counter() - start
        progress.advance(task)
    return times


def run_demo(console: Console, calls: int = 2000, steps: int = 300, out_dir: Path = Path("runs/demo"),
             symphony_steps: int = 4000) -> None:
    started = time.perf_counter()
    for name in (KEYS_ENV, HUB_KEY_ENV, ALLOW_ENV, BIND_ENV):
        os.environ.pop(name, None)  # the demo's fleet is its own, plain, on loopback: no shell keys
    hub = Hub("tcp://127.0.0.1:*").start()
    console.print(f"[bold]1.[/] hub started in-process at {hub.endpoint}")
    podium = [sys.executable, "-m", "control.cli"]
    daemons = [subprocess.Popen([*podium, "echo", "--name", SERVICE, "--hub", hub.endpoint],
                                stdout=subprocess.DEVNULL),
               subprocess.Popen([*podium, "sim", "humanoid", "--envs", str(SIM_ENVS), "--name", SIM,
                                 "--hub", hub.endpoint], stdout=subprocess.DEVNULL),
               subprocess.Popen([*podium, "sim", "pendulum", "--envs", "2", "--name", PENDULUM,
                                 "--render-mode", "none", "--hub", hub.endpoint], stdout=subprocess.DEVNULL),
               subprocess.Popen([*podium, "sim", "phone", "--name", PHONE, "--hub", hub.endpoint],
                                stdout=subprocess.DEVNULL)]
    try:
        with HubClient(hub.endpoint) as hub_client:
            with console.status("waiting for the daemons to register..."):
                for name in (SERVICE, SIM, PENDULUM, PHONE):
                    wait_for_service(hub_client, name, timeout=60)
            console.print(f"[bold]2.[/] four daemons running as pids "
                          f"{', '.join(str(d.pid) for d in daemons)}, registered:")
            console.print(_services(hub_client.list()))
            console.print(_exercise(console, hub.endpoint, calls))
            console.print(_rollout(console, hub.endpoint, steps, out_dir))
            if symphony_steps:
                _symphony(console, hub.endpoint, symphony_steps, out_dir)
            console.print(_phone(console, hub.endpoint, out_dir))
            console.print(_gui_agent(console, hub.endpoint, out_dir))
            console.print(_echotrail(console, hub.endpoint, out_dir))
            for daemon in daemons:
                daemon.terminate()
            codes = [daemon.wait(10) for daemon in daemons]
            gone = all(_wait_unregistered(hub_client, name) for name in (SERVICE, SIM, PENDULUM, PHONE))
    finally:
        for daemon in daemons:
            if daemon.poll() is None:
                daemon.kill()
        hub.stop()
    console.print(f"[bold]10.[/] daemons stopped (exit codes {codes}); "
                  f"{'they unregistered from the hub' if gone else 'the hub still lists one'}; hub stopped.")
    console.print(f"\n[bold green]The demo showed[/]: a hub, daemons in their own processes found by "
                  f"name, calls with arrays as raw frames, a remote error re-raised locally, round-trip "
                  f"latency for three payload sizes, MuJoCo humanoids stepped through the bus as a "
                  f"gymnasium vector env, Symphony learning Pendulum through the bus on "
                  f"{'the GPU' if _gpu() else 'the CPU'}, and a phone task (read a text, then add the event "
                  f"it proposes) solved through the bus on the phone simulator, success read from the "
                  f"apps' state, and the GUI agent (offline backend) running suite tasks through the bus, "
                  f"each episode recorded as an HTML page, and EchoTrail: a memory service on the bus that "
                  f"stored the critic-approved trajectories of training instances, and instances never "
                  f"stored run with memory off and on (the table above says which it solved) — "
                  f"in {time.perf_counter() - started:.1f} s.")


def _services(records: list[dict]) -> Table:
    from control.cli import services_table
    return services_table(records)


def _exercise(console: Console, hub_endpoint: str, calls: int) -> Table:
    with connect(SERVICE, hub_endpoint, timeout=10) as client:
        console.print(f"[bold]3.[/] echo('hello') -> {client.call('echo', 'hello')!r}; "
                      f"add(2, 3) -> {client.call('add', 2, 3)!r}; "
                      f"sample([2, 3]).shape -> {client.call('sample', [2, 3]).shape}")
        try:
            client.call("add", "two", 3)
        except RemoteError as exc:
            console.print(f"   add('two', 3) raised {type(exc).__name__} (a TypeError too: "
                          f"{isinstance(exc, TypeError)}): {exc.args[0]}")
        table = Table(title="[bold]4.[/] round trips through the bus (tcp, loopback)")
        for column in ("payload", "calls", "p50", "p99", "throughput"):
            table.add_column(column, justify="right")
        with progress_bar(console, unit="calls", transient=True) as progress:
            for label, payload, count in _payloads(calls):
                times = round_trips(lambda p=payload: client.call("echo", p), count, progress, label)
                size = payload.nbytes if isinstance(payload, np.ndarray) else len(payload)
                p50, p99 = np.percentile(times, [50, 99])
                table.add_row(label, str(count), f"{p50 * 1e6:,.0f} µs", f"{p99 * 1e6:,.0f} µs",
                              f"{2 * size / times.mean() / 1e6:,.1f} MB/s")
    return table


def _rollout(console: Console, hub_endpoint: str, steps: int, out_dir: Path) -> Table:
    """Random actions on the remote humanoids; returns a table and saves one rendered frame."""
    from PIL import Image

    from control.gym.envs import RemoteEnv, RemoteVectorEnv

    envs = RemoteVectorEnv(SIM, hub=hub_endpoint)
    rng = np.random.default_rng(0)
    envs.reset(seed=0)
    returns, episode = [], np.zeros(envs.num_envs)
    with progress_bar(console, unit="env steps", transient=True) as progress:
        task = progress.add_task("humanoids through the bus", total=steps * envs.num_envs)
        start = time.perf_counter()
        for _ in range(steps):
            actions = rng.uniform(-0.4, 0.4, size=(envs.num_envs, 17)).astype(np.float32)
            _, rewards, terminated, truncated, _ = envs.step(actions)
            episode += rewards
            for i in np.flatnonzero(terminated | truncated):
                returns.append(episode[i])
                episode[i] = 0.0
            progress.advance(task, envs.num_envs)
        rate = steps * envs.num_envs / (time.perf_counter() - start)
    envs.close()
    env = RemoteEnv(SIM, index=0, hub=hub_endpoint, render_mode="rgb_array")
    env.reset(seed=1)
    out_dir.mkdir(parents=True, exist_ok=True)
    frame_path = out_dir / "humanoid.png"
    Image.fromarray(env.render()).save(frame_path)
    env.close()
    table = Table(title=f"[bold]5.[/] Humanoid-v5 x {envs.num_envs} through the bus (random actions)")
    for column in ("env steps", "episodes ended", "mean return", "env steps/s"):
        table.add_column(column, justify="right")
    mean = f"{np.mean(returns):.1f}" if returns else "-"
    table.add_row(f"{steps * envs.num_envs:,}", str(len(returns)), mean, f"{rate:,.0f}")
    table.caption = f"a rendered frame of env 0 (offscreen MuJoCo, through the bus): {frame_path}"
    return table


def _gpu() -> bool:
    import torch
    return torch.cuda.is_available()


def _symphony(console: Console, hub_endpoint: str, steps: int, out_dir: Path) -> None:
    """A small Symphony (h=64) on Pendulum-v1, env index 0 of a daemon, eval on index 1."""
    import shutil

    import torch

    from agents.symphony.core import SymphonyConfig
    from agents.symphony.train import Trainer, read_progress

    torch.set_num_threads(1)  # two cores: leave one to the env daemon
    run_dir = out_dir / "symphony-pendulum"
    shutil.rmtree(run_dir, ignore_errors=True)
    config = SymphonyConfig(hidden=64, batch=64, updates_per_step=2, exploration_steps=1000,
                            exploration_repeats=10, capacity=10_000, max_episode_steps=200, lr=1e-3,
                            a_max=2.0, eval_every=1000, eval_episodes=2)
    console.print(f"[bold]6.[/] Symphony (h=64, G=2; the S3 loss, optimiser and fading buffer) "
                  f"learning Pendulum-v1 through the bus on {PENDULUM}:")
    trainer = Trainer(config, "Pendulum-v1", run_dir, service=PENDULUM, hub=hub_endpoint,
                      checkpoint_every=steps, console=console)
    untrained = trainer.evaluate(2)
    trainer.run(steps)
    trainer.close()
    table = Table(title="Symphony on Pendulum-v1 (mean noiseless eval return; higher is better)")
    table.add_column("env steps", justify="right")
    table.add_column("eval return", justify="right")
    table.add_row("0 (untrained)", f"{untrained:,.0f}")
    for row in read_progress(run_dir):
        table.add_row(f"{int(row['env_steps']):,}", f"{float(row['eval_return']):,.0f}")
    console.print(table)
    console.print(f"   learning curve: {run_dir / 'learning_curve.png'}; checkpoint and logs in {run_dir}")


def _phone(console: Console, hub_endpoint: str, out_dir: Path) -> Table:
    """The scripted oracle solves one task on the phone simulator through the bus; a GIF of it."""
    from control.bus.hub import connect
    from control.phone import RemotePhone
    from sims.phone.oracle import Oracle
    from sims.phone.tasks import registry

    phone = RecordingPhone(RemotePhone(PHONE, hub=hub_endpoint))
    with connect(PHONE, hub_endpoint, timeout=60) as harness:
        task = harness.call("setup_task", PHONE_TASK, PHONE_SEED)
        console.print(f"[bold]7.[/] phone simulator on {PHONE}: task [italic]{task['goal']}[/] "
                      f"({task['difficulty']}, apps {', '.join(task['apps'])})")
        phone.record()
        oracle = Oracle(phone)
        start = time.perf_counter()
        registry()[PHONE_TASK](task["params"], task["goal"], PHONE_SEED).solve(oracle)
        seconds = time.perf_counter() - start
        status = harness.call("task_status")
    gif = out_dir / "phone-task.gif"
    phone.save_gif(gif)
    table = Table(title="the scripted oracle, through RemotePhone only (observe, find by label, act)")
    for column in ("step", "action"):
        table.add_column(column, justify="right" if column == "step" else "left")
    for i, action in enumerate(oracle.trace, 1):
        table.add_row(str(i), str(action))
    table.caption = (f"{oracle.steps} actions (optimal {task['optimal_steps']}) in {seconds:.1f} s; success read "
                     f"from the apps' state: {status['success']}; screens: {gif}")
    return table


GUI_TASKS = ["SettingsWifi", "ClockDisableAlarm", "ContactsDeleteMissingInfeasible", "MessagesSendToContact"]


def _gui_agent(console: Console, hub_endpoint: str, out_dir: Path) -> Table:
    """The GUI agent (offline backend: no weights) on four suite tasks through the bus, with its
    episodes recorded and written as HTML pages."""
    from agents.gui.episodes import write_pages
    from agents.gui.evaluate import EvalConfig, Evaluation

    run_dir = out_dir / "gui-agent"
    console.print(f"[bold]8.[/] the GUI agent (offline backend) on {len(GUI_TASKS)} suite tasks, through the "
                  f"bus on {PHONE}")
    config = EvalConfig(only=GUI_TASKS, hub=hub_endpoint, devices=[PHONE], max_steps=15, run_dir=str(run_dir))
    report = Evaluation(config, console=console).run()
    index = write_pages(run_dir)
    table = Table(title="the GUI agent: observe, ground the goal on screen, act; success read from app state")
    for column in ("task", "goal", "outcome", "steps", "optimal", "success"):
        table.add_column(column, justify="right" if column in ("steps", "optimal") else "left")
    goals = {p.name: json.loads((p / "meta.json").read_text())["goal"] for p in (run_dir / "episodes").iterdir()}
    for row in report["results"]:
        table.add_row(row["template"], goals[row["episode"]], row["status"], str(row["steps"]), str(row["optimal"]),
                      "[green]yes[/]" if row["success"] else "[red]no[/]")
    table.caption = f"episode pages: {index}"
    return table


MEMORY = "memory:demo"
MEMORY_TASKS = ["ClockStartStopwatch", "SettingsRenameDevice", "SettingsDarkTheme"]


def _echotrail(console: Console, hub_endpoint: str, out_dir: Path) -> Table:
    """EchoTrail on three tasks the offline agent cannot do alone: a memory service on the bus
    stores what the critic accepts of training instances (seeds 0 to 2, training phrasings); then
    an instance never stored (seed 1000, the held-out phrasing) is run without memory and with it."""
    from agents.echotrail.experiment import EVAL_SEED, evaluation_jobs, fresh_store_path, training_jobs
    from agents.echotrail.memory import EchoTrail
    from agents.echotrail.service import RemoteMemory
    from agents.gui.evaluate import EvalConfig, Evaluation, MemorySource

    run_dir, db = out_dir / "echotrail", out_dir / "echotrail" / "memory.db"
    run_dir.mkdir(parents=True, exist_ok=True)
    fresh_store_path(db)
    service = subprocess.Popen([sys.executable, "-m", "control.cli", "memory", "--db", str(db), "--name", MEMORY,
                                "--hub", hub_endpoint], stdout=subprocess.DEVNULL)
    try:
        with HubClient(hub_endpoint) as hub_client, connect(PHONE, hub_endpoint, timeout=30) as harness:
            wait_for_service(hub_client, MEMORY, timeout=60)
            templates = {t["name"]: t for t in harness.call("tasks") if t["name"] in MEMORY_TASKS}
        console.print(f"[bold]9.[/] EchoTrail: the memory service {MEMORY} (pid {service.pid}, SQLite at {db}); "
                      f"training on {len(templates)} tasks, then instances never stored, memory off and on")
        config = EvalConfig(hub=hub_endpoint, devices=[PHONE], max_steps=15, run_dir=str(run_dir))
        with RemoteMemory(MEMORY, hub=hub_endpoint) as memory:
            train = Evaluation(config, memory=EchoTrail(memory), console=console)
            for attempt in training_jobs(templates, MEMORY_TASKS, 3, 1):
                train.run_jobs(hub_endpoint, [PHONE], attempt, label="train")
            stored = len(memory)
            held_out = evaluation_jobs(templates, MEMORY_TASKS, [], 1)
            off = Evaluation(config, memory=MemorySource(), console=console).run_jobs(
                hub_endpoint, [PHONE], held_out, label="memory off")
            on = Evaluation(config, memory=EchoTrail(memory, write=False), console=console).run_jobs(
                hub_endpoint, [PHONE], held_out, label="memory on")
    finally:
        service.terminate()
        try:
            service.wait(10)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait(10)
    table = Table(title=f"EchoTrail: {stored} trajectories stored by the critic; instances at seed {EVAL_SEED} "
                        "in a phrasing never stored")
    for column in ("task", "memory off", "memory on", "memories recalled"):
        table.add_column(column)
    for a, b in zip(sorted(off, key=lambda r: r["template"]), sorted(on, key=lambda r: r["template"])):
        table.add_row(a["template"], _outcome(a), _outcome(b), str(b["memories"]))
    table.caption = f"episodes: {run_dir / 'episodes'}"
    return table


def _outcome(row: dict[str, Any]) -> str:
    return ("[green]solved[/]" if row["success"] else "[red]failed[/]") + f" in {row['steps']} steps"


class RecordingPhone(PhoneDevice):
    """A PhoneDevice that keeps a small copy of the screen after every action (for the GIF)."""

    def __init__(self, device: PhoneDevice) -> None:
        self.device, self.frames = device, []

    def observe(self) -> Observation:
        return self.device.observe()

    def act(self, action: JSONAction | Mapping[str, Any] | str) -> None:
        self.device.act(action)
        self.record()

    def reset(self) -> Observation:
        return self.device.reset()

    def current_app(self) -> str:
        return self.device.current_app()

    def record(self) -> None:
        from PIL import Image

        self.frames.append(Image.fromarray(self.device.observe().screenshot).resize((270, 600)))

    def save_gif(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.frames[0].save(path, save_all=True, append_images=self.frames[1:], duration=700, loop=0)


def _wait_unregistered(hub_client: HubClient, name: str, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(r["name"] != name for r in hub_client.list()):
            return True
        time.sleep(0.05)
    return False


@needs_extra("all", "torch", "gymnasium", "mujoco", "PIL")
@click.command()
@click.option("--calls", default=2000, show_default=True, type=click.IntRange(100, 1_000_000),
              help="Round trips per payload size.")
@click.option("--steps", default=300, show_default=True, type=click.IntRange(1, 1_000_000),
              help="Vector steps of the humanoid rollout.")
@click.option("--out", default="runs/demo", show_default=True, type=click.Path(file_okay=False),
              help="Where to save the rendered frame and the Symphony run.")
@click.option("--symphony-steps", default=4000, show_default=True, type=click.IntRange(0),
              help="Env steps of the Symphony run (0 skips it).")
def demo(calls: int, steps: int, out: str, symphony_steps: int) -> None:
    """Start a hub and daemons, call them, roll out humanoids, train Symphony briefly."""
    run_demo(Console(), calls=calls, steps=steps, out_dir=Path(out), symphony_steps=symphony_steps)
