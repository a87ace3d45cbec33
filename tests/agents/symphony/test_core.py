"""Symphony's formulas, each against its closed form or a hand computation."""
from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from agents.symphony.core import (
    AccelerationError,
    FadingReplayBuffer,
    Symphony,
    SymphonyConfig,
    SymphonyConfigError,
    age_probabilities,
    probe_acceleration,
    rehae,
    rehse,
    resine,
    soft_value,
    soft_value_weights,
    swaddle,
)
from control.errors import PodiumError
from tests.conftest import gpu

E = math.e


def closed_form_mass(lo: float, hi: float) -> float:
    """Share of the integral of tanh((pi x) ** e) over [0, 1] that lies in [lo, hi]."""
    def integral(a: float, b: float) -> float:
        x = np.linspace(a, b, 200_001)
        return float(np.trapezoid(np.tanh((np.pi * x) ** E), x))
    return integral(lo, hi) / integral(0.0, 1.0)


def test_fading_mass_matches_the_closed_form():
    p = age_probabilities(512_000).numpy()
    oldest_tenth, newest_half = p[:51_200].sum(), p[256_000:].sum()
    assert oldest_tenth == pytest.approx(closed_form_mass(0.0, 0.1), abs=1e-5)
    assert newest_half == pytest.approx(closed_form_mass(0.5, 1.0), abs=1e-5)
    assert oldest_tenth == pytest.approx(0.0015, abs=0.0003)   # "about 0.15%"
    assert newest_half == pytest.approx(0.67, abs=0.01)        # "about 67%"


def full_buffer(capacity: int = 1000) -> FadingReplayBuffer:
    buffer = FadingReplayBuffer(1, 1, capacity, "cpu")
    for i in range(capacity):
        buffer.add(np.array([i], np.float32), np.zeros(1), 0.0, np.zeros(1), 0.99)
    return buffer


def test_sampling_follows_age_probabilities_on_a_wrapped_ring():
    torch.manual_seed(0)
    buffer = full_buffer(1000)
    for i in range(1000, 1300):  # wrap: slots 0..299 now hold the newest transitions
        buffer.add(np.array([i], np.float32), np.zeros(1), 0.0, np.zeros(1), 0.99)
    ages = (buffer.obs[buffer.sample_indices(400_000)][:, 0] - 300).numpy()  # 0 = oldest stored
    observed = np.histogram(ages, bins=10, range=(0, 1000))[0] / len(ages)
    expected = age_probabilities(1000).numpy().reshape(10, 100).sum(axis=1)
    np.testing.assert_allclose(observed, expected, atol=0.004)


def add(buffer: FadingReplayBuffer, i: int, terminal: bool = False) -> None:
    buffer.add(np.array([i], np.float32), np.zeros(1), 0.0, np.zeros(1), 0.0 if terminal else 0.99)


def by_age(buffer: FadingReplayBuffer) -> list[int]:
    """Stored ids, oldest first."""
    return [int(buffer.obs[(buffer.head + a) % buffer.capacity, 0]) for a in range(buffer.capacity)]


def test_an_oldest_terminal_re_enters_at_the_newest_end_and_the_second_oldest_goes():
    """The reference's roll by two: the terminal comes back as the second newest, the row after
    it is dropped; here the head skips the terminal's slot instead (no row copy)."""
    buffer = FadingReplayBuffer(1, 1, 6, "cpu")
    for i in range(6):
        add(buffer, i, terminal=i == 1)
    add(buffer, 6)  # 0 goes; the terminal 1 is now the oldest: it is skipped at once
    assert by_age(buffer) == [2, 3, 4, 5, 6, 1] and not buffer.terminal[buffer.head]
    add(buffer, 7)  # the second oldest (2) goes, the terminal is the second newest
    assert by_age(buffer) == [3, 4, 5, 6, 1, 7]


