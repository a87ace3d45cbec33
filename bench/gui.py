"""The GUI agent's speed and input size, with the offline backend.

Part 1, steps/s. Method: the same episodes (every suite template at seed 0, the agent's offline
backend, at most 25 steps) run twice per round, once on a simulator in this process and once
through the bus (a RemotePhone to a `podium sim phone` daemon process); the in-process run is the
peer. Reported: median agent steps/s over rounds, the ratio to in process, p50/p99 step time, and
the cost split per step (observe, building the model input, the model, acting) from the agent's own
timings.

Part 2, input size. Method: the suite's longest episodes (the N templates whose offline episodes
take the most steps at seed 0) replayed with history compression on (HiconAgent-style: one-line
anchors, the current screenshot only) and off (every past screenshot and element list, as a naive
history would send them). Prompt tokens per step are counted as a Qwen2-VL-family model would see
them (text through a WordPiece tokenizer; each 1080x2400 screenshot as its resized patch grid).
The offline backend reads the context, not the prompt, so both replays take the same actions and
reach the same outcome: equal success by construction. What a VLM does with the longer input is
the memory issue's and a GPU run's question.

    python bench/gui.py                        # 3 rounds; 8 longest episodes
    python bench/gui.py --rounds 1 --longest 4
"""
from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
from collections import defaultdict

import numpy as np
from rich.console import Console
from rich.table import Table

from agents.gui.agent import AgentConfig, EpisodeResult, GuiAgent
from agents.gui.backends import make_backend
from control.bus.hub import Hub, HubClient, connect, wait_for_service
from control.phone import RemotePhone
from control.progress import progress_bar
from sims.phone.phone import PhoneSim
from sims.phone.tasks import make_task, registry

PARTS = ("observe", "build", "model", "act")


def run_local(agent: GuiAgent, template: str, seed: int = 0) -> tuple[EpisodeResult, bool]:
    phone = PhoneSim(seed)
    task = make_task(template, phone, seed=seed)
    result = agent.run(phone, task.goal)
    return result, task.status(phone)["success"]


def run_remote(agent: GuiAgent, phone: RemotePhone, harness, template: str, seed: int = 0) -> EpisodeResult:
    task = harness.call("setup_task", template, seed)
    return agent.run(phone, task["goal"])


def step_times(results: list[EpisodeResult]) -> tuple[list[float], dict[str, float]]:
    """Per-step wall time, and the mean milliseconds of each part per step."""
    totals, parts = [], defaultdict(list)
    for result in results:
        for step in result.steps:
            s = step.seconds
            observe = s.get("observe", 0.0)          # the observation this step decided on
            cost = {"observe": observe, "build": s.get("build", 0.0), "model": s.get("model", 0.0),
                    "act": s.get("act", 0.0)}
            totals.append(sum(cost.values()))
            for name, seconds in cost.items():
                parts[name].append(seconds)
    return totals, {name: 1000 * statistics.fmean(values) for name, values in parts.items()}


