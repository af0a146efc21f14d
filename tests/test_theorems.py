"""The paper's estimators against exact gradients (Section 4, App. A), in float64.

Where the theory says two quantities are equal the test asserts a relative error
below 1e-10 (they agree to ~1e-15 in float64); where the notebook reports that a printed
formula differs from the exact term, the test asserts the difference is
clearly non-zero, so the course text cannot silently rot.

Exact terms are autograd through the exact finite-horizon solver; estimators are
exact expectations over all 4^T trajectories.
"""
import pytest
import torch

from aa_lib.exact.lola_form import (
    LOLA_FORMS,
    feature_logits,
    lola_aa_expectation,
    lola_second_order_term,
    tabular_softmax_logits,
)
from aa_lib.exact.memory_one import policy_logits
from aa_lib.exact.nash import (
    aa_terms,
    exploitability,
    own_action_advantages,
    policy_gradients,
    pure_memory_one_equilibria,
    pure_memory_one_policies,
    reciprocal_choice,
    stage_equilibrium_profiles,
    subgame_perfect_profile,
)
from aa_lib.exact.shaping import (
    EXACT_HELD,
    EXACT_MARGINAL,
    aa_estimator_expectation,
    exact_opponent_shaping_term,
    opponent_log_policy,
)
from aa_lib.exact.tabular import solve_tabular
from aa_lib.games.matrix import (
    CHICKEN,
    MATRIX_GAMES,
    MATCHING_PENNIES,
    PRISONERS_DILEMMA,
    STAG_HUNT,
    as_payoff_tensor,
    mixed_nash_equilibria,
)

DT = torch.float64
SEEDS = (0, 1, 2)  # three random games (random payoff tables and policies)
HORIZONS = (4, 5)
GAMMA = 0.8
BETA = 0.7
EQUAL = 1e-10  # relative error where the theory says "equal" (measured ~1e-15)
DIFFERENT = 1e-2  # relative error a reported discrepancy must exceed


def random_case(seed, batch=3):
    gen = torch.Generator().manual_seed(seed)
    payoffs = torch.randn(2, 2, 2, generator=gen, dtype=DT)
    th1 = torch.randn(batch, 5, generator=gen, dtype=DT)
    th2 = torch.randn(batch, 5, generator=gen, dtype=DT)
    return payoffs, th1, th2


def rel_err(estimate, exact):
    """Largest relative error over the batch, ``|a - b| / |b|`` per 5-vector."""
    return ((estimate - exact).norm(dim=-1) / exact.norm(dim=-1)).max().item()


def min_rel_err(estimate, exact):
    return ((estimate - exact).norm(dim=-1) / exact.norm(dim=-1)).min().item()


def cosine(a, b):
    return torch.nn.functional.cosine_similarity(a, b, dim=-1)


CASES = [(seed, T) for seed in SEEDS for T in HORIZONS]
IDS = [f"game{seed}-T{T}" for seed, T in CASES]


# ----------------------------------------------------------------------------
# Eq. 7 (opponent shaping through the opponent's Q-values) vs the AA estimators
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("seed, T", CASES, ids=IDS)
def test_held_term_equals_undiscounted_strictly_past_estimator(seed, T):
    game, th1, th2 = random_case(seed)
    exact = exact_opponent_shaping_term(th1, th2, game, GAMMA, T, opponent_q="held", beta=BETA)
    estimate = aa_estimator_expectation(th1, th2, game, GAMMA, T, beta=BETA, **EXACT_HELD)
    assert rel_err(estimate, exact) < EQUAL


@pytest.mark.parametrize("seed, T", CASES, ids=IDS)
def test_marginal_term_equals_current_step_estimator_with_averaged_own_advantages(seed, T):
    game, th1, th2 = random_case(seed)
    exact = exact_opponent_shaping_term(th1, th2, game, GAMMA, T, opponent_q="marginal", beta=BETA)
    with_partition = exact_opponent_shaping_term(th1, th2, game, GAMMA, T, opponent_q="marginal",
                                                 partition="softmax", beta=BETA)
    estimate = aa_estimator_expectation(th1, th2, game, GAMMA, T, beta=BETA, marginal_own=True, **EXACT_MARGINAL)
    assert rel_err(estimate, exact) < EQUAL
    # Over the marginal Q-values the partition function drops out exactly (E[A1 | s] = 0).
    assert rel_err(with_partition, exact) < EQUAL


