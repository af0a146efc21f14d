"""Exact POLA (proximal LOLA): its limits, its gradient, its proximal term and its learning behaviour."""
import pytest
import torch

from aa_lib.exact.learning import RULES, lola_lookahead_direction, run_exact_learning
from aa_lib.exact.memory_one import per_step_values
from aa_lib.exact.pola import bernoulli_kl, pola_direction, pola_rule
from aa_lib.games.matrix import PRISONERS_DILEMMA, as_payoff_tensor

GAMMA = 0.96
ETA = 1 / (1 - GAMMA)  # the exact LOLA reference's opponent step on per-step values
GAME = as_payoff_tensor(PRISONERS_DILEMMA).double()


@pytest.fixture
def thetas():
    return torch.randn(2, 6, 5, generator=torch.Generator().manual_seed(3), dtype=torch.float64)


def test_bernoulli_kl_against_its_definition():
    new, old = torch.tensor([[0.3, -2.0, 1.0, 0.0, 4.0]]), torch.tensor([[-1.0, 0.5, 1.0, 2.0, -3.0]])
    p, q = torch.sigmoid(new), torch.sigmoid(old)
    direct = (p * torch.log(p / q) + (1 - p) * torch.log((1 - p) / (1 - q))).mean(-1)
    assert torch.allclose(bernoulli_kl(new, old), direct, atol=1e-6)
    assert bernoulli_kl(old, old).abs().max() < 1e-7 and (bernoulli_kl(new, old) > 0).all()
    assert torch.isfinite(bernoulli_kl(torch.full((5,), 60.0), torch.full((5,), -60.0)))


@pytest.mark.parametrize("prox", [0.0, 0.1, 10.0])
def test_one_outer_and_one_inner_step_is_lookahead_lola(thetas, prox):
    # both proximal terms start at the old policies, where their gradients vanish
    d = pola_direction(thetas[0], thetas[1], GAME, GAMMA, 2.0, outer_lr=0.5, outer_steps=1, inner_steps=1,
                       prox_self=prox, prox_other=prox)
    assert torch.allclose(d, 0.5 * lola_lookahead_direction(thetas[0], thetas[1], GAME, GAMMA, 2.0), atol=1e-12)


def _unrolled_objective(th1, th1_old, th2_old, eta, inner_steps, prox_self, prox_other):
    """u_1(th1, th2'(th1)) - c_1 KL, with the opponent's inner steps recomputed from scratch."""
    th2 = th2_old.clone()
    for _ in range(inner_steps):
        th2 = th2.detach().requires_grad_(True)
        obj2 = per_step_values(th1, th2, GAME, GAMMA)[1] - prox_other * bernoulli_kl(th2, th2_old)
        (g,) = torch.autograd.grad(obj2.sum(), th2)
        th2 = th2 + eta * g
    return per_step_values(th1, th2.detach(), GAME, GAMMA)[0] - prox_self * bernoulli_kl(th1, th1_old)


def test_one_outer_step_is_the_gradient_of_the_unrolled_objective(thetas):
    """With one outer step, direction / outer_lr = d/d th1 of u_1(th1, th2'(th1)): central finite differences."""
    th1, th2 = thetas[0, 0], thetas[1, 0]
    eta, inner, c = 3.0, 3, 0.5
    d = pola_direction(th1, th2, GAME, GAMMA, eta, outer_lr=1.0, outer_steps=1, inner_steps=inner,
                       prox_self=c, prox_other=c)
    h, fd = 1e-5, torch.zeros(5, dtype=torch.float64)
    for i in range(5):
        e = torch.zeros(5, dtype=torch.float64)
        e[i] = h
        plus = _unrolled_objective(th1 + e, th1, th2, eta, inner, c, c)
        minus = _unrolled_objective(th1 - e, th1, th2, eta, inner, c, c)
        fd[i] = (plus - minus) / (2 * h)
    assert torch.allclose(d, fd, atol=1e-7, rtol=1e-5)
    # the look-ahead matters: the gradient differs from the naive one
    naive = torch.autograd.functional.jacobian(lambda t: per_step_values(t, th2, GAME, GAMMA)[0], th1)
    assert (d - naive).abs().max() > 1e-3