def test_terminals_are_never_lost_through_many_wraparounds_and_all_are_sampled():
    torch.manual_seed(0)
    capacity = 20
    terminals = {2, 3, 9, 19, 150, 151, 433, 700}  # 2, 3 and 150, 151 side by side; 19 is the last fill
    buffer = FadingReplayBuffer(1, 1, capacity, "cpu")
    for i in range(1000):  # 50 times round the ring
        add(buffer, i, terminal=i in terminals)
        if buffer.full:
            assert not buffer.terminal[buffer.head]  # never at age 0, where the weight is exactly 0
        stored = set(by_age(buffer))
        assert {t for t in terminals if t <= i} <= stored, f"a terminal was dropped at step {i}"
    ids = by_age(buffer)
    assert sorted(t for t in ids if t in terminals) == sorted(terminals)
    assert int(buffer.terminal.sum()) == len(terminals)
    assert (buffer.not_done_gamma[:, 0] == 0).sum().item() == len(terminals)
    others = [t for t in ids if t not in terminals]
    assert others == list(range(1000 - len(others), 1000))  # the newest non-terminals, in order
    sampled = buffer.obs[buffer.sample_indices(50_000)][:, 0].long().tolist()
    counts = {t: sampled.count(t) for t in terminals}
    assert all(n > 0 for n in counts.values()), counts


def test_tiling_into_a_full_ring_skips_a_terminal_at_the_old_end():
    buffer = FadingReplayBuffer(1, 1, 6, "cpu")
    for i in range(3):
        add(buffer, i, terminal=i == 0)
    buffer.fill_by_tiling(2)
    assert buffer.full and buffer.head == 1 and int(buffer.head_tensor) == 1
    add(buffer, 10)
    assert by_age(buffer) == [2, 0, 1, 2, 0, 10]  # both copies of the terminal are still there


def test_ring_after_partial_tiling_overwrites_the_oldest_first():
    buffer = FadingReplayBuffer(1, 1, 10, "cpu")
    for i in range(3):
        buffer.add(np.array([i], np.float32), np.zeros(1), 0.0, np.zeros(1), 0.99)
    buffer.fill_by_tiling(2)  # 6 of 10 slots
    for i in range(100, 105):
        buffer.add(np.array([i], np.float32), np.zeros(1), 0.0, np.zeros(1), 0.99)
    assert buffer.obs[:, 0].tolist() == [104, 1, 2, 0, 1, 2, 100, 101, 102, 103]  # slot 0 went first


def test_tiling_fills_the_buffer_and_marks_terminals():
    buffer = FadingReplayBuffer(1, 1, 12, "cpu")
    for i in range(4):
        buffer.add(np.array([i], np.float32), np.zeros(1), float(i), np.zeros(1), 0.0 if i == 1 else 0.99)
    buffer.fill_by_tiling(3)
    assert buffer.full and buffer.obs[:, 0].tolist() == [0, 1, 2, 3] * 3
    assert buffer.terminal.tolist() == [False, True, False, False] * 3


def assert_same_buffer(a: FadingReplayBuffer, b: FadingReplayBuffer) -> None:
    for name, tensor in a.fields().items():
        assert tensor.dtype == b.fields()[name].dtype and torch.equal(tensor, b.fields()[name]), name
    assert np.array_equal(a.terminal, b.terminal) and np.array_equal(a.written, b.written)
    assert (a.size, a.head, a.tile_period, int(a.head_tensor)) == (b.size, b.head, b.tile_period, int(b.head_tensor))