@pytest.mark.parametrize("seed, T", CASES, ids=IDS)
def test_printed_eq8_and_eq59_differ_from_the_exact_term(seed, T):
    game, th1, th2 = random_case(seed)
    held = exact_opponent_shaping_term(th1, th2, game, GAMMA, T, beta=BETA)
    marginal = exact_opponent_shaping_term(th1, th2, game, GAMMA, T, opponent_q="marginal", beta=BETA)
    eq8 = aa_estimator_expectation(th1, th2, game, GAMMA, T, beta=BETA)
    eq59 = aa_estimator_expectation(th1, th2, game, GAMMA, T, beta=BETA, normalise=True)
    for printed in (eq8, eq59):
        assert min_rel_err(printed, held) > DIFFERENT
        assert min_rel_err(printed, marginal) > DIFFERENT
    # Including the current step with the joint-action A1 matches neither exact term.
    joint_current = aa_estimator_expectation(th1, th2, game, GAMMA, T, beta=BETA, **EXACT_MARGINAL)
    assert min_rel_err(joint_current, held) > DIFFERENT
    assert min_rel_err(joint_current, marginal) > DIFFERENT


@pytest.mark.parametrize("seed, T", CASES, ids=IDS)
def test_printed_eq8_error_is_mostly_a_constant_gamma_squared_factor(seed, T):
    """Eq. 8's relative error (~1 - gamma^2) is almost all a constant factor gamma^2 (absorbed by beta).

    Measured here (gamma = 0.8): cosine >= 0.9991, raw error 0.34-0.40 (1 - gamma^2 = 0.36),
    error of eq. 8 / gamma^2 <= 0.057, i.e. at most 0.15 of the raw error.
    """
    game, th1, th2 = random_case(seed)
    held = exact_opponent_shaping_term(th1, th2, game, GAMMA, T, beta=BETA)
    eq8 = aa_estimator_expectation(th1, th2, game, GAMMA, T, beta=BETA)
    raw = (eq8 - held).norm(dim=-1) / held.norm(dim=-1)
    rescaled = (eq8 / GAMMA**2 - held).norm(dim=-1) / held.norm(dim=-1)
    assert cosine(eq8, held).min() > 0.99
    assert (raw - (1 - GAMMA**2)).abs().max() < 0.1
    assert (rescaled < raw / 4).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_printed_eq8_is_exact_without_discounting(seed):
    """... for the held reading; against the paper's own marginal reading (eq. 4, eq. 13) it is
    off even at gamma = 1 (App. A.1 switches readings between eqs. 13 and 14)."""
    game, th1, th2 = random_case(seed)
    held = exact_opponent_shaping_term(th1, th2, game, 1.0, 4, beta=BETA)
    marginal = exact_opponent_shaping_term(th1, th2, game, 1.0, 4, opponent_q="marginal", beta=BETA)
    eq8 = aa_estimator_expectation(th1, th2, game, 1.0, 4, beta=BETA)
    assert rel_err(eq8, held) < EQUAL
    assert min_rel_err(eq8, marginal) > DIFFERENT


def test_loqa_opponent_log_policy_is_eq58_and_needs_two_actions():
    q2 = torch.randn(4, 2, generator=torch.Generator().manual_seed(9), dtype=DT, requires_grad=True)
    log_pi = opponent_log_policy(q2, BETA, "loqa")
    pi = torch.softmax(BETA * q2.detach(), dim=-1)
    assert torch.allclose(log_pi.detach(), pi.log(), atol=1e-14)  # the value is the softmax's
    for b in range(2):
        (grad,) = torch.autograd.grad(log_pi[:, b].sum(), q2, retain_graph=True)
        expected = torch.zeros_like(grad)
        expected[:, b] = BETA * (1 - pi[:, b])  # eq. 58: only the taken action's Q-value moves
        assert torch.allclose(grad, expected, atol=1e-14)
    three = torch.zeros(4, 3, dtype=DT)
    with pytest.raises(ValueError, match="exactly 2 opponent actions"):
        opponent_log_policy(three, 1.0, "loqa")
    assert opponent_log_policy(three, 1.0, "softmax").shape == (4, 3)  # the other treatments accept any


