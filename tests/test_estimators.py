"""aa_lib.exact.tabular and aa_lib.exact.estimators: the exact machinery under the theorem checks."""
import itertools

import pytest
import torch

from aa_lib.exact.estimators import (
    MAX_ENUMERATION_HORIZON,
    _leave_one_out_products,
    all_paths,
    average_over_action,
    exact_advantages,
    trajectory_ensemble,
)
from aa_lib.exact.memory_one import finite_horizon_solution
from aa_lib.exact.tabular import solve_tabular, solve_tabular_logits
from aa_lib.games.matrix import CHICKEN, MATRIX_GAMES, PRISONERS_DILEMMA

DT = torch.float64


def random_logits(seed, *shape):
    return torch.randn(*shape, 5, generator=torch.Generator().manual_seed(seed), dtype=DT)


@pytest.mark.parametrize("game", list(MATRIX_GAMES.values()), ids=list(MATRIX_GAMES))
def test_stationary_solver_matches_memory_one_solver(game):
    th1, th2 = random_logits(0, 3), random_logits(1, 3)
    ours = solve_tabular_logits(th1, th2, game, 0.9, 5)
    ref = finite_horizon_solution(th1, th2, game, 0.9, 5)
    for name in ("q1", "q2", "v1", "v2", "state_probs"):
        assert torch.allclose(getattr(ours, name), getattr(ref, name), atol=1e-13), name
    assert torch.allclose(ours.pi1[..., 2, :, :], ref.pi1) and torch.allclose(ours.pi2[..., 2, :, :], ref.pi2)


def test_time_dependent_solver_by_brute_force():
    """Values from the start equal the enumerated expected discounted return."""
    T, gamma = 3, 0.8
    p1 = torch.rand(T, 5, generator=torch.Generator().manual_seed(2), dtype=DT)
    p2 = torch.rand(T, 5, generator=torch.Generator().manual_seed(3), dtype=DT)
    sol = solve_tabular(p1, p2, CHICKEN, gamma, T, stationary=False)
    pay = CHICKEN.payoffs
    swap = (0, 1, 3, 2, 4)
    total = torch.zeros(2, dtype=DT)
    for joint in itertools.product(range(4), repeat=T):
        prob, ret, s = 1.0, torch.zeros(2, dtype=DT), 0
        for t, j in enumerate(joint):
            a, b = divmod(j, 2)
            pa = p1[t, s] if a == 0 else 1 - p1[t, s]
            pb = p2[t, swap[s]] if b == 0 else 1 - p2[t, swap[s]]  # player 2's own seat
            prob = prob * pa * pb
            ret += gamma ** t * torch.stack([pay[0, a, b], pay[1, b, a]])
            s = 1 + 2 * a + b
        total += prob * ret
    assert torch.allclose(torch.stack(sol.values), total, atol=1e-12)


def test_solver_accepts_pure_policies_and_refuses_bad_ones():
    ones = torch.ones(5, dtype=DT)
    sol = solve_tabular(ones, torch.zeros(5, dtype=DT), PRISONERS_DILEMMA, 0.5, 2)
    # C against D twice: -3 + 0.5 * -3.
    assert sol.values[0].item() == pytest.approx(-4.5)
    with pytest.raises(ValueError, match="p1"):
        solve_tabular(ones * 1.5, ones, PRISONERS_DILEMMA, 0.5, 2)
    with pytest.raises(ValueError, match="T=2"):
        solve_tabular(torch.ones(3, 5, dtype=DT), ones, PRISONERS_DILEMMA, 0.5, 2, stationary=False)


def test_paths_enumerate_every_trajectory_once():
    paths = all_paths(3)
    assert len(paths) == 64 and paths.horizon == 3
    assert (paths.states[:, 0] == 0).all()
    assert torch.equal(paths.states[:, 1:], 1 + 2 * paths.actions1[:, :-1] + paths.actions2[:, :-1])
    joint = 2 * paths.actions1 + paths.actions2
    assert len({tuple(row.tolist()) for row in joint}) == 64
    with pytest.raises(ValueError, match="at most"):
        all_paths(MAX_ENUMERATION_HORIZON + 1)


def test_trajectory_probabilities_and_expected_return():
    th1, th2 = random_logits(4, 2), random_logits(5, 2)
    T, gamma = 4, 0.9
    sol = solve_tabular_logits(th1, th2, PRISONERS_DILEMMA, gamma, T)
    ens = trajectory_ensemble(sol)
    assert torch.allclose(ens.probs.sum(-1), torch.ones(2, dtype=DT), atol=1e-14)
    p = ens.paths
    rewards = PRISONERS_DILEMMA.payoffs[0][p.actions1, p.actions2]  # [N, T]
    discounted = (rewards * gamma ** torch.arange(T, dtype=DT)).sum(-1)
    assert torch.allclose(ens.expectation(discounted.expand(2, -1)), sol.values[0], atol=1e-12)


