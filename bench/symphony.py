"""Symphony update rate: ours (eager, compiled, CUDA graph) against peers measured in the same run.

Peers:
  reference style  the same maths written the way the reference code does it: three critic modules
                   called one after another, module-per-layer blocks, sampling with
                   torch.multinomial over the whole probability vector, a per-parameter Python
                   optimiser loop and per-parameter Polyak updates.
  SB3 SAC          stable-baselines3 SAC's gradient steps (its default networks) at the same batch.

Method: Humanoid-sized problem (348 obs, 17 actions), a full buffer of random transitions, the
given hidden size and batch; each variant is warmed up, then timed over `--updates` updates
(synchronised on the GPU); the median of `--repeats` timings is reported with its ratio to the
reference style.

    python bench/symphony.py                          # S3 size (h=512, batch 384), the device torch sees
    python bench/symphony.py --hidden 128 --batch 128 --updates 50 --capacity 20000   # CPU look
"""
from __future__ import annotations

import argparse
import math
import platform
import time
from collections.abc import Callable

import numpy as np
import torch
from rich.console import Console
from rich.table import Table
from torch import nn

from agents.symphony.core import (
    Symphony,
    SymphonyConfig,
    age_probabilities,
    rehae,
    rehse,
    soft_value_weights,
    swaddle,
)

OBS, ACT = 348, 17


# -- the reference-style peer ----------------------------------------------------------------------
class ReSineModule(nn.Module):
    def __init__(self, hidden: int):
        super().__init__()
        self.p = nn.Parameter(torch.empty(hidden).uniform_(-1 / math.sqrt(hidden), 1 / math.sqrt(hidden)))

    def forward(self, x):
        g = torch.sigmoid(self.p)
        y = g * torch.sin(x / g)
        return y * torch.sigmoid(1.5 * y / g)


def reference_ff(n_in: int, hidden: int, n_out: int) -> nn.Module:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.LayerNorm(hidden), nn.Linear(hidden, hidden),
                         ReSineModule(hidden), nn.Linear(hidden, n_out))