@pytest.mark.parametrize("seed, T", CASES, ids=IDS)
def test_held_softmax_partition_does_not_drop_out(seed, T):
    """With a_t held (eq. 41) the partition-function term depends on a_t and survives."""
    game, th1, th2 = random_case(seed)
    dropped = exact_opponent_shaping_term(th1, th2, game, GAMMA, T, beta=BETA)
    full = exact_opponent_shaping_term(th1, th2, game, GAMMA, T, partition="softmax", beta=BETA)
    assert min_rel_err(full, dropped) > DIFFERENT


# ----------------------------------------------------------------------------
# Theorem 2: LOQA
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("seed, T", CASES, ids=IDS)
def test_theorem2_loqa_term_equals_aa_with_one_minus_pi_factors(seed, T):
    game, th1, th2 = random_case(seed)
    exact = exact_opponent_shaping_term(th1, th2, game, GAMMA, T, partition="loqa", beta=BETA)
    estimate = aa_estimator_expectation(th1, th2, game, GAMMA, T, beta=BETA, loqa_beta=BETA, **EXACT_HELD)
    assert rel_err(estimate, exact) < EQUAL
    printed_eq12 = aa_estimator_expectation(th1, th2, game, GAMMA, T, beta=BETA, loqa_beta=BETA)
    assert min_rel_err(printed_eq12, exact) > DIFFERENT


# ----------------------------------------------------------------------------
# Theorem 1: LOLA
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("form", LOLA_FORMS)
@pytest.mark.parametrize("seed, T", CASES, ids=IDS)
def test_theorem1_lola_term_has_an_exact_aa_form_for_tabular_policies(seed, T, form):
    game, th1, th2 = random_case(seed)
    aa_form = lola_aa_expectation(th1, th2, game, GAMMA, T, form=form)
    psi2 = torch.stack([th2 / 2, -th2 / 2], dim=-1)  # a tabular softmax with the same policy
    softmax = lola_second_order_term(th1, psi2, game, GAMMA, T, form=form, opponent_logits=tabular_softmax_logits)
    sigmoid = lola_second_order_term(th1, th2, game, GAMMA, T, form=form)
    assert rel_err(aa_form, softmax) < EQUAL
    assert rel_err(aa_form / 2, sigmoid) < EQUAL  # one logit per state: exactly half


@pytest.mark.parametrize("seed, T", CASES, ids=IDS)
def test_theorem1_printed_eq11_differs_from_the_exact_term(seed, T):
    game, th1, th2 = random_case(seed)
    printed = lola_aa_expectation(th1, th2, game, GAMMA, T, printed=True)
    exact = lola_aa_expectation(th1, th2, game, GAMMA, T, form="eq29")
    cosine = torch.nn.functional.cosine_similarity(printed, exact, dim=-1)
    assert min_rel_err(printed, exact) > DIFFERENT
    assert cosine.min() < 0.99


