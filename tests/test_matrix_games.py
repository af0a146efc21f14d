"""Normal-form games: payoff tables as data, equilibria and Pareto sets computed."""
import itertools

import pytest
import torch

from aa_lib.games.matrix import (
    CHICKEN,
    MATRIX_GAMES,
    MATCHING_PENNIES,
    PRISONERS_DILEMMA,
    STAG_HUNT,
    MatrixGame,
    as_payoff_tensor,
    expected_payoffs,
    mixed_nash_equilibria,
    outcome_payoffs,
    pareto_optimal_outcomes,
    pure_nash_equilibria,
    symmetric_game,
)


def test_prisoners_dilemma_table_matches_references():
    p = PRISONERS_DILEMMA.payoffs
    # (own, other): CC -1, CD -3, DC 0, DD -2 for both seats.
    assert p[0].tolist() == [[-1.0, -3.0], [0.0, -2.0]]
    assert torch.equal(p[0], p[1])


def test_outcome_payoffs_reads_player_two_from_its_seat():
    pay = outcome_payoffs(PRISONERS_DILEMMA.payoffs)
    assert pay[0, 1].tolist() == [-3.0, 0.0]  # row cooperates, column defects
    assert pay[1, 0].tolist() == [0.0, -3.0]


@pytest.mark.parametrize(
    "game, expected",
    [
        (PRISONERS_DILEMMA, [(1, 1)]),
        (CHICKEN, [(0, 1), (1, 0)]),
        (STAG_HUNT, [(0, 0), (1, 1)]),
        (MATCHING_PENNIES, []),
    ],
)
def test_pure_nash(game, expected):
    assert pure_nash_equilibria(game) == expected


def _is_best_response_mix(game, p1, p2, tol=1e-9):
    """Independent check: no pure deviation improves either player's expected payoff."""
    u = expected_payoffs(game, p1, p2)
    for dev in (0.0, 1.0):
        if expected_payoffs(game, dev, p2)[0] > u[0] + tol:
            return False
        if expected_payoffs(game, p1, dev)[1] > u[1] + tol:
            return False
    return True


@pytest.mark.parametrize(
    "game, expected",
    [(CHICKEN, (0.9, 0.9)), (STAG_HUNT, (0.75, 0.75)), (MATCHING_PENNIES, (0.5, 0.5))],
)
def test_mixed_nash_values_and_best_response_property(game, expected):
    (eq,) = mixed_nash_equilibria(game)
    assert eq == pytest.approx(expected, abs=1e-12)
    assert _is_best_response_mix(game, *eq)
    # Each player is exactly indifferent between its actions at the mixed equilibrium.
    u_c = expected_payoffs(game, 1.0, eq[1])[0]
    u_d = expected_payoffs(game, 0.0, eq[1])[0]
    assert float(u_c) == pytest.approx(float(u_d), abs=1e-12)


def test_prisoners_dilemma_has_no_mixed_equilibrium():
    assert mixed_nash_equilibria(PRISONERS_DILEMMA) == []


def test_pure_equilibria_pass_independent_deviation_check():
    for game in MATRIX_GAMES.values():
        for a1, a2 in itertools.product(range(2), repeat=2):
            is_eq = _is_best_response_mix(game, float(a1 == 0), float(a2 == 0))
            assert is_eq == ((a1, a2) in pure_nash_equilibria(game)), (game.name, a1, a2)


@pytest.mark.parametrize(
    "game, expected",
    [
        (PRISONERS_DILEMMA, [(0, 0), (0, 1), (1, 0)]),  # DD is Pareto-dominated by CC
        (STAG_HUNT, [(0, 0)]),
        (CHICKEN, [(0, 0), (0, 1), (1, 0)]),
        (MATCHING_PENNIES, [(0, 0), (0, 1), (1, 0), (1, 1)]),  # zero-sum: nothing dominated
    ],
)
def test_pareto_optimal(game, expected):
    assert pareto_optimal_outcomes(game) == expected


def test_dilemma_nash_is_pareto_dominated():
    (eq,) = pure_nash_equilibria(PRISONERS_DILEMMA)
    assert eq not in pareto_optimal_outcomes(PRISONERS_DILEMMA)


def test_custom_game_and_raw_tensor_agree():
    g = symmetric_game("custom", [[3.0, 0.0], [5.0, 1.0]])
    assert pure_nash_equilibria(g) == pure_nash_equilibria(g.payoffs) == [(1, 1)]


@pytest.mark.parametrize(
    "bad, err",
    [
        (torch.zeros(2, 2), ValueError),
        (torch.zeros(3, 2, 2), ValueError),
        (torch.full((2, 2, 2), float("nan")), ValueError),
        ("not a game", TypeError),
    ],
)
def test_bad_payoffs_raise_clear_errors(bad, err):
    with pytest.raises(err, match="payoffs|game"):
        as_payoff_tensor(bad)


def test_matrix_game_validates_its_table():
    with pytest.raises(ValueError, match="payoffs"):
        MatrixGame("bad", torch.zeros(2, 3, 2))
    with pytest.raises(ValueError, match="actions"):
        MatrixGame("bad", torch.zeros(2, 2, 2), ("a", "b", "c"))