class ReferenceStyle:
    """The update as the reference writes it (see the module docstring)."""

    def __init__(self, config: SymphonyConfig, device: torch.device, capacity: int):
        h = config.hidden
        self.c, self.device = config, device
        self.actor = reference_ff(OBS, h, 3 * ACT).to(device)
        self.critics = nn.ModuleList([reference_ff(OBS + ACT, h, h // 4) for _ in range(3)]).to(device)
        self.target = nn.ModuleList([reference_ff(OBS + ACT, h, h // 4) for _ in range(3)]).to(device)
        self.target.load_state_dict(self.critics.state_dict())
        self.params = list(self.actor.parameters()) + list(self.critics.parameters())
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.weights = soft_value_weights(3 * (h // 4)).to(device)
        self.probs = age_probabilities(capacity).float().to(device)
        self.data = [torch.randn(capacity, n, device=device) for n in (OBS, ACT, 1, OBS, 1)]
        self.ema = torch.zeros((), device=device)

    def act(self, s):
        z = torch.tanh(self.actor(s) / 2)
        mu, sigma, beta = z.split(ACT, dim=-1)
        sigma, beta = sigma.abs(), beta.abs()
        n = torch.randn_like(mu).clamp(-math.e, math.e) / math.e
        return torch.tanh(sigma * mu + n), sigma, beta

    def q(self, nets, s, a):
        x = torch.cat([s, a], dim=-1)
        return torch.cat([net(x) for net in nets], dim=-1)

    def update(self):
        idx = torch.multinomial(self.probs, self.c.batch, replacement=True)
        s, a, r, s2, ndg = (t[idx] for t in self.data)
        a2, sigma, beta = self.act(s2)
        q_t = (self.q(self.target, s2, a2).sort(dim=-1).values * self.weights).sum(-1, keepdim=True)
        y = r + ndg * q_t.detach()
        ema_b = 0.618 * self.ema + 0.382 * q_t.detach()
        loss = (-rehae((q_t - ema_b) / ema_b.abs()) + rehse(self.q(self.critics, s, a) - y)
                + swaddle(sigma, beta))
        for p in self.params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p, m, v in zip(self.params, self.m, self.v):
                m.mul_(0.618).add_(p.grad, alpha=0.382)
                v.mul_(0.995).addcmul_(p.grad, p.grad, value=0.005)
                p.sub_(1e-4 * (m / (v.sqrt() + 1e-8) + 0.01 * p))
            for t, o in zip(self.target.parameters(), self.critics.parameters()):
                t.mul_(0.995).add_(o, alpha=0.005)
            self.ema.copy_(ema_b.mean())


# -- ours ------------------------------------------------------------------------------------------
def ours(config: SymphonyConfig, device: torch.device, compile: bool, graph: bool) -> Callable[[], None]:
    agent = Symphony(OBS, ACT, config, device)
    for tensor in agent.buffer.fields().values():
        tensor.normal_()
    agent.buffer.size = agent.buffer.capacity
    agent.accelerate(compile=compile, cuda_graph=graph)
    return agent.update


def sb3_sac(config: SymphonyConfig, device: torch.device, capacity: int) -> Callable[[], None]:
    import gymnasium as gym
    from stable_baselines3 import SAC

    env = gym.make("Humanoid-v5")
    model = SAC("MlpPolicy", env, batch_size=config.batch, buffer_size=capacity, device=device,
                learning_starts=0)
    buffer = model.replay_buffer
    buffer.observations[:] = np.random.randn(*buffer.observations.shape)
    buffer.next_observations[:] = np.random.randn(*buffer.next_observations.shape)
    buffer.actions[:] = np.random.uniform(-0.4, 0.4, buffer.actions.shape)
    buffer.full = True
    model._logger = __import__("stable_baselines3.common.logger", fromlist=["configure"]).configure(None, [])
    return lambda: model.train(gradient_steps=1, batch_size=config.batch)


def rate(update: Callable[[], None], updates: int, device: torch.device, repeats: int) -> list[float]:
    for _ in range(max(3, updates // 10)):
        update()
    out = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(updates):
            update()
        if device.type == "cuda":
            torch.cuda.synchronize()
        out.append(updates / (time.perf_counter() - start))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--batch", type=int, default=384)
    parser.add_argument("--capacity", type=int, default=512_000)
    parser.add_argument("--updates", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--skip", default="", help="comma-separated variants to leave out")
    args = parser.parse_args()
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    torch.manual_seed(0)
    config = SymphonyConfig(hidden=args.hidden, batch=args.batch, capacity=args.capacity)
    gpu = device.type == "cuda"
    variants: dict[str, Callable[[], Callable[[], None]]] = {
        "reference style (peer)": lambda: ReferenceStyle(config, device, args.capacity).update,
        "ours, eager": lambda: ours(config, device, compile=False, graph=False),
        "ours, compiled": lambda: ours(config, device, compile=True, graph=False),
    }
    if gpu:
        variants["ours, CUDA graph"] = lambda: ours(config, device, compile=False, graph=True)
        variants["ours, compiled + CUDA graph"] = lambda: ours(config, device, compile=True, graph=True)
    variants["SB3 SAC (gradient steps)"] = lambda: sb3_sac(config, device, args.capacity)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    console = Console(width=120)
    results = {}
    for name, build in variants.items():
        if any(s in name for s in skip):
            continue
        with console.status(f"measuring {name}..."):
            results[name] = float(np.median(rate(build(), args.updates, device, args.repeats)))
    peer = results["reference style (peer)"]
    table = Table(title=f"Symphony updates/s, h={args.hidden}, batch={args.batch}, on {device}"
                        f"{' (' + torch.cuda.get_device_name() + ')' if gpu else ''}")
    table.add_column("variant")
    table.add_column("updates/s", justify="right")
    table.add_column("ratio to reference style", justify="right")
    for name, value in results.items():
        table.add_row(name, f"{value:,.1f}", f"{value / peer:.2f}")
    console.print(table)
    console.print(f"torch {torch.__version__}, {platform.machine()}, {torch.get_num_threads()} threads")


if __name__ == "__main__":
    main()