def test_theorem1_orthonormality_is_impossible_but_shared_features_break_the_form():
    """Scores of a normalised policy are linearly dependent (so not orthonormal); what the
    exact form needs is that no parameter is shared between states."""
    th2 = torch.randn(5, generator=torch.Generator().manual_seed(3), dtype=DT)
    psi = torch.stack([th2, torch.zeros_like(th2)], -1).requires_grad_(True)
    pi = torch.softmax(psi, -1)
    scores = [torch.autograd.grad(torch.log(pi[0, b]), psi, retain_graph=True)[0] for b in range(2)]
    assert torch.allclose(pi[0, 0] * scores[0] + pi[0, 1] * scores[1], torch.zeros_like(psi), atol=1e-15)
    game, th1, _ = random_case(4)
    features = torch.tensor([[1.0, 0.0], [1.0, 1.0], [1.0, 1.0], [1.0, 0.0], [1.0, 0.0]], dtype=DT)
    psi2 = torch.randn(3, 2, generator=torch.Generator().manual_seed(5), dtype=DT)
    shared = lola_second_order_term(th1, psi2, game, GAMMA, 4, opponent_logits=feature_logits(features))
    tabular_form = lola_aa_expectation(th1, psi2 @ features.T, game, GAMMA, 4)
    assert min_rel_err(shared, tabular_form) > DIFFERENT


# ----------------------------------------------------------------------------
# Theorem 3: Nash equilibria
# ----------------------------------------------------------------------------
T_NASH, GAMMA_NASH = 3, 0.9


@pytest.mark.parametrize("game", list(MATRIX_GAMES.values()), ids=list(MATRIX_GAMES))
def test_stage_equilibria_lifted_are_nash_and_pure_profiles_have_zero_aa_term(game):
    for label, p1, p2 in stage_equilibrium_profiles(game):
        e1, e2 = exploitability(p1, p2, game, GAMMA_NASH, T_NASH)
        assert max(e1.item(), e2.item()) < 1e-12, label
    pure = pure_memory_one_policies()
    p1 = pure[:, None].expand(32, 32, 5).reshape(-1, 5)
    p2 = pure[None, :].expand(32, 32, 5).reshape(-1, 5)
    # Zero at EVERY deterministic profile, Nash or not ...
    assert aa_terms(p1, p2, game, GAMMA_NASH, T_NASH).abs().max() == 0
    # ... also under the marginal reading (eq. 4: k <= t with own-action-averaged A1) ...
    assert aa_terms(p1, p2, game, GAMMA_NASH, T_NASH, marginal_own=True, **EXACT_MARGINAL).abs().max() < 1e-14
    # ... but not once the current step is included with the joint-action A1.
    assert aa_terms(p1, p2, game, GAMMA_NASH, T_NASH, include_current=True).abs().max() > 1.0


def test_pure_memory_one_equilibria_of_the_prisoners_dilemma():
    p1, p2 = pure_memory_one_equilibria(PRISONERS_DILEMMA, GAMMA_NASH, T_NASH)
    assert len(p1) == 16  # always defect on the path; free choices off it
    assert (p1[:, 0] == 0).all() and (p2[:, 0] == 0).all() and (p1[:, 4] == 0).all()


@pytest.mark.parametrize("game, x", [(CHICKEN, 0.9), (STAG_HUNT, 0.75)], ids=["chicken", "stag_hunt"])
def test_theorem3_fails_at_a_mixed_nash_equilibrium(game, x):
    p = torch.full((5,), x, dtype=DT)
    e1, e2 = exploitability(p, p, game, GAMMA_NASH, T_NASH)
    assert max(e1.item(), e2.item()) < 1e-12  # a Nash equilibrium of the iterated game
    assert policy_gradients(p, p, game, GAMMA_NASH, T_NASH).abs().max() < 1e-12
    for options in ({}, EXACT_HELD):
        aa = aa_terms(p, p, game, GAMMA_NASH, T_NASH, **options)
        assert aa.abs().max() > 1e-2  # the AA term is NOT zero
        assert aa.sum(-1).abs().max() < 1e-12  # ... only along state-independent changes
    th = policy_logits(p)
    assert exact_opponent_shaping_term(th, th, game, GAMMA_NASH, T_NASH).abs().max() > 1e-3
    # Lemma 2 holds for own-action advantages; the joint advantages AA multiplies do not vanish.
    sol = solve_tabular(p, p, game, GAMMA_NASH, T_NASH)
    own1, own2 = own_action_advantages(sol)
    assert own1.abs().max() < 1e-12 and own2.abs().max() < 1e-12
    assert sol.advantages()[1].abs().max() > 0.1


