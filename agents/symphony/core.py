"""Symphony, read top to bottom: settings, networks, fading replay buffer, the one-pass update.

Symphony is an off-policy deterministic actor-critic for humanoids trained from scratch (the "S3"
variant of arXiv 2512.10477; ../shared/SYMPHONY.md is our specification). Everything here is
plain torch so that the whole update (replay sampling included) can stay on the GPU and be
captured as one CUDA graph; on the CPU the same code runs eagerly.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from control.errors import PodiumError

E = math.e


class SymphonyConfigError(PodiumError, ValueError):
    """A SymphonyConfig that cannot train as given (refused before any env step runs)."""


class AccelerationError(PodiumError, RuntimeError):
    """torch.compile or the CUDA-graph capture of the update failed; the update runs eagerly."""


# ==================================================================================================
# Settings: one dataclass; the paper's variants are presets of it, not copies of the code.
# ==================================================================================================
@dataclass(frozen=True)
class SymphonyConfig:
    hidden: int = 512                 # h; the critic has 3 nets of h/4 outputs: N = 3h/4 value nodes
    batch: int = 384
    updates_per_step: int = 3         # G, each on a fresh batch
    lr: float = 1e-4
    beta1: float = 0.618
    beta2: float = 0.995
    weight_decay: float = 0.01        # decoupled, folded into the step
    tau: float = 0.005                # Polyak rate of the target critics
    gamma: float = 0.99
    ema_alpha: float = 0.618          # temporal-advantage baseline
    a_max: float = 1.0                # MuJoCo clips ctrl to each actuator's own range
    exploration_steps: int = 10_240   # N_exp, collected by the untrained actor with noise
    exploration_repeats: int = 50     # tiled so the buffer starts full
    capacity: int | None = None       # None: exploration_steps x exploration_repeats (as the reference)
    noise_tail: int = 50              # last steps of each training episode: noise only (active = 0)
    max_episode_steps: int = 1_000
    eval_every: int = 2_500
    eval_episodes: int = 25
    gradient_dropout: float = 0.0     # S2: 0.5; a share of the gradient cut after every FF's last layer
    buffer_dtype: str = "float32"     # ED: "float16"
    seed: int = 0

    @classmethod
    def variant(cls, name: str, **overrides: Any) -> SymphonyConfig:
        """'S3' (the paper's default), 'S2', 'ED' or 'short' (ours: ~100k-step CPU runs), with any
        field overridden."""
        if name not in VARIANTS:
            raise ValueError(f"unknown Symphony variant {name!r}; choose from {sorted(VARIANTS)}")
        return cls(**{**VARIANTS[name], **overrides})

    @property
    def buffer_capacity(self) -> int:
        """The ring's size: `capacity` when set, else exploration_steps x exploration_repeats."""
        if self.capacity is not None:
            return self.capacity
        return self.exploration_steps * self.exploration_repeats

    def check_trainable(self) -> None:
        """Refuse, before any env step, settings with which a training run cannot work.

        The tiled exploration data must fill the ring exactly (the reference sets capacity =
        exploration steps x repeats): a larger ring never fills, so no update would run until
        it had, and a smaller one cannot hold the tiles at the end of exploration."""
        if self.exploration_steps < 1 or self.exploration_repeats < 1:
            raise SymphonyConfigError(f"exploration_steps ({self.exploration_steps}) and exploration_repeats "
                                      f"({self.exploration_repeats}) must be at least 1")
        product = self.exploration_steps * self.exploration_repeats
        if self.capacity is not None and self.capacity != product:
            raise SymphonyConfigError(
                f"capacity {self.capacity:,} differs from exploration_steps x exploration_repeats = "
                f"{self.exploration_steps:,} x {self.exploration_repeats} = {product:,}: the tiled "
                "exploration data must fill the buffer exactly; leave capacity unset (it is derived) "
                "or make the three agree")
        if not 0.0 <= self.gradient_dropout < 1.0:
            raise SymphonyConfigError(f"gradient_dropout must lie in [0, 1), got {self.gradient_dropout}")

    def to_dict(self) -> dict[str, Any]:
        """The settings, with the buffer capacity resolved (what a run's config.json records)."""
        return {**asdict(self), "capacity": self.buffer_capacity}


VARIANTS: dict[str, dict[str, Any]] = {  # the reference's symphony_S2/ and symphony_ED/ train.py settings
    "S3": {},
    "S2": {"lr": 5e-5, "exploration_steps": 20_480, "exploration_repeats": 25,
           "gradient_dropout": 0.5},
    "ED": {"hidden": 384, "batch": 288, "updates_per_step": 2, "exploration_steps": 7_680,
           "buffer_dtype": "float16"},
    # ours, for runs of about 100,000 env steps on a CPU: S3's budget-dependent settings
    # at a tenth (exploration 1,024 x 50 = capacity 51,200: about 1% of the run explores
    # and the ring holds about half of it, as S3's 10,240 x 50 in a 1M-step run), a
    # quarter-size network (batch = N = 3h/4 value nodes, as in S3 and ED) and an
    # evaluation every 1,000 steps with 10 episodes (100 points on the curve)
    "short": {"hidden": 128, "batch": 96, "exploration_steps": 1_024, "eval_every": 1_000,
              "eval_episodes": 10},
}


# ==================================================================================================
# Networks: one block, FF = Linear -> LayerNorm -> Linear -> ReSine -> Linear, batched over `nets`
# copies so that the three critics run as one batched matmul (same maths as three modules).
# ==================================================================================================
def resine(x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """g = sigmoid(p); y = g sin(x / g); ReSine(x) = y sigmoid(1.5 y / g)."""
    g = torch.sigmoid(p)
    y = g * torch.sin(x / g)
    return y * torch.sigmoid(1.5 * y / g)


class FF(nn.Module):
    """`nets` independent FF(in, h, out) blocks evaluated together; input (B, in) or (nets, B, in)."""

    def __init__(self, n_in: int, hidden: int, n_out: int, nets: int = 1, gradient_dropout: float = 0.0):
        super().__init__()
        self.nets, self.gradient_dropout = nets, gradient_dropout
        self.w1, self.b1 = self._linear(n_in, hidden)
        self.ln_weight = nn.Parameter(torch.ones(nets, 1, hidden))
        self.ln_bias = nn.Parameter(torch.zeros(nets, 1, hidden))
        self.w2, self.b2 = self._linear(hidden, hidden)
        bound = 1 / math.sqrt(hidden)
        self.p = nn.Parameter(torch.empty(nets, 1, hidden).uniform_(-bound, bound))
        self.w3, self.b3 = self._linear(hidden, n_out)

    def _linear(self, n_in: int, n_out: int) -> tuple[nn.Parameter, nn.Parameter]:
        bound = 1 / math.sqrt(n_in)  # torch.nn.Linear's default initialisation
        weight = nn.Parameter(torch.empty(self.nets, n_in, n_out).uniform_(-bound, bound))
        bias = nn.Parameter(torch.empty(self.nets, 1, n_out).uniform_(-bound, bound))
        return weight, bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.nets, -1, -1)
        x = torch.baddbmm(self.b1, x, self.w1)
        x = F.layer_norm(x, x.shape[-1:]) * self.ln_weight + self.ln_bias
        x = resine(torch.baddbmm(self.b2, x, self.w2), self.p)
        out = torch.baddbmm(self.b3, x, self.w3)  # (nets, B, out)
        # S2: after the last layer, in every FF, the target's too (as the reference S2, whose
        # TorchScript modules have no train/eval switch). Without autograd it would change nothing.
        if self.gradient_dropout > 0 and torch.is_grad_enabled():
            out = drop_gradient(out, self.gradient_dropout)
        return out


def drop_gradient(x: torch.Tensor, p: float) -> torch.Tensor:
    """S2's gradient dropout: mask = rand_like(x) > p; y = mask x + (1 - mask) x.detach().
    The forward value is x itself; the gradient reaches x only where the mask is set."""
    mask = (torch.rand_like(x) > p).to(x.dtype)
    return mask * x + (1 - mask) * x.detach()


class ActorCritic(nn.Module):
    """Actor FF(S, h, 3A) and three critics FF(S+A, h, h/4) on one module."""

    def __init__(self, obs_dim: int, act_dim: int, config: SymphonyConfig):
        super().__init__()
        self.act_dim, self.a_max = act_dim, config.a_max
        self.actor = FF(obs_dim, config.hidden, 3 * act_dim, gradient_dropout=config.gradient_dropout)
        self.critic_net = FF(obs_dim + act_dim, config.hidden, config.hidden // 4, nets=3,
                             gradient_dropout=config.gradient_dropout)

    def act(self, obs: torch.Tensor, active: float = 1.0, noise: float = 1.0,
            generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Action, sigma and beta. a = a_max tanh(active sigma mu + noise n), n in [-1, 1].
        n is drawn from `generator` (the env loop's own stream), else from torch's default one."""
        z = torch.tanh(self.actor(obs)[0] / 2)
        mu, sigma, beta = z.split(self.act_dim, dim=-1)
        sigma, beta = sigma.abs(), beta.abs()
        if noise == 0:  # noiseless (evaluation): draw nothing, so no random stream moves
            return self.a_max * torch.tanh(active * sigma * mu), sigma, beta
        if generator is None:
            n = torch.randn_like(mu)
        else:
            n = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        action = self.a_max * torch.tanh(active * sigma * mu + noise * (n.clamp(-E, E) / E))
        return action, sigma, beta

    def critic(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """All N = 3h/4 value nodes, (B, N)."""
        nodes = self.critic_net(torch.cat([obs, action], dim=-1))  # (3, B, h/4)
        return nodes.permute(1, 0, 2).reshape(obs.shape[0], -1)


class Policy(nn.Module):
    """The actor alone (what acting needs): its parameters are ActorCritic's `actor.*`, so it loads
    from a policy snapshot or from the online network of a full checkpoint."""

    def __init__(self, obs_dim: int, act_dim: int, config: SymphonyConfig):
        super().__init__()
        self.act_dim, self.a_max = act_dim, config.a_max
        self.actor = FF(obs_dim, config.hidden, 3 * act_dim)

    act = ActorCritic.act  # the same maths, on the same `actor`, `act_dim` and `a_max`

    @torch.no_grad()
    def act_batch(self, obs: np.ndarray, active: float = 1.0, noise: float = 0.0) -> np.ndarray:
        """Noiseless actions for a batch (B, obs_dim), or one observation as a batch of one."""
        x = torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=self.actor.w1.device)
        return self.act(x.reshape(len(x) if x.dim() > 1 else 1, -1), active, noise)[0].cpu().numpy()


def soft_value_weights(n: int) -> torch.Tensor:
    """w_i proportional to tanh((pi (1 - i/N)) ** e), i = 0..N-1 over the nodes sorted ascending."""
    i = torch.arange(n, dtype=torch.float64)
    w = torch.tanh((math.pi * (1 - i / n)) ** E)
    return (w / w.sum()).float()


def soft_value(nodes: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Sorted weighted sum of the value nodes: little weight on the highest (over-estimation)."""
    return (nodes.sort(dim=-1).values * weights).sum(dim=-1, keepdim=True)


# ==================================================================================================
# Loss terms
# ==================================================================================================
def rehse(x: torch.Tensor) -> torch.Tensor:
    """ReHSE(x) = mean(x tanh(x / 2))."""
    return (x * torch.tanh(x / 2)).mean()


def rehae(x: torch.Tensor) -> torch.Tensor:
    """ReHAE(x) = mean(|x| tanh(x / 2))."""
    return (x.abs() * torch.tanh(x / 2)).mean()


def swaddle(sigma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """mean(Omega(sigma^(1/beta.detach())) + beta omega(sigma) + Omega(beta^2)),
    Omega(x) = ln((1+x)/(1-x)), omega(x) = x ln x; sigma and beta clamped to [1e-3, 1-1e-3]."""
    sigma = sigma.clamp(1e-3, 1 - 1e-3)
    beta = beta.clamp(1e-3, 1 - 1e-3)

    def big_omega(x: torch.Tensor) -> torch.Tensor:
        return torch.log((1 + x) / (1 - x))

    return (big_omega(sigma ** (1 / beta.detach())) + beta * sigma * torch.log(sigma)
            + big_omega(beta ** 2)).mean()


# ==================================================================================================
# Fading replay buffer: a ring on the device; sampling probability by age, tanh((pi i) ** e)
# ==================================================================================================
def age_probabilities(n: int) -> torch.Tensor:
    """p over ages, index 0 = oldest; w(i) = tanh((pi i) ** e) with i in [0, 1]."""
    i = torch.linspace(0.0, 1.0, n, dtype=torch.float64)
    w = torch.tanh((math.pi * i) ** E)
    return w / w.sum()


def exploration_share(config: SymphonyConfig, env_steps: int) -> float:
    """Expected share of a training batch that is (tiled) exploration data at `env_steps`.

    From the sampling weights: after exploration every env step writes one row over the oldest,
    so k = env_steps - exploration_steps training rows hold the newest k ages and the exploration
    rows the oldest capacity - k; their share is the age CDF there. Terminal rows, which the ring
    never drops, are left out (a few exploration terminals stay for the whole run)."""
    capacity = config.buffer_capacity
    written = env_steps - config.exploration_steps
    if written <= 0:
        return 1.0
    oldest = capacity - written
    if oldest <= 0:
        return 0.0
    return float(age_probabilities(capacity)[:oldest].sum())


class FadingReplayBuffer:
    """Ring buffer of (s, a, r_hat, s', not_done_gamma) on `device`.

    The slot at `head` is the oldest; writing there makes it the newest and moves the head on.
    Terminal transitions are never dropped. The reference rolls its buffer by two instead of one
    when its oldest row is terminal, so the terminal re-enters at the newest end and the second
    oldest row goes; here the head skips the terminal slot instead: the terminal becomes the
    newest by age without a row being copied, and the next write takes the slot after it (the
    second oldest). The head therefore never rests on a terminal, whose sampling weight would
    be zero at age 0; terminals cycle through the ring for the whole run. (Where the reference
    has two terminals side by side at its old end it drops the second; we skip every terminal
    in a row, so none is ever lost. Only a ring holding nothing but terminals drops its oldest.)
    Samples are drawn by age through the inverse CDF (searchsorted), entirely on the device,
    once the buffer is full.
    """

    def __init__(self, obs_dim: int, act_dim: int, capacity: int, device: torch.device | str,
                 dtype: torch.dtype = torch.float32):
        self.capacity, self.device = capacity, torch.device(device)
        self.obs = torch.zeros(capacity, obs_dim, dtype=dtype, device=self.device)
        self.actions = torch.zeros(capacity, act_dim, dtype=dtype, device=self.device)
        self.rewards = torch.zeros(capacity, 1, dtype=dtype, device=self.device)
        self.next_obs = torch.zeros(capacity, obs_dim, dtype=dtype, device=self.device)
        self.not_done_gamma = torch.ones(capacity, 1, dtype=dtype, device=self.device)
        self.terminal = np.zeros(capacity, dtype=bool)  # host mirror: no device sync per step
        # Since the last tiling: which slots were written (the others hold exploration row
        # slot % tile_period), so a checkpoint stores every distinct row once, not 50 times.
        self.written = np.zeros(capacity, dtype=bool)
        self.tile_period = 0  # rows tiled (0: nothing tiled, every stored row is written)
        self.size = 0
        self.head = 0
        self.head_tensor = torch.zeros((), dtype=torch.long, device=self.device)  # for graphs
        self.cdf = torch.cumsum(age_probabilities(capacity), 0).float().to(self.device)

    def fields(self) -> dict[str, torch.Tensor]:
        return {"obs": self.obs, "actions": self.actions, "rewards": self.rewards,
                "next_obs": self.next_obs, "not_done_gamma": self.not_done_gamma}

    def add(self, obs: np.ndarray, action: np.ndarray, reward: float, next_obs: np.ndarray,
            not_done_gamma: float) -> None:
        """Append one transition (reward already normalised)."""
        if self.size < self.capacity:
            slot = self.size
            self.size += 1
        else:
            slot = self.head  # the oldest, never a terminal (unless every row is one)
        row = np.concatenate([obs, action, [reward], next_obs, [not_done_gamma]]).astype(np.float32)
        self._write(slot, torch.from_numpy(row))
        self.terminal[slot] = not_done_gamma == 0.0
        self.written[slot] = True
        if self.full:
            self._move_head((slot + 1) % self.capacity)

    def _move_head(self, head: int) -> None:
        """Put the head at the first non-terminal slot from `head` on: each terminal skipped
        becomes the newest by age (it re-enters at the newest end, as the reference's roll by two)."""
        for offset in range(self.capacity):
            slot = (head + offset) % self.capacity
            if not self.terminal[slot]:
                head = slot
                break
        self.head = head
        self.head_tensor.fill_(head)

    def _write(self, slot: int, row: torch.Tensor) -> None:
        row = row.to(self.device, non_blocking=True)
        start = 0
        for tensor in self.fields().values():
            width = tensor.shape[1]
            tensor[slot] = row[start:start + width].to(tensor.dtype)
            start += width

    def fill_by_tiling(self, repeats: int) -> None:
        """Repeat what is stored `repeats` times (exploration data -> a full buffer)."""
        n = self.size
        if n * repeats > self.capacity:
            raise ValueError(f"{n} transitions x {repeats} exceed the capacity {self.capacity}")
        for tensor in self.fields().values():
            tensor[: n * repeats] = tensor[:n].repeat(repeats, 1)
        self.terminal[: n * repeats] = np.tile(self.terminal[:n], repeats)
        self.written[:] = False
        self.tile_period = n
        self.size = n * repeats
        self.head = 0  # slot 0 holds the oldest data, whether or not the ring is full yet
        self.head_tensor.fill_(0)
        if self.full:  # the head skips terminals, as after every write to a full ring
            self._move_head(0)

    @property
    def full(self) -> bool:
        return self.size == self.capacity

    def sample_indices(self, batch: int) -> torch.Tensor:
        """Slots drawn with replacement by age (only once full): inverse CDF, on the device."""
        age = torch.searchsorted(self.cdf, torch.rand(batch, device=self.device))
        return (self.head_tensor + age.clamp_(max=self.capacity - 1)) % self.capacity

    def sample(self, batch: int) -> tuple[torch.Tensor, ...]:
        idx = self.sample_indices(batch)
        return tuple(t[idx].float() for t in self.fields().values())

    # -- checkpoints: every distinct row once -----------------------------------------------------
    def export_state(self) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
        """Tensors (on the CPU) and counters that rebuild this buffer exactly (`import_state`).

        A slot not written since the tiling holds exploration row `slot % tile_period`; those rows
        are stored once each (only the ones still somewhere in the ring), the written slots as
        they are, and the tiling is rebuilt on load. Before any tiling every row is written."""
        size = self.size
        written = self.written[:size] if self.tile_period else np.ones(size, dtype=bool)
        written_slots, tiled_slots = np.flatnonzero(written), np.flatnonzero(~written)
        rows, first = np.unique(tiled_slots % max(self.tile_period, 1), return_index=True)
        sources = tiled_slots[first]  # one slot holding each exploration row still in the ring
        tensors = {"written_slots": torch.from_numpy(written_slots.astype(np.int64)),
                   "tile_rows": torch.from_numpy(rows.astype(np.int64)),
                   "terminal": torch.from_numpy(self.terminal[:size].copy())}
        for name, tensor in self.fields().items():
            tensors[f"{name}.written"] = tensor[torch.from_numpy(written_slots).to(self.device)].cpu()
            tensors[f"{name}.tiled"] = tensor[torch.from_numpy(sources).to(self.device)].cpu()
        return tensors, {"size": size, "head": self.head, "tile_period": self.tile_period}

    def import_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, int]) -> None:
        """The buffer `export_state` described, in place (the same tensors, so graphs stay valid)."""
        size, period = int(meta["size"]), int(meta["tile_period"])
        written_slots = tensors["written_slots"].numpy()
        written = np.zeros(self.capacity, dtype=bool)
        written[written_slots] = True
        tiled_slots = np.flatnonzero(~written[:size])
        # the stored exploration row of each tiled slot, by its position in the sorted tile_rows
        which = np.searchsorted(tensors["tile_rows"].numpy(), tiled_slots % max(period, 1))
        for name, tensor in self.fields().items():
            if len(tiled_slots):
                tensor[torch.from_numpy(tiled_slots).to(self.device)] = \
                    tensors[f"{name}.tiled"][torch.from_numpy(which)].to(self.device, tensor.dtype)
            if len(written_slots):
                tensor[torch.from_numpy(written_slots).to(self.device)] = \
                    tensors[f"{name}.written"].to(self.device, tensor.dtype)
        self.terminal[:] = False
        self.terminal[:size] = tensors["terminal"].numpy()
        self.written = written
        self.tile_period, self.size, self.head = period, size, int(meta["head"])
        self.head_tensor.fill_(self.head)


# ==================================================================================================
# The update: one pass, one loss, one optimiser step for actor and critics together.
# ==================================================================================================
UPDATE_STATS = ("loss", "critic_loss", "actor_loss", "swaddle", "ema", "sigma", "beta")
"""What each update logs: the loss and its three terms (critic = ReHSE(Q - y); actor = the
temporal-advantage term -ReHAE((q_t - ema_b)/|ema_b|); swaddle), the EMA baseline after the update,
and the mean sigma and beta the actor gave the batch's next states."""


class Symphony:
    """Online and target ActorCritic, the optimiser state, the EMA baseline and the buffer."""

    def __init__(self, obs_dim: int, act_dim: int, config: SymphonyConfig,
                 device: torch.device | str = "cpu"):
        self.config, self.device = config, torch.device(device)
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.online = ActorCritic(obs_dim, act_dim, config).to(self.device)
        self.target = ActorCritic(obs_dim, act_dim, config).to(self.device)
        self.target.load_state_dict(self.online.state_dict())
        self.target.requires_grad_(False)
        self.params = list(self.online.parameters())
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.online_critic = list(self.online.critic_net.parameters())
        self.target_critic = list(self.target.critic_net.parameters())
        self.weights = soft_value_weights(3 * (config.hidden // 4)).to(self.device)
        self.ema = torch.zeros((), device=self.device)
        self.last_loss = torch.zeros((), device=self.device)
        # Sums of UPDATE_STATS over the updates since the last take_update_stats(), and their
        # count last: added in place by every update (inside a CUDA graph too), read now and then.
        self.update_stats = torch.zeros(len(UPDATE_STATS) + 1, device=self.device)
        dtype = torch.float16 if config.buffer_dtype == "float16" else torch.float32
        self.buffer = FadingReplayBuffer(obs_dim, act_dim, config.buffer_capacity, self.device, dtype)
        self.updates = 0
        # The env loop's action noise has its own stream (the updates draw from torch's default one).
        self.noise_generator = torch.Generator(device=self.device)
        self.noise_generator.manual_seed(config.seed)
        self.mode = "eager"
        self._acceleration = (False, False)  # (compile, cuda_graph) in force
        self._compiled_loss: Callable | None = None
        self._loss_fn = self.loss
        self._step: Callable[[], Any] = self.update_eager

    # -- acting ----------------------------------------------------------------------------------
    @torch.no_grad()
    def act(self, obs: np.ndarray, active: float = 1.0, noise: float = 1.0) -> np.ndarray:
        x = torch.as_tensor(obs, dtype=torch.float32, device=self.device).unsqueeze(0)
        return self.online.act(x, active, noise, generator=self.noise_generator)[0][0].cpu().numpy()

    @torch.no_grad()
    def act_batch(self, obs: np.ndarray, active: float = 1.0, noise: float = 0.0) -> np.ndarray:
        """Actions for a batch of observations (B, obs_dim) in one forward: noiseless by default
        (evaluation), which draws no random number."""
        x = torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=self.device).reshape(len(obs), -1)
        return self.online.act(x, active, noise, generator=self.noise_generator)[0].cpu().numpy()

    def take_update_stats(self) -> dict[str, float] | None:
        """The mean of each UPDATE_STATS entry over the updates since the last call (None if
        there were none), and reset the sums. One device sync per call."""
        sums = self.update_stats.tolist()
        count = int(sums[-1])
        if count == 0:
            return None
        self.update_stats.zero_()
        return {"updates_averaged": count, **{k: v / count for k, v in zip(UPDATE_STATS, sums)}}

    # -- the loss --------------------------------------------------------------------------------
    def loss(self, obs, actions, rewards, next_obs, not_done_gamma, ema):
        """L = -ReHAE((q_t - ema_b)/|ema_b|) + ReHSE(Q(s, a) - y) + Swaddle(sigma', beta').

        Returns the loss, the new EMA baseline and the detached UPDATE_STATS (with a 1 appended,
        the count) for the logs."""
        next_action, sigma, beta = self.online.act(next_obs)             # noise on, active on
        q_t = soft_value(self.target.critic(next_obs, next_action), self.weights)
        q_t_d = q_t.detach()
        y = rewards + not_done_gamma * q_t_d
        ema_b = self.config.ema_alpha * ema + (1 - self.config.ema_alpha) * q_t_d
        actor = -rehae((q_t - ema_b) / ema_b.abs())
        critic = rehse(self.online.critic(obs, actions) - y)
        swaddling = swaddle(sigma, beta)
        loss = actor + critic + swaddling
        new_ema = ema_b.mean()
        stats = torch.stack([loss, critic, actor, swaddling, new_ema, sigma.mean(), beta.mean(),
                             torch.ones_like(loss)]).detach()
        return loss, new_ema, stats

    def update_eager(self) -> None:
        """One update on a fresh batch: sample, loss, gradients, optimiser, Polyak target."""
        batch = self.buffer.sample(self.config.batch)
        loss, new_ema, stats = self._loss_fn(*batch, self.ema)
        grads = torch.autograd.grad(loss, self.params)
        with torch.no_grad():  # else the target would join the autograd graph, growing each update
            self._optimiser_step(grads)
            torch._foreach_lerp_(self.target_critic, self.online_critic, self.config.tau)
            self.ema.copy_(new_ema)
            self.last_loss.copy_(loss)
            self.update_stats.add_(stats)

    def _optimiser_step(self, grads: tuple[torch.Tensor, ...]) -> None:
        """Adam without bias correction, decoupled weight decay folded in:
        m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr (m / (sqrt(v) + 1e-8) + wd p)."""
        c = self.config
        torch._foreach_lerp_(self.exp_avg, grads, 1 - c.beta1)
        torch._foreach_mul_(self.exp_avg_sq, c.beta2)
        torch._foreach_addcmul_(self.exp_avg_sq, grads, grads, value=1 - c.beta2)
        denom = torch._foreach_sqrt(self.exp_avg_sq)
        torch._foreach_add_(denom, 1e-8)
        step = torch._foreach_div(self.exp_avg, denom)
        torch._foreach_add_(step, self.params, alpha=c.weight_decay)
        torch._foreach_add_(self.params, step, alpha=-c.lr)

    # -- speed: the same update compiled and/or captured as one CUDA graph ----------------------
    def accelerate(self, compile: bool = False, cuda_graph: bool | None = None) -> str:
        """Choose how `update()` runs: 'eager', 'compiled', 'graph' or 'compiled+graph'.

        Idempotent: asking for the mode already in force compiles and captures nothing again.
        Any compile or capture error leaves the agent eager, its training state untouched, and
        is raised as AccelerationError naming the cause (callers fall back to eager)."""
        cuda_graph = self.device.type == "cuda" if cuda_graph is None else cuda_graph
        request = (compile, cuda_graph)
        if request == self._acceleration:
            return self.mode
        self._set_mode((False, False), self.loss, self.update_eager)
        if request == (False, False):
            return self.mode
        wanted = _mode_name(*request)
        try:
            loss_fn = self._compile_loss() if compile else self.loss
            self._loss_fn = loss_fn
            step = self._capture() if cuda_graph else self._rehearse_compiled()
        except Exception as exc:
            self._set_mode((False, False), self.loss, self.update_eager)
            raise AccelerationError(f"{wanted} update failed on {self.device}: "
                                    f"{type(exc).__name__}: {exc}") from exc
        self._set_mode(request, loss_fn, step)
        return self.mode

    def _set_mode(self, request: tuple[bool, bool], loss_fn: Callable, step: Callable[[], Any]) -> None:
        self._acceleration, self._loss_fn, self._step = request, loss_fn, step
        self.mode = _mode_name(*request)

    def _compile_loss(self) -> Callable:
        """torch.compile of the loss, made once per agent (asking again reuses it)."""
        if self._compiled_loss is None:
            self._compiled_loss = torch.compile(self.loss, fullgraph=True, dynamic=False)
        return self._compiled_loss

    def _rehearse_compiled(self) -> Callable[[], None]:
        """One update through the compiled loss now, undone, so that a compile error surfaces here
        (torch.compile compiles at the first call) rather than in the middle of a run."""
        snapshot = self.state_tensors()
        try:
            self.update_eager()
        finally:
            self.load_state_tensors(snapshot)  # a rehearsal is not training
        return self.update_eager

    def _capture(self) -> Callable[[], Any]:
        """Record one whole update (sampling included) as a CUDA graph; replay it per update."""
        if self.device.type != "cuda":
            raise RuntimeError(f"CUDA graphs need a CUDA device, not {self.device}")
        if not self.buffer.full:
            raise RuntimeError("capture the update once the buffer is full (after exploration)")
        snapshot = self.state_tensors()
        try:
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                for _ in range(3):  # warm-up on a side stream, as capture requires
                    self.update_eager()
            torch.cuda.current_stream().wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                self.update_eager()
        finally:
            self.load_state_tensors(snapshot)  # warm-up and capture must not count as training
        return graph.replay

    def update(self) -> None:
        self._step()
        self.updates += 1

    # -- state, for checkpoints ------------------------------------------------------------------
    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Every tensor that defines training state, by name (networks, optimiser, EMA)."""
        out = {f"online.{k}": v for k, v in self.online.state_dict().items()}
        out.update({f"target.{k}": v for k, v in self.target.state_dict().items()})
        out.update({f"exp_avg.{i}": t for i, t in enumerate(self.exp_avg)})
        out.update({f"exp_avg_sq.{i}": t for i, t in enumerate(self.exp_avg_sq)})
        out["ema"] = self.ema
        out["update_stats"] = self.update_stats  # the logs' running sums: a resume continues them
        return {k: v.detach().clone() for k, v in out.items()}

    @torch.no_grad()
    def load_state_tensors(self, state: dict[str, torch.Tensor]) -> None:
        """In place, so captured graphs keep pointing at the same memory."""
        for prefix, module in (("online.", self.online), ("target.", self.target)):
            for k, v in module.state_dict().items():
                v.copy_(state[prefix + k])
        for i, t in enumerate(self.exp_avg):
            t.copy_(state[f"exp_avg.{i}"])
        for i, t in enumerate(self.exp_avg_sq):
            t.copy_(state[f"exp_avg_sq.{i}"])
        self.ema.copy_(state["ema"])
        if "update_stats" in state:  # absent from checkpoints written before the logs had it
            self.update_stats.copy_(state["update_stats"])
        else:
            self.update_stats.zero_()


def _mode_name(compile: bool, cuda_graph: bool) -> str:
    return "+".join([m for m, on in (("compiled", compile), ("graph", cuda_graph)) if on]) or "eager"


def probe_acceleration(obs_dim: int, act_dim: int, config: SymphonyConfig, device: torch.device | str,
                       compile: bool = False, cuda_graph: bool = True) -> str:
    """Compile and capture the update once on a scratch agent with a small random buffer, and
    replay it: the whole path a run takes after exploration, tried at start-up instead. Leaves
    no trace on the random streams. Returns the mode; raises AccelerationError on failure."""
    device = torch.device(device)
    scratch_config = replace(config, capacity=max(4 * config.batch, 1024))
    cuda = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else []

    def attempt() -> str:
        scratch = Symphony(obs_dim, act_dim, scratch_config, device)
        for tensor in scratch.buffer.fields().values():
            tensor.normal_()
        scratch.buffer.not_done_gamma.fill_(config.gamma)
        scratch.buffer.size = scratch.buffer.capacity
        mode = scratch.accelerate(compile=compile, cuda_graph=cuda_graph)
        try:
            for _ in range(2):
                scratch.update()
            if cuda:
                torch.cuda.synchronize(device)
        except Exception as exc:
            raise AccelerationError(f"{mode} update failed on {device} at replay: "
                                    f"{type(exc).__name__}: {exc}") from exc
        finally:
            scratch._set_mode((False, False), scratch.loss, scratch.update_eager)  # frees the graph
        return mode

    with torch.random.fork_rng(devices=cuda):
        return attempt()
