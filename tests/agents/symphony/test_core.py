"""Symphony's formulas, each against its closed form or a hand computation."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from agents.symphony.core import (
    FadingReplayBuffer,
    Symphony,
    SymphonyConfig,
    age_probabilities,
    rehae,
    rehse,
    resine,
    soft_value,
    soft_value_weights,
    swaddle,
)
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


def test_terminal_transitions_survive_wraparound():
    """As in the reference: the oldest terminal is kept, the second oldest is dropped instead."""
    buffer = FadingReplayBuffer(1, 1, 10, "cpu")
    for i in range(10):
        buffer.add(np.array([i], np.float32), np.zeros(1), 0.0, np.zeros(1), 0.0 if i == 3 else 0.99)
    for i in range(10, 45):
        buffer.add(np.array([i], np.float32), np.zeros(1), 0.0, np.zeros(1), 0.99)
    head = buffer.head
    assert buffer.obs[head, 0] == 3 and buffer.not_done_gamma[head, 0] == 0.0  # still the oldest
    assert buffer.terminal.tolist().count(True) == 1 and buffer.terminal[head]
    assert sorted(buffer.obs[:, 0].tolist()) == [3, *range(36, 45)]  # the rest: the newest 9
    ages = [(slot - head) % 10 for slot in range(10)]  # 0 = oldest
    by_age = [buffer.obs[ages.index(a), 0].item() for a in range(10)]
    assert by_age == [3, *range(36, 45)]  # newest written last, in order


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


def test_s2_gradient_dropout_cuts_gradient_after_the_output_layer_only_online():
    config = SymphonyConfig(hidden=16, capacity=4, gradient_dropout=0.5)
    agent = Symphony(3, 2, config)
    x = torch.randn(64, 3)
    torch.manual_seed(0)
    out = agent.online.actor(x)
    plain = agent.target.actor(x)  # target: eval mode, no dropout
    torch.testing.assert_close(out, plain)  # the forward value is untouched either way
    (grad,) = torch.autograd.grad(out.sum(), agent.online.actor.b3)
    assert 0 < grad.abs().sum() < 64 * out.shape[-1] * 0.8  # about half of the ones cut


def test_variants_are_configs():
    assert SymphonyConfig.variant("S3") == SymphonyConfig()
    s2 = SymphonyConfig.variant("S2")
    assert (s2.lr, s2.exploration_steps, s2.exploration_repeats) == (5e-5, 20_480, 25)
    ed = SymphonyConfig.variant("ED", seed=3)
    assert (ed.hidden, ed.batch, ed.updates_per_step, ed.buffer_dtype, ed.seed) == (384, 288, 2, "float16", 3)
    with pytest.raises(ValueError, match="unknown Symphony variant 'S9'"):
        SymphonyConfig.variant("S9")


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
    eager_loss, eager_ema = agent.loss(*batch, agent.ema)
    eager_grads = torch.autograd.grad(eager_loss, agent.params)
    torch.manual_seed(1)
    loss, ema = compiled(*batch, agent.ema)
    grads = torch.autograd.grad(loss, agent.params)
    torch.testing.assert_close(loss, eager_loss)
    torch.testing.assert_close(ema, eager_ema)
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