def round_trip(buffer: FadingReplayBuffer) -> tuple[FadingReplayBuffer, dict[str, torch.Tensor]]:
    tensors, meta = buffer.export_state()
    restored = FadingReplayBuffer(2, 1, buffer.capacity, "cpu", buffer.obs.dtype)
    restored.import_state(tensors, json.loads(json.dumps(meta)))  # the meta goes through JSON
    return restored, tensors


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_a_saved_buffer_stores_each_distinct_row_once_and_restores_identically(dtype):
    rng = np.random.default_rng(0)

    def put(buffer, i, terminal=False):
        buffer.add(np.array([i, rng.standard_normal()]), rng.standard_normal(1), float(i), rng.standard_normal(2),
                   0.0 if terminal else 0.99)
    buffer = FadingReplayBuffer(2, 1, 28, "cpu", dtype)
    for i in range(7):
        put(buffer, i, terminal=i in (0, 4))
    restored, tensors = round_trip(buffer)  # before tiling: every row as it is
    assert_same_buffer(buffer, restored)
    assert len(tensors["obs.written"]) == 7 and len(tensors["obs.tiled"]) == 0
    buffer.fill_by_tiling(4)
    restored, tensors = round_trip(buffer)
    assert_same_buffer(buffer, restored)
    assert len(tensors["obs.tiled"]) == 7 and len(tensors["obs.written"]) == 0  # 7 rows, not 28
    for i in range(100, 117):  # wraps past the terminal copies, which the head skips
        put(buffer, i, terminal=i == 105)
    restored, tensors = round_trip(buffer)
    assert_same_buffer(buffer, restored)
    # 17 writes took the 15 non-terminal slots of three copies and 2 of the fourth: its rows 3, 5, 6
    # and the terminal rows 0 and 4 (every copy) are the exploration rows left, each stored once
    assert len(tensors["obs.written"]) == 17 and tensors["tile_rows"].tolist() == [0, 3, 4, 5, 6]
    for i in range(200, 240):  # every non-terminal exploration copy is gone now
        put(buffer, i)
    restored, tensors = round_trip(buffer)
    assert_same_buffer(buffer, restored)
    assert sorted(tensors["tile_rows"].tolist()) == [0, 4]  # only the exploration terminals remain
    for i in range(300, 310):  # and both go on identically
        row = (np.array([i, 0.5]), np.ones(1), 1.0, np.zeros(2), 0.99)
        buffer.add(*row)
        restored.add(*row)
    assert_same_buffer(buffer, restored)
    torch.manual_seed(5)
    a = buffer.sample_indices(64)
    torch.manual_seed(5)
    assert torch.equal(a, restored.sample_indices(64))


def test_soft_value_weights_put_little_weight_on_the_highest_nodes():
    w = soft_value_weights(384)
    assert w.sum().item() == pytest.approx(1.0, abs=1e-6)
    assert torch.all(w[1:] <= w[:-1])
    i = torch.arange(384, dtype=torch.float64)
    raw = torch.tanh((math.pi * (1 - i / 384)) ** E)
    torch.testing.assert_close(w, (raw / raw.sum()).float())
    nodes = torch.tensor([[5.0, 1.0, 3.0, 2.0]])
    w4 = soft_value_weights(4)
    assert soft_value(nodes, w4).item() == pytest.approx((w4 * torch.tensor([1.0, 2, 3, 5])).sum().item())
    assert soft_value(torch.full((1, 4), 7.0), w4).item() == pytest.approx(7.0)


def test_resine_matches_its_formula():
    x, p = torch.tensor([-2.0, 0.3, 1.7]), torch.tensor([0.5, -1.0, 2.0])
    g = 1 / (1 + torch.exp(-p))
    y = g * torch.sin(x / g)
    torch.testing.assert_close(resine(x, p), y / (1 + torch.exp(-1.5 * y / g)))


def test_rehse_and_rehae():
    x = torch.tensor([-1.0, 0.5, 2.0])
    assert rehse(x).item() == pytest.approx(float(np.mean([v * np.tanh(v / 2) for v in (-1, 0.5, 2)])))
    assert rehae(x).item() == pytest.approx(float(np.mean([abs(v) * np.tanh(v / 2) for v in (-1, 0.5, 2)])))


def test_swaddle_value_and_gradient_signs():
    sigma = torch.tensor([0.5], requires_grad=True)
    beta = torch.tensor([0.5], requires_grad=True)
    value = swaddle(sigma, beta)
    def omega_big(x): return math.log((1 + x) / (1 - x))
    expected = omega_big(0.5 ** 2) + 0.5 * 0.5 * math.log(0.5) + omega_big(0.25)
    assert value.item() == pytest.approx(expected, rel=1e-6)
    d_sigma, d_beta = torch.autograd.grad(value, [sigma, beta])
    assert d_sigma.item() > 0  # stronger actions cost more
    # beta is detached in the exponent: only beta*omega(sigma) and Omega(beta^2) move it
    assert d_beta.item() == pytest.approx(0.5 * math.log(0.5) + 2 / (1 - 0.5 ** 4) * 2 * 0.5, rel=1e-5)


