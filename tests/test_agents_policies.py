"""Policies, critics and distributions of aa_lib.agents."""
import math

import pytest
import torch

from aa_lib.agents.critics import Critic, EmaTarget
from aa_lib.agents.distributions import CategoricalDist, SquashedGaussian
from aa_lib.agents.policies import ContinuousPolicy, DiscretePolicy, MemoryOnePolicy


def test_squashed_gaussian_density_integrates_to_one():
    dist = SquashedGaussian(torch.tensor([[0.7]], dtype=torch.float64), torch.tensor([0.4], dtype=torch.float64))
    # Integrate p(y) over (0, 5) in the latent variable: y = 5 sigmoid(2u), dy = |dy/du| du.
    u = torch.linspace(-12, 12, 200001, dtype=torch.float64).view(-1, 1, 1)
    y = dist.to_env(u)
    density = torch.exp(dist.log_prob_action(y))  # p(y) computed from y (inverse map)
    jac = torch.exp(dist.log_abs_det_jacobian(u)).squeeze(-1)
    integral = torch.trapezoid((density * jac).squeeze(), u.squeeze())
    assert abs(float(integral) - 1.0) < 1e-6
    # Directly in y too, on a fine grid away from the (negligible) tails.
    ys = torch.linspace(1e-6, 5 - 1e-6, 400001, dtype=torch.float64).view(-1, 1, 1)
    direct = torch.trapezoid(torch.exp(dist.log_prob_action(ys)).squeeze(), ys.squeeze())
    assert abs(float(direct) - 1.0) < 1e-4


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_squashed_gaussian_finite_at_the_bounds(dtype):
    dist = SquashedGaussian(torch.zeros(2, 3, dtype=dtype), torch.zeros(3, dtype=dtype), 0.0, 5.0)
    proposals = torch.tensor([[0.0, 5.0, 2.5], [5.0, 0.0, 5.0]], dtype=dtype)
    logp = dist.log_prob_action(proposals)
    assert torch.isfinite(logp).all()
    # Latents far in the tail (whose squashed value rounds to a bound) keep finite log-densities.
    latent = torch.tensor([[30.0, -30.0, 0.0]], dtype=dtype)
    assert torch.isfinite(dist.log_prob(latent)).all()
    assert dist.to_env(latent)[0, 0] == 5.0 and float(dist.to_env(latent)[0, 1]) < 1e-20


def test_squashed_gaussian_matches_change_of_variables():
    mean, log_std = torch.tensor([0.3]), torch.tensor([-0.2])
    dist = SquashedGaussian(mean, log_std, 0.0, 5.0)
    u = torch.tensor([0.9])
    normal = torch.distributions.Normal(mean, log_std.exp()).log_prob(u)
    dy_du = 5.0 * 0.5 * (1 - torch.tanh(u) ** 2)
    assert torch.allclose(dist.log_prob(u), (normal - torch.log(dy_du)).sum(), atol=1e-6)
    assert torch.allclose(dist.to_env(u), 2.5 * (torch.tanh(u) + 1))


def test_categorical_sampling_frequencies_and_determinism():
    probs = torch.tensor([0.1, 0.6, 0.3])
    dist = CategoricalDist(probs.log().expand(60000, 3))
    a = dist.sample(torch.Generator().manual_seed(0))
    b = dist.sample(torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    freq = torch.bincount(a, minlength=3).float() / 60000
    assert torch.allclose(freq, probs, atol=0.01)
    assert torch.allclose(dist.entropy()[0], -(probs * probs.log()).sum())


def test_categorical_rejects_bad_logits():
    with pytest.raises(ValueError, match="logits"):
        CategoricalDist(torch.zeros(3, 1))


@pytest.mark.parametrize("make", [
    lambda: DiscretePolicy((5,), 2, hidden=8),
    lambda: DiscretePolicy((4, 3, 3), 4, hidden=8),
    lambda: DiscretePolicy((3, 6, 6), 8, hidden=8, encoder="cnn"),
    lambda: ContinuousPolicy((15,), 3, hidden=8),
])
def test_step_by_step_acting_matches_sequence_evaluation(make):
    """Rollouts act step by step with a hidden state; losses re-evaluate whole sequences."""
    torch.manual_seed(0)
    policy = make()
    obs_shape = policy.body.obs_shape
    B, T = 4, 6
    obs = torch.rand(B, T, *obs_shape)
    g = torch.Generator().manual_seed(1)
    state = policy.initial_state(B)
    latents, logps = [], []
    for t in range(T):
        act = policy.act(obs[:, t], state, g)
        state = act.state
        latents.append(act.latent)
        logps.append(act.log_prob)
    latents, logps = torch.stack(latents, 1), torch.stack(logps, 1)
    seq_logp, entropy = policy.evaluate(obs, latents)
    assert torch.allclose(seq_logp, logps, atol=1e-5)
    assert entropy.shape == (B, T)


def test_continuous_actions_lie_in_bounds():
    policy = ContinuousPolicy((15,), 3, hidden=8, init_log_std=2.0)
    act = policy.act(torch.rand(1000, 15), policy.initial_state(1000), torch.Generator().manual_seed(0))
    assert act.env_action.min() >= 0.0 and act.env_action.max() <= 5.0
    assert torch.isfinite(act.log_prob).all()


def test_memory_one_policy_matches_exact_parameterisation():
    theta = torch.tensor([1.0, -2.0, 0.5, 0.0, 3.0])
    policy = MemoryOnePolicy(theta)
    dist = policy.sequence_distribution(torch.eye(5).unsqueeze(0))
    assert torch.allclose(dist.probs[0, :, 0], torch.sigmoid(theta))
    with pytest.raises(ValueError, match="theta"):
        MemoryOnePolicy(torch.zeros(4))


def test_critic_shapes_time_feature_and_ema_target():
    torch.manual_seed(0)
    critic = Critic((5,), hidden=8, n_actions=2, value_scale=3.0)
    obs = torch.rand(2, 4, 5)
    values, q = critic.values_and_q(obs, torch.arange(4.0) / 4)
    assert values.shape == (2, 4) and q.shape == (2, 4, 2)
    assert torch.allclose(critic(obs, torch.arange(4.0) / 4), values)
    with pytest.raises(ValueError, match="times"):
        critic(obs, torch.arange(3.0))
    target = EmaTarget(critic)
    before = [p.clone() for p in target.parameters()]
    with torch.no_grad():
        for p in critic.parameters():
            p.add_(1.0)
    target.update(critic, decay=0.75)
    for b, t in zip(before, target.parameters()):
        assert torch.allclose(t, b + 0.25)