def one_shot_marginal_term(game, x1, x2):
    """The marginal (eq. 4) shaping term of a ONE-SHOT game by hand, w.r.t. player 1's logit of P(action 0).

    ``Qbar2(b) = sum_a pi1(a) r2(a, b)`` depends on the logit through pi1, with
    ``d pi1(a) / dx = pi1(a) s(a)``, ``s(0) = 1 - x1``, ``s(1) = -x1``; the term is
    ``sum_{a,b} pi1(a) pi2(b) A1(a, b) dQbar2(b)/dx``, with ``A1 = r1 - V1``.
    """
    payoffs = as_payoff_tensor(game)
    r1, r2 = payoffs[0], payoffs[1].T  # [a, b]
    pi1, pi2 = torch.tensor([x1, 1 - x1], dtype=DT), torch.tensor([x2, 1 - x2], dtype=DT)
    joint = pi1[:, None] * pi2[None, :]
    a1 = r1 - (joint * r1).sum()
    score = torch.tensor([1 - x1, -x1], dtype=DT)
    d_qbar2 = ((pi1 * score)[:, None] * r2).sum(0)  # [b]
    return (joint * a1 * d_qbar2[None, :]).sum().item()


@pytest.mark.parametrize("game, x", [(CHICKEN, 0.9), (STAG_HUNT, 0.75)], ids=["chicken", "stag_hunt"])
def test_theorem3_marginal_reading_fails_even_without_history(game, x):
    """Under eq. 4 (the marginal reading) the exact term is non-zero at the mixed equilibrium even
    with T = 1 and memoryless policies; only the k < t terms cancel along history-independent changes."""
    p = torch.full((5,), x, dtype=DT)
    th = policy_logits(p)
    one_shot = exact_opponent_shaping_term(th, th, game, GAMMA_NASH, 1, opponent_q="marginal")
    by_hand = one_shot_marginal_term(game, x, x)
    assert abs(by_hand) > 0.1
    assert one_shot[0].item() == pytest.approx(by_hand, rel=1e-12)
    assert (one_shot[1:] == 0).all()  # no other state is visited in one step
    with_partition = exact_opponent_shaping_term(th, th, game, GAMMA_NASH, 1, opponent_q="marginal",
                                                 partition="softmax")
    assert rel_err(with_partition, one_shot) < EQUAL
    marginal = exact_opponent_shaping_term(th, th, game, GAMMA_NASH, T_NASH, opponent_q="marginal")
    held = exact_opponent_shaping_term(th, th, game, GAMMA_NASH, T_NASH)
    assert abs(marginal.sum().item()) > 0.1  # a history-independent change IS pushed (marginal)
    assert abs(held.sum().item()) < 1e-12  # ... but not under the k < t (held) term


def zero_sum_games_with_mixed_equilibria(n, seed=0):
    """``n`` random zero-sum 2x2 games (``payoffs[1, b, a] = -payoffs[0, a, b]``) with a fully mixed equilibrium."""
    gen = torch.Generator().manual_seed(seed)
    games = [MATCHING_PENNIES]
    while len(games) < n:
        own = torch.randn(2, 2, generator=gen, dtype=DT)
        game = torch.stack([own, -own.T])
        if mixed_nash_equilibria(game):
            games.append(game)
    return games


def largest_opponent_joint_advantage(p1, p2, game):
    """``max |A2(t, s, a, b)|`` over the iterated game (Theorem 3 setting)."""
    return solve_tabular(p1, p2, game, GAMMA_NASH, T_NASH).advantages()[1].abs().max().item()