def test_optimiser_step_matches_a_hand_computation():
    config = SymphonyConfig(hidden=8, capacity=4, lr=0.1, beta1=0.618, beta2=0.995, weight_decay=0.01)
    agent = Symphony(2, 1, config)
    p0 = [p.detach().clone() for p in agent.params]
    g1 = [torch.full_like(p, 0.5) for p in agent.params]
    g2 = [torch.full_like(p, -0.2) for p in agent.params]
    with torch.no_grad():
        agent._optimiser_step(g1)
        agent._optimiser_step(g2)
    m, v, p = 0.0, 0.0, p0[0]
    for g in (0.5, -0.2):
        m = 0.618 * m + (1 - 0.618) * g
        v = 0.995 * v + (1 - 0.995) * g * g
        p = p - 0.1 * (m / (math.sqrt(v) + 1e-8) + 0.01 * p)
    torch.testing.assert_close(agent.params[0], p)


def test_update_moves_target_critics_by_tau_only_and_keeps_them_out_of_autograd():
    config = SymphonyConfig(hidden=16, batch=8, capacity=32)
    agent = Symphony(3, 1, config)
    for _ in range(32):
        agent.buffer.add(np.random.randn(3), np.random.randn(1), 1.0, np.random.randn(3), 0.99)
    target_actor = [p.clone() for p in agent.target.actor.parameters()]
    before = [p.clone() for p in agent.target_critic]
    agent.update()
    expected = [b + config.tau * (o - b) for b, o in zip(before, agent.online_critic)]
    for t, e in zip(agent.target_critic, expected):
        torch.testing.assert_close(t, e)
        assert t.grad_fn is None and not t.requires_grad
    for t, a in zip(agent.target.actor.parameters(), target_actor):
        assert torch.equal(t, a)  # no target actor: it never moves


def test_actions_stay_within_a_max_and_noise_switches_work():
    config = SymphonyConfig(hidden=16, capacity=4, a_max=2.0)
    agent = Symphony(3, 2, config)
    obs = np.random.randn(3).astype(np.float32)
    torch.manual_seed(0)
    actions = np.stack([agent.act(obs) for _ in range(200)])
    assert np.all(np.abs(actions) <= 2.0) and actions.std(axis=0).min() > 0.05
    quiet = np.stack([agent.act(obs, noise=0.0) for _ in range(5)])
    assert np.allclose(quiet, quiet[0])
    assert np.allclose(agent.act(obs, active=0.0, noise=0.0), 0.0)


def kept_share(ff, x: torch.Tensor) -> float:
    """Share of the output gradient that reaches the last layer's bias (1 without the mask)."""
    ff.b3.requires_grad_(True)
    (grad,) = torch.autograd.grad(ff(x).sum(), ff.b3)
    return grad.mean().item() / x.shape[0]


def test_s2_gradient_dropout_as_the_reference_s2_every_ff_and_the_target_critics_too():
    s2 = SymphonyConfig.variant("S2")
    assert s2.gradient_dropout == 0.5
    agent = Symphony(3, 2, replace(s2, hidden=16, capacity=4))
    obs, obs_action = torch.randn(4096, 3), torch.randn(4096, 5)
    torch.manual_seed(0)
    for ff, x in ((agent.online.actor, obs), (agent.online.critic_net, obs_action),
                  (agent.target.critic_net, obs_action)):
        assert kept_share(ff, x) == pytest.approx(0.5, abs=0.03)
        with torch.no_grad():
            value = ff(x)
        ff.gradient_dropout = 0.0
        torch.testing.assert_close(ff(x), value)  # the forward value is untouched
        assert kept_share(ff, x) == pytest.approx(1.0)
        ff.gradient_dropout = 0.5
    state = torch.get_rng_state()
    with torch.no_grad():  # acting and evaluation: nothing to cut, no mask drawn
        agent.online.actor(obs)
    assert torch.equal(torch.get_rng_state(), state)