def test_advantages_along_paths_and_their_means():
    th1, th2 = random_logits(6, 3), random_logits(7, 3)
    sol = solve_tabular_logits(th1, th2, CHICKEN, 0.9, 4)
    a1, a2 = exact_advantages(sol)
    # The occupancy-weighted advantages vanish at every (t, s).
    assert torch.allclose((sol.joint_probs() * a1).sum((-2, -1)), torch.zeros(3, 4, 5, dtype=DT), atol=1e-13)
    ens = trajectory_ensemble(sol)
    path_a1, path_a2 = ens.advantages()
    assert path_a1.shape == (3, len(ens.paths), 4)
    # Reading the table along a path: hand check of one trajectory (all C, then all D...).
    n = 5
    t, s, a, b = 2, ens.paths.states[n, 2], ens.paths.actions1[n, 2], ens.paths.actions2[n, 2]
    assert path_a2[1, n, 2] == a2[1, t, s, a, b]
    # E[A_t] = 0 at every t.
    for x in (path_a1, path_a2):
        assert torch.allclose((ens.probs[..., None] * x).sum(-2), torch.zeros(3, 4, dtype=DT), atol=1e-13)


def test_average_over_action():
    th1, th2 = random_logits(8, 1), random_logits(9, 1)
    sol = solve_tabular_logits(th1, th2, CHICKEN, 0.9, 2)
    a1, _ = sol.advantages()
    over_a = average_over_action(sol, a1, 1)
    assert torch.allclose(over_a[..., 0, :], over_a[..., 1, :])
    manual = sol.pi1[..., 0][..., None] * a1[..., 0, :] + sol.pi1[..., 1][..., None] * a1[..., 1, :]
    assert torch.allclose(over_a[..., 0, :], manual)
    with pytest.raises(ValueError, match="player"):
        average_over_action(sol, a1, 3)


@pytest.mark.parametrize("game", list(MATRIX_GAMES.values()), ids=list(MATRIX_GAMES))
def test_estimator_expectation_reproduces_the_policy_gradient(game):
    """E[sum_t gamma^t A1_t grad log pi1] = grad V1 (eq. 3), for stationary and time-dependent logits."""
    T, gamma = 4, 0.85
    for stationary, shape in ((True, (2,)), (False, (2, T))):
        th1 = random_logits(10, *shape).requires_grad_(True)
        th2 = random_logits(11, *shape)
        sol = solve_tabular_logits(th1, th2, game, gamma, T, stationary=stationary)
        ens = trajectory_ensemble(sol)
        a1, _ = ens.advantages()
        estimate = ens.estimator_expectation(a1 * sol.discount(), th1)
        (exact,) = torch.autograd.grad(sol.values[0].sum(), th1)
        assert torch.allclose(estimate, exact, atol=1e-13)


def test_estimator_expectation_is_exact_at_pure_policies():
    """With probabilities as parameters the expectation stays exact where pi1(a|s) = 0."""
    T, gamma = 3, 0.9
    p1 = torch.tensor([1.0, 1.0, 0.0, 1.0, 0.0], dtype=DT, requires_grad=True)
    p2 = torch.tensor([1.0, 0.0, 1.0, 0.0, 0.0], dtype=DT)
    sol = solve_tabular(p1, p2, PRISONERS_DILEMMA, gamma, T)
    ens = trajectory_ensemble(sol)
    a1, _ = ens.advantages()
    estimate = ens.estimator_expectation(a1 * sol.discount(), p1)
    (exact,) = torch.autograd.grad(sol.values[0], p1)
    assert torch.isfinite(estimate).all()
    assert torch.allclose(estimate, exact, atol=1e-13)
    assert exact.abs().max() > 0.1


def test_leave_one_out_products():
    x = torch.tensor([[2.0, 0.0, 3.0, 5.0]], dtype=DT)
    assert torch.equal(_leave_one_out_products(x), torch.tensor([[0.0, 30.0, 0.0, 0.0]], dtype=DT))


def test_estimator_expectation_refuses_bad_input():
    th1 = random_logits(12).requires_grad_(True)
    sol = solve_tabular_logits(th1, random_logits(13), PRISONERS_DILEMMA, 0.9, 2)
    ens = trajectory_ensemble(sol)
    with pytest.raises(ValueError, match="weights"):
        ens.estimator_expectation(torch.zeros(16, 3, dtype=DT), th1)
    with pytest.raises(ValueError, match="require grad"):
        ens.estimator_expectation(torch.zeros(16, 2, dtype=DT), th1.detach())
    with pytest.raises(ValueError, match="table"):
        ens.along(torch.zeros(2, 5, 2, dtype=DT))
