"""Exact learning rules: their formulas, and the protocol of the foundation issue.

Protocol (issue 2): 50 seeds, theta ~ N(0, 1), gamma 0.96, gradient steps of size 1
on the per-step value (1 - gamma) V, 200 steps.
"""
import pytest
import torch
from torch.autograd.functional import hessian, jacobian

from aa_lib.exact.learning import (
    is_tft_like,
    lola_lookahead_direction,
    lola_shaping_direction,
    naive_direction,
    run_exact_learning,
)
from aa_lib.exact.memory_one import memory_one_values, per_step_values, policy_logits
from aa_lib.games.matrix import PRISONERS_DILEMMA, STAG_HUNT

GAMMA = 0.96
ETA_REFERENCE = 1 / (1 - GAMMA)  # opponent step weighting of the original exact LOLA, see below


def _u(game, gamma):
    def u(th1, th2):
        v1, v2 = memory_one_values(th1, th2, game, gamma)
        return (1 - gamma) * v1, (1 - gamma) * v2

    return u


@pytest.fixture
def thetas():
    gen = torch.Generator().manual_seed(7)
    return torch.randn(2, 5, generator=gen, dtype=torch.float64)


def test_naive_direction_matches_finite_differences(thetas):
    th1, th2 = thetas
    u = _u(STAG_HUNT, 0.9)
    g = naive_direction(th1, th2, STAG_HUNT, 0.9)
    eps = 1e-6
    for i in range(5):
        e = torch.zeros(5, dtype=torch.float64)
        e[i] = eps
        fd = (u(th1 + e, th2)[0] - u(th1 - e, th2)[0]) / (2 * eps)
        assert float(g[i]) == pytest.approx(float(fd), abs=1e-7)


def test_lola_shaping_equals_explicit_mixed_hessian_formula(thetas):
    """grad1 u1 + eta * (d^2 u2 / d th1 d th2) grad2 u1, with the mixed Hessian built by jacobian()."""
    th1, th2 = thetas
    u = _u(PRISONERS_DILEMMA, GAMMA)
    eta = 3.0
    g1 = jacobian(lambda a: u(a, th2)[0], th1)
    g2_u1 = jacobian(lambda b: u(th1, b)[0], th2)
    # mixed[i, j] = d/d th1_i of d u2 / d th2_j
    mixed = jacobian(lambda a: jacobian(lambda b: u(a, b)[1], th2, create_graph=True), th1).T
    expected = g1 + eta * mixed @ g2_u1
    got = lola_shaping_direction(th1, th2, PRISONERS_DILEMMA, GAMMA, eta)
    assert torch.allclose(got, expected, atol=1e-10)


def test_lola_lookahead_matches_finite_differences_of_the_lookahead_value(thetas):
    th1, th2 = thetas
    u = _u(PRISONERS_DILEMMA, GAMMA)
    eta = 2.0

    def lookahead_value(a):
        g2 = jacobian(lambda b: u(a, b)[1], th2)
        return u(a, th2 + eta * g2)[0]

    got = lola_lookahead_direction(th1, th2, PRISONERS_DILEMMA, GAMMA, eta)
    eps = 1e-5
    for i in range(5):
        e = torch.zeros(5, dtype=torch.float64)
        e[i] = eps
        fd = (lookahead_value(th1 + e) - lookahead_value(th1 - e)) / (2 * eps)
        assert float(got[i]) == pytest.approx(float(fd), abs=1e-7)


def test_lookahead_and_shaping_agree_to_first_order_up_to_the_dropped_term(thetas):
    """look-ahead - shaping = eta * grad1(grad2 u1) . grad2 u2 + O(eta^2)."""
    th1, th2 = thetas
    u = _u(PRISONERS_DILEMMA, GAMMA)
    g2_u2 = jacobian(lambda b: u(th1, b)[1], th2)
    cross = jacobian(lambda a: jacobian(lambda b: u(a, b)[0], th2, create_graph=True), th1).T @ g2_u2
    for eta in (1e-3, 5e-4):
        diff = lola_lookahead_direction(th1, th2, PRISONERS_DILEMMA, GAMMA, eta) - lola_shaping_direction(
            th1, th2, PRISONERS_DILEMMA, GAMMA, eta
        )
        assert torch.allclose(diff / eta, cross, atol=50 * eta * float(cross.abs().max() + 1))


def test_player_two_update_is_seat_symmetric():
    """Swapping the seats of two learners swaps their trajectories exactly."""
    gen = torch.Generator().manual_seed(1)
    a, b = torch.randn(2, 8, 5, generator=gen, dtype=torch.float64)
    h = run_exact_learning("lola_shaping", n_seeds=8, n_steps=20, theta1=a, theta2=b, lookahead_lr=10.0)
    k = run_exact_learning("lola_shaping", n_seeds=8, n_steps=20, theta1=b, theta2=a, lookahead_lr=10.0)
    assert torch.allclose(h.theta1, k.theta2, atol=1e-10)
    assert torch.allclose(h.reward1, k.reward2, atol=1e-10)