def test_variants_are_configs():
    assert SymphonyConfig.variant("S3") == SymphonyConfig()
    s2 = SymphonyConfig.variant("S2")
    assert (s2.lr, s2.exploration_steps, s2.exploration_repeats) == (5e-5, 20_480, 25)
    ed = SymphonyConfig.variant("ED", seed=3)
    assert (ed.hidden, ed.batch, ed.updates_per_step, ed.buffer_dtype, ed.seed) == (384, 288, 2, "float16", 3)
    assert (ed.exploration_steps, ed.exploration_repeats, ed.buffer_capacity) == (7_680, 50, 384_000)
    with pytest.raises(ValueError, match="unknown Symphony variant 'S9'"):
        SymphonyConfig.variant("S9")


def test_capacity_is_exploration_times_repeats_and_a_mismatch_is_refused():
    assert SymphonyConfig().buffer_capacity == 512_000 == SymphonyConfig.variant("S2").buffer_capacity
    assert SymphonyConfig(exploration_steps=100, exploration_repeats=3).buffer_capacity == 300
    SymphonyConfig(exploration_steps=100, exploration_repeats=3, capacity=300).check_trainable()
    assert SymphonyConfig(exploration_steps=100, exploration_repeats=3).to_dict()["capacity"] == 300
    for capacity in (299, 301):  # one never fills (no update), the other cannot hold the tiles
        with pytest.raises(SymphonyConfigError, match=r"capacity (299|301) differs from exploration_steps "
                                                       r"x exploration_repeats = 100 x 3 = 300"):
            SymphonyConfig(exploration_steps=100, exploration_repeats=3, capacity=capacity).check_trainable()
    assert issubclass(SymphonyConfigError, PodiumError)


def counting_capture(monkeypatch) -> list[int]:
    """Symphony._capture replaced by a stand-in that runs on the CPU and counts its calls."""
    calls: list[int] = []

    def capture(self):
        calls.append(1)
        return self.update_eager
    monkeypatch.setattr(Symphony, "_capture", capture)
    return calls


def small_full_agent() -> Symphony:
    agent = Symphony(3, 1, SymphonyConfig(hidden=16, batch=8, capacity=32))
    rng = np.random.default_rng(0)
    for _ in range(32):
        agent.buffer.add(rng.standard_normal(3), rng.standard_normal(1), 1.0, rng.standard_normal(3), 0.99)
    return agent


def test_accelerate_twice_compiles_and_captures_once(monkeypatch):
    calls = counting_capture(monkeypatch)
    compiled: list[int] = []

    def fake_compile(fn, **_kwargs):
        compiled.append(1)
        return fn
    monkeypatch.setattr(torch, "compile", fake_compile)
    agent = small_full_agent()
    assert agent.accelerate(compile=True, cuda_graph=True) == "compiled+graph"
    step = agent._step
    assert agent.accelerate(compile=True, cuda_graph=True) == "compiled+graph"
    assert (len(calls), len(compiled), agent._step) == (1, 1, step)
    assert agent.accelerate(compile=True, cuda_graph=False) == "compiled"  # another mode: rebuilt,
    assert (len(calls), len(compiled)) == (1, 1)                          # the compiled loss reused
    assert agent.accelerate() == "eager" and agent._loss_fn == agent.loss
    agent.update()
    assert agent.updates == 1


def test_a_failed_capture_leaves_the_agent_eager(monkeypatch):
    def capture(self):
        raise RuntimeError("capture exploded")
    monkeypatch.setattr(Symphony, "_capture", capture)
    agent = small_full_agent()
    before = agent.state_tensors()
    with pytest.raises(AccelerationError, match="graph update failed on cpu: RuntimeError: capture exploded"):
        agent.accelerate(cuda_graph=True)
    assert agent.mode == "eager" and agent._step == agent.update_eager and agent._loss_fn == agent.loss
    after = agent.state_tensors()
    assert all(torch.equal(before[k], after[k]) for k in before)
    agent.update()
    assert agent.updates == 1