def test_theorem3_holds_at_mixed_equilibria_of_zero_sum_games():
    """With A2 = -A1 the opponent's advantage averaged over its own action is minus the agent's
    own-action advantage, which Lemma 2 zeroes: every reading of the AA term vanishes."""
    for game in zero_sum_games_with_mixed_equilibria(4):
        ((x1, x2),) = mixed_nash_equilibria(game)
        p1, p2 = torch.full((5,), x1, dtype=DT), torch.full((5,), x2, dtype=DT)
        assert max(exploitability(p1, p2, game, GAMMA_NASH, T_NASH)) < 1e-12
        assert largest_opponent_joint_advantage(p1, p2, game) > 0.1  # the joint advantages themselves do not vanish
        for options in ({}, EXACT_HELD, dict(marginal_own=True, **EXACT_MARGINAL)):
            assert aa_terms(p1, p2, game, GAMMA_NASH, T_NASH, **options).abs().max() < 1e-14
        marginal = exact_opponent_shaping_term(policy_logits(p1), policy_logits(p2), game, GAMMA_NASH, T_NASH,
                                               opponent_q="marginal")
        assert marginal.abs().max() < 1e-14


def test_time_dependent_subgame_perfect_equilibrium_is_nash_and_moved_by_aa():
    p1, p2 = subgame_perfect_profile(STAG_HUNT, GAMMA_NASH, T_NASH, choose=reciprocal_choice)
    assert p1[1, 1] == 1.0 and p1[1, 2] == 0.0 and 0 < p1[0, 0] < 1  # history-dependent, mixed at t = 0
    e1, e2 = exploitability(p1, p2, STAG_HUNT, GAMMA_NASH, T_NASH, stationary=False)
    assert max(e1.item(), e2.item()) < 1e-12
    mixed = torch.stack([(p1 > 0) & (p1 < 1), (p2 > 0) & (p2 < 1)])
    gradients = policy_gradients(p1, p2, STAG_HUNT, GAMMA_NASH, T_NASH, stationary=False)
    assert gradients[mixed].abs().max() < 1e-12
    assert aa_terms(p1, p2, STAG_HUNT, GAMMA_NASH, T_NASH, stationary=False).abs().max() > 1e-2


def test_subgame_perfect_default_choice_and_best_response_against_a_deviation():
    """The default (mixed everywhere) is the history-independent equilibrium; a profile
    where one player deviates from it is exploitable by exactly the DP best response."""
    p1, p2 = subgame_perfect_profile(CHICKEN, GAMMA_NASH, 2)
    assert torch.allclose(p1, torch.full((2, 5), 0.9, dtype=DT))
    # Against an opponent who always swerves, going straight twice is best: 1 + 0.9 * 1.
    swerve = torch.ones(5, dtype=DT)
    e1, _ = exploitability(torch.full((5,), 0.9, dtype=DT), swerve, CHICKEN, GAMMA_NASH, 2)
    v_mixed = 0.9 * 0.0 + 0.1 * 1.0  # per step against a swerver
    assert e1.item() == pytest.approx(1.9 - v_mixed * 1.9)


def test_aa_term_is_nonzero_away_from_equilibria():
    gen = torch.Generator().manual_seed(7)
    p1 = torch.rand(4, 5, generator=gen, dtype=DT)
    p2 = torch.rand(4, 5, generator=gen, dtype=DT)
    e1, e2 = exploitability(p1, p2, PRISONERS_DILEMMA, GAMMA_NASH, T_NASH)
    assert (torch.maximum(e1, e2) > 1e-2).all()
    aa = aa_terms(p1, p2, PRISONERS_DILEMMA, GAMMA_NASH, T_NASH)
    assert (aa.flatten(-1).norm(dim=-1) > 1e-3).all()


def test_held_shaping_term_of_a_one_step_game_is_exactly_zero():
    """With one step and the agent's action held, the opponent's Q cannot depend on theta1."""
    gen = torch.Generator().manual_seed(11)
    th1, th2 = torch.randn(2, 5, generator=gen, dtype=torch.float64)
    held = exact_opponent_shaping_term(th1, th2, CHICKEN, 0.9, 1, opponent_q="held")
    assert torch.equal(held, torch.zeros(5, dtype=torch.float64))
    marginal = exact_opponent_shaping_term(th1, th2, CHICKEN, 0.9, 1, opponent_q="marginal")
    assert marginal[0].abs() > 1e-3 and torch.all(marginal[1:] == 0)  # only the start state is visited
