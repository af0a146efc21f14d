"""M-FOS on exact values: the meta-game's dynamics, the ES estimator, training against naive learners."""
import pytest
import torch

from aa_lib.exact.learning import naive_direction
from aa_lib.exact.memory_one import per_step_values
from aa_lib.exact.mfos import MetaPolicy, antithetic_es_gradient, meta_rollout, train_mfos
from aa_lib.games.matrix import PRISONERS_DILEMMA, as_payoff_tensor

GAMMA = 0.96
GAME = as_payoff_tensor(PRISONERS_DILEMMA).double()


def test_meta_policy_shapes_and_bad_parameters():
    policy = MetaPolicy(hidden=4)
    assert policy.n_parameters == 10 * 4 + 4 + 4 * 5 + 5
    params = torch.stack([policy.init(torch.Generator().manual_seed(i)) for i in range(3)])
    out = policy(params, torch.rand(3, 7, 10, dtype=torch.float64))
    assert out.shape == (3, 7, 5)
    # members are independent: member 1 alone gives the same logits
    assert torch.allclose(policy(params[1:2], torch.ones(1, 2, 10, dtype=torch.float64)),
                          policy(params, torch.ones(3, 2, 10, dtype=torch.float64))[1:2])
    with pytest.raises(ValueError, match="params"):
        policy(params[:, :-1], torch.rand(3, 7, 10, dtype=torch.float64))


def test_meta_rollout_plays_the_exact_game_against_a_naive_learner():
    policy = MetaPolicy(hidden=3)
    params = torch.stack([policy.init(torch.Generator().manual_seed(i)) for i in range(2)])  # [2, n]
    theta2 = torch.randn(4, 5, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    r1, r2, th1, th2 = meta_rollout(policy, params, theta2, GAME, GAMMA, meta_steps=3, opponent_lr=7.0)
    assert r1.shape == r2.shape == (3, 2, 4) and th1.shape == th2.shape == (4, 2, 4, 5)
    assert (th1[0] == 0).all() and torch.equal(th2[0], theta2.expand(2, 4, 5))
    for k in range(3):
        state = torch.cat([torch.sigmoid(th1[k]), torch.sigmoid(th2[k])], -1)
        assert torch.allclose(th1[k + 1], policy(params, state))                      # meta-action
        u1, u2 = per_step_values(th1[k + 1], th2[k], GAME, GAMMA)
        assert torch.allclose(r1[k], u1) and torch.allclose(r2[k], u2)               # exact inner game
        step = naive_direction(th2[k], th1[k + 1], GAME.flip(0), GAMMA)               # the learner's own seat
        assert torch.allclose(th2[k + 1], th2[k] + 7.0 * step)                         # naive learning


def test_antithetic_es_gradient_on_a_quadratic():
    target = torch.tensor([1.0, -2.0, 0.5, 3.0, 0.0], dtype=torch.float64)
    x = torch.zeros(5, dtype=torch.float64)
    fitness = lambda z: -((z - target) ** 2).sum(-1)  # noqa: E731, gradient 2 (target - x)
    eps = torch.randn(20000, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    g = antithetic_es_gradient(fitness(x + 0.1 * eps), fitness(x - 0.1 * eps), eps, 0.1)
    true = 2 * (target - x)
    assert torch.nn.functional.cosine_similarity(g, true, dim=0) > 0.99
    assert torch.allclose(g.norm(), true.norm(), rtol=0.05)


def test_mfos_learns_to_exploit_a_naive_learner():
    """Measured: 200 ES iterations give M-FOS -0.58 per step and the naive learner -2.02
    (mutual cooperation -1, mutual defection -2); 40 iterations already leave both far from the start."""
    result = train_mfos(iterations=40, population=16, n_opponents=16, seed=0)
    assert result.returns[-1] > result.returns[0] + 0.5
    r1, r2 = result.evaluate(n_opponents=64)
    assert r1.mean() > -1.1 and r1.mean() > r2.mean()  # better than the naive learner it shapes (-1.00 vs -1.17)
    again = train_mfos(iterations=3, population=4, n_opponents=4, seed=5)
    assert torch.equal(again.params, train_mfos(iterations=3, population=4, n_opponents=4, seed=5).params)


def test_train_mfos_bad_arguments():
    with pytest.raises(ValueError, match="iterations"):
        train_mfos(iterations=0)
    with pytest.raises(ValueError, match="sigma"):
        train_mfos(iterations=1, sigma=0.0)
    with pytest.raises(ValueError, match="gamma"):
        train_mfos(iterations=1, gamma=1.5)