def test_the_start_up_probe_runs_the_accelerated_update_on_a_scratch_agent(monkeypatch):
    calls = counting_capture(monkeypatch)
    config = SymphonyConfig(hidden=16, batch=8, exploration_steps=10, exploration_repeats=2)
    state = torch.get_rng_state()
    assert probe_acceleration(3, 1, config, "cpu") == "graph" and len(calls) == 1
    assert torch.equal(torch.get_rng_state(), state)  # no trace on the run's random streams
    monkeypatch.setattr(Symphony, "_capture", lambda self: 1 / 0)
    with pytest.raises(AccelerationError, match="ZeroDivisionError"):
        probe_acceleration(3, 1, config, "cpu")


def test_compiled_loss_and_gradients_equal_eager_for_the_same_batch():
    import torch._inductor.config as inductor

    inductor.fallback_random = True  # the same random stream as eager, so results can be compared
    config = SymphonyConfig(hidden=32, batch=16, capacity=64)
    torch.manual_seed(0)
    agent = Symphony(3, 1, config)
    rng = np.random.default_rng(0)
    for _ in range(64):
        agent.buffer.add(rng.standard_normal(3), rng.standard_normal(1), 1.0, rng.standard_normal(3), 0.99)
    batch = agent.buffer.sample(16)
    compiled = torch.compile(agent.loss, fullgraph=True, dynamic=False)
    torch.manual_seed(1)
    eager_loss, eager_ema, eager_stats = agent.loss(*batch, agent.ema)
    eager_grads = torch.autograd.grad(eager_loss, agent.params)
    torch.manual_seed(1)
    loss, ema, stats = compiled(*batch, agent.ema)
    grads = torch.autograd.grad(loss, agent.params)
    torch.testing.assert_close(loss, eager_loss)
    torch.testing.assert_close(ema, eager_ema)
    torch.testing.assert_close(stats, eager_stats)
    for g, e in zip(grads, eager_grads):
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-6)
    assert agent.accelerate(compile=True) == "compiled"  # and the update path accepts it
    agent.update()


@gpu
def test_cuda_graph_update_trains_and_capture_leaves_no_trace():
    config = SymphonyConfig(hidden=64, batch=64, capacity=4096)
    agent = Symphony(17, 6, config, "cuda")
    for tensor in agent.buffer.fields().values():
        tensor.normal_()
    agent.buffer.size = agent.buffer.capacity
    before = agent.state_tensors()
    assert agent.accelerate(cuda_graph=True) == "graph"
    replay = agent._step
    assert agent.accelerate(cuda_graph=True) == "graph" and agent._step == replay  # not captured twice
    after_capture = agent.state_tensors()
    for key in before:  # warm-up and capture are undone: they are not training
        assert torch.equal(before[key], after_capture[key]), key
    for _ in range(100):
        agent.update()
    torch.cuda.synchronize()
    state = agent.state_tensors()
    assert all(torch.isfinite(v).all() for v in state.values())
    assert not torch.equal(state["online.critic_net.w1"], before["online.critic_net.w1"])
    assert agent.updates == 100 and torch.isfinite(agent.last_loss)
    stats = agent.take_update_stats()  # summed inside the graph; the capture's warm-up left none
    assert stats["updates_averaged"] == 100 and all(math.isfinite(v) for v in stats.values())


@gpu
def test_start_up_probe_captures_on_the_gpu_and_leaves_no_trace():
    config = SymphonyConfig.variant("S2", hidden=64, batch=64, buffer_dtype="float16")  # mask, fp16 too
    torch.manual_seed(0)
    cpu_state, cuda_state = torch.get_rng_state(), torch.cuda.get_rng_state()
    assert probe_acceleration(17, 6, config, "cuda") == "graph"
    assert torch.equal(torch.get_rng_state(), cpu_state) and torch.equal(torch.cuda.get_rng_state(), cuda_state)
    agent = Symphony(17, 6, replace(config, capacity=4096), "cuda")  # a real capture afterwards works
    for tensor in agent.buffer.fields().values():
        tensor.normal_()
    agent.buffer.size = agent.buffer.capacity
    assert agent.accelerate() == "graph"
    for _ in range(10):
        agent.update()
    torch.cuda.synchronize()
    assert torch.isfinite(agent.last_loss)