def speed(console: Console, agent: GuiAgent, templates: list[str], rounds: int) -> None:
    hub = Hub("tcp://127.0.0.1:*").start()
    daemon = subprocess.Popen([sys.executable, "-m", "control.cli", "sim", "phone", "--name", "sim:bench-gui",
                               "--hub", hub.endpoint], stdout=subprocess.DEVNULL)
    results: dict[str, list[EpisodeResult]] = {"in process": [], "bus (RemotePhone)": []}
    rates: dict[str, list[float]] = {name: [] for name in results}
    try:
        with HubClient(hub.endpoint) as client:
            wait_for_service(client, "sim:bench-gui", timeout=60)
        phone = RemotePhone("sim:bench-gui", hub=hub.endpoint)
        with connect("sim:bench-gui", hub.endpoint) as harness, progress_bar(console, unit="episodes") as bar:
            task = bar.add_task("agent episodes", total=rounds * 2 * len(templates))
            run_local(agent, templates[0])                       # warm-up: the embedder's first calls
            for _ in range(rounds):
                for name in results:
                    batch = []
                    for template in templates:
                        if name == "in process":
                            batch.append(run_local(agent, template)[0])
                        else:
                            batch.append(run_remote(agent, phone, harness, template))
                        bar.advance(task)
                    totals, _ = step_times(batch)
                    rates[name].append(len(totals) / sum(r.seconds for r in batch))
                    results[name] += batch
        phone.close()
    finally:
        daemon.terminate()
        daemon.wait(20)
        hub.stop()
    peer = statistics.median(rates["in process"])
    table = Table(title=f"GUI agent, offline backend: {len(templates)} episodes x {rounds} rounds per path")
    for column in ("path", "agent steps/s", "ratio to in process", "p50", "p99", *[f"{p} ms" for p in PARTS]):
        table.add_column(column, justify="right")
    for name, batch in results.items():
        totals, parts = step_times(batch)
        p50, p99 = np.percentile(totals, [50, 99]) * 1000
        rate = statistics.median(rates[name])
        table.add_row(name, f"{rate:.1f}", f"{rate / peer:.2f}", f"{p50:.1f} ms", f"{p99:.1f} ms",
                      *[f"{parts[p]:.1f}" for p in PARTS])
    console.print(table)


def input_size(console: Console, templates: list[str], longest: int) -> None:
    backend = make_backend("offline")
    compressed = GuiAgent(backend, AgentConfig(compress_history=True))
    lengths = {}
    with progress_bar(console, unit="episodes") as bar:
        task = bar.add_task("finding the longest episodes", total=len(templates))
        for template in templates:
            lengths[template] = run_local(compressed, template)[0].actions
            bar.advance(task)
    chosen = sorted(templates, key=lambda t: -lengths[t])[:longest]
    table = Table(title=f"prompt tokens per step on the {longest} longest episodes (Qwen2-VL counting)")
    for column in ("episode", "steps", "success on / off", "compressed mean", "uncompressed mean",
                   "compressed last", "uncompressed last", "ratio (mean)"):
        table.add_column(column, justify="right")
    ratios, means = [], {"on": [], "off": []}
    for template in chosen:
        on, won_on = run_local(compressed, template)
        off, won_off = run_local(GuiAgent(backend, AgentConfig(compress_history=False)), template)
        assert [s.action for s in on.steps] == [s.action for s in off.steps], "the replays must act alike"
        a, b = [s.prompt_tokens for s in on.steps], [s.prompt_tokens for s in off.steps]
        ratios.append(statistics.fmean(b) / statistics.fmean(a))
        means["on"].append(statistics.fmean(a))
        means["off"].append(statistics.fmean(b))
        table.add_row(template, str(on.actions), f"{won_on} / {won_off}", f"{statistics.fmean(a):,.0f}",
                      f"{statistics.fmean(b):,.0f}", f"{a[-1]:,}", f"{b[-1]:,}", f"{ratios[-1]:.1f}x")
    console.print(table)
    console.print(f"mean prompt tokens per step: {statistics.fmean(means['on']):,.0f} compressed against "
                  f"{statistics.fmean(means['off']):,.0f} uncompressed; history compression cuts the input "
                  f"{statistics.fmean(ratios):.1f}x (median {statistics.median(ratios):.1f}x) at equal success")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--longest", type=int, default=8)
    parser.add_argument("--templates", type=int, default=0, help="Use only the first N templates (0: all).")
    args = parser.parse_args()
    console = Console()
    templates = list(registry())[:args.templates or None]
    console.print(f"{platform.node()}: {platform.machine()}, Python {platform.python_version()}, "
                  f"{len(templates)} templates")
    speed(console, GuiAgent(make_backend("offline")), templates, args.rounds)
    input_size(console, templates, args.longest)


if __name__ == "__main__":
    main()