def test_runner_is_seeded_and_records_history():
    h1 = run_exact_learning("naive", n_seeds=4, n_steps=3, seed=5)
    h2 = run_exact_learning("naive", n_seeds=4, n_steps=3, seed=5)
    h3 = run_exact_learning("naive", n_seeds=4, n_steps=3, seed=6)
    assert h1.theta1.shape == (4, 4, 5) and h1.reward1.shape == (4, 4)
    assert torch.equal(h1.theta1, h2.theta1)
    assert not torch.equal(h1.theta1, h3.theta1)
    u1, _ = per_step_values(h1.theta1[2], h1.theta2[2], PRISONERS_DILEMMA, GAMMA)
    assert torch.allclose(h1.reward1[2], u1)


def test_is_tft_like():
    p = torch.tensor([[0.5, 0.9, 0.1, 0.8, 0.2], [1.0, 1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0, 0.0]])
    assert is_tft_like(p).tolist() == [True, False, False]


# ---------------------------------------------------------------- the protocol
def test_naive_learners_fall_into_mutual_defection():
    h = run_exact_learning("naive", n_seeds=50, n_steps=200, gamma=GAMMA, lr=1.0, seed=0)
    assert abs(h.final_mean_reward() - (-2.0)) < 0.05
    assert h.tft_fraction() < 0.1


def test_lola_learns_reciprocity_under_the_issue_protocol():
    """Step 1 on (1 - gamma) V, opponent step eta = 1/(1 - gamma) (the original exact LOLA's
    weighting of its shaping term relative to the naive term).

    Measured: mean -1.29, 93% TFT-like. The -1.2 bar of the issue is NOT met under this
    protocol; the shortfall comes from TFT pairs whose opening moves disagree and who then
    alternate (see the next test and notebook 03). What holds, and is asserted: LOLA is far
    above naive learners and most seeds are TFT-like.
    """
    lola = run_exact_learning("lola_shaping", n_seeds=50, n_steps=200, gamma=GAMMA, lr=1.0,
                              lookahead_lr=ETA_REFERENCE, seed=0)
    naive = run_exact_learning("naive", n_seeds=50, n_steps=200, gamma=GAMMA, lr=1.0, seed=0)
    assert lola.final_mean_reward() > naive.final_mean_reward() + 0.5
    assert lola.tft_fraction() > 0.5


def test_lola_reaches_published_level_with_the_reference_step_size():
    """With steps of size 1 on V itself (lr = 1/(1 - gamma) on the per-step value), as the
    original exact LOLA experiment, the mean ends at or above -1.2 and most seeds are TFT-like."""
    lola = run_exact_learning("lola_shaping", n_seeds=50, n_steps=200, gamma=GAMMA, lr=ETA_REFERENCE,
                              lookahead_lr=ETA_REFERENCE, seed=0)
    assert lola.final_mean_reward() >= -1.2
    assert lola.tft_fraction() > 0.5


def test_lola_failures_are_tft_pairs_with_mismatched_openings():
    lola = run_exact_learning("lola_shaping", n_seeds=50, n_steps=200, gamma=GAMMA, lr=1.0,
                              lookahead_lr=ETA_REFERENCE, seed=0)
    low = lola.mean_reward[-1] < -1.2
    assert low.any()
    open1 = lola.p_cooperate1[-1, low, 0] > 0.5
    open2 = lola.p_cooperate2[-1, low, 0] > 0.5
    assert (open1 != open2).double().mean() > 0.8


# ---------------------------------------------------------------- bad input
def test_bad_arguments():
    with pytest.raises(ValueError, match="rule"):
        run_exact_learning("newton", n_seeds=2, n_steps=1)
    with pytest.raises(ValueError, match="gamma"):
        run_exact_learning("naive", n_seeds=2, n_steps=1, gamma=1.5)
    with pytest.raises(ValueError, match="n_seeds"):
        run_exact_learning("naive", n_seeds=0, n_steps=1)
    with pytest.raises(ValueError, match="theta1"):
        run_exact_learning("naive", n_seeds=2, n_steps=1, theta1=torch.zeros(3, 5))


def test_exact_learning_refuses_cuda_without_a_gpu(monkeypatch):
    """A CUDA device on a machine without one fails with a message that says so (simulated here)."""
    from aa_lib.exact.learning import run_exact_learning
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"device='cuda', but torch sees no CUDA GPU"):
        run_exact_learning("naive", n_seeds=2, n_steps=1, device="cuda")