def test_outer_steps_improve_the_proximal_objective(thetas):
    th1, th2 = thetas[0], thetas[1]
    eta, inner, c = ETA, 3, 0.2
    d = pola_direction(th1, th2, GAME, GAMMA, eta, outer_lr=1.0, outer_steps=8, inner_steps=inner,
                       prox_self=c, prox_other=c)
    before = _unrolled_objective(th1, th1, th2, eta, inner, c, c)
    after = _unrolled_objective(th1 + d, th1, th2, eta, inner, c, c)
    assert (after > before).all()


def test_a_stronger_proximal_term_gives_a_smaller_step(thetas):
    # outer_lr 1: the KL term's curvature (at most 0.05 per logit) times lr * c stays below 2 (stable steps)
    norms = [pola_direction(thetas[0], thetas[1], GAME, GAMMA, ETA, outer_lr=1.0, outer_steps=10,
                            prox_self=c).norm(dim=-1) for c in (0.0, 1.0, 10.0, 30.0)]
    assert all((a > b).all() for a, b in zip(norms, norms[1:]))
    assert (norms[-1] < 0.5 * norms[0]).all()


def test_pola_learns_reciprocity_in_the_ipd():
    """50 seeds, 50 proximal updates with the defaults: measured mean -1.22, 70% Tit-for-Tat-like."""
    pola = run_exact_learning("pola", n_seeds=50, n_steps=50, gamma=GAMMA, lr=1.0, lookahead_lr=ETA, seed=0)
    naive = run_exact_learning("naive", n_seeds=50, n_steps=50, gamma=GAMMA, lr=1.0, seed=0)
    assert pola.final_mean_reward() > naive.final_mean_reward() + 0.5
    assert pola.tft_fraction() > 0.5
    assert RULES["pola"] is pola_direction and pola.rules == ("pola", "pola")


def test_pola_rule_and_bad_arguments(thetas):
    rule = pola_rule(outer_steps=2, inner_steps=1)
    assert rule.__name__ == "pola"
    h = run_exact_learning(rule, n_seeds=3, n_steps=2, lr=1.0)
    assert h.theta1.shape == (3, 3, 5) and h.rules == ("pola", "pola")
    with pytest.raises(ValueError, match="outer_steps"):
        pola_direction(thetas[0], thetas[1], GAME, GAMMA, outer_steps=0)
    with pytest.raises(ValueError, match="prox_self"):
        pola_direction(thetas[0], thetas[1], GAME, GAMMA, prox_self=-1.0)
    with pytest.raises(ValueError, match="outer_lr"):
        pola_direction(thetas[0], thetas[1], GAME, GAMMA, outer_lr=float("nan"))
    with pytest.raises(ValueError, match="lookahead_lr"):
        pola_rule(lookahead_lr=25.0)
    with pytest.raises(ValueError, match="lr=1"):
        run_exact_learning("pola", n_seeds=2, n_steps=1, lr=2.0)


def test_number_checks_shared_by_the_exact_learners():
    from aa_lib._validation import check_nonnegative, check_positive

    assert check_nonnegative(0, "c") == 0.0 and check_positive(2, "lr") == 2.0
    assert check_positive(float("inf"), "lr") == float("inf")  # only finite=True refuses infinity
    for bad in (float("nan"), -0.1, True, "1"):
        with pytest.raises(ValueError, match="c must be a non-negative number"):
            check_nonnegative(bad, "c")
    for bad, finite in ((0, False), (float("nan"), False), (True, False), (float("inf"), True), (-1.0, True)):
        with pytest.raises(ValueError, match="lr must be a positive"):
            check_positive(bad, "lr", finite=finite)
