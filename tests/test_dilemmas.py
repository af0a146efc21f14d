"""Social-dilemma classification and game descriptions (aa_lib.games.dilemmas)."""
import pytest
import torch

from aa_lib.games.dilemmas import (
    describe_game,
    dilemma_conditions,
    dilemma_kind,
    dilemma_payoffs,
    is_constant_sum,
    is_social_dilemma,
    is_symmetric,
)
from aa_lib.games.matrix import CHICKEN, MATCHING_PENNIES, PRISONERS_DILEMMA, STAG_HUNT, MatrixGame, symmetric_game


@pytest.mark.parametrize(
    "game, dilemma, kind",
    [
        (PRISONERS_DILEMMA, True, "Prisoner's Dilemma"),
        (STAG_HUNT, True, "Stag Hunt"),
        (MATCHING_PENNIES, False, None),
        # Our Chicken table has 2R = T + S exactly: not a dilemma by the strict conditions.
        (CHICKEN, False, None),
    ],
)
def test_classification_of_the_four_games(game, dilemma, kind):
    assert is_social_dilemma(game) is dilemma
    assert dilemma_kind(game) == kind


def test_payoffs_are_read_from_each_players_own_seat():
    assert dilemma_payoffs(PRISONERS_DILEMMA, 0) == {"R": -1.0, "S": -3.0, "T": 0.0, "P": -2.0}
    # Matching Pennies: player 2 wins on a mismatch, so its "R" (both Heads) is -1.
    assert dilemma_payoffs(MATCHING_PENNIES, 1) == {"R": -1.0, "S": 1.0, "T": 1.0, "P": -1.0}
    with pytest.raises(ValueError, match="player"):
        dilemma_payoffs(PRISONERS_DILEMMA, 2)


def test_chicken_fails_only_the_turn_taking_condition_by_equality():
    conds = dilemma_conditions(CHICKEN, 0)
    assert conds == {"R > P": True, "R > S": True, "2R > T + S": False, "T > R or P > S": True,
                     "greed": True, "fear": False}
    strict = symmetric_game("chicken", [[0.5, -1.0], [1.0, -10.0]])
    assert is_social_dilemma(strict) and dilemma_kind(strict) == "Chicken"


@pytest.mark.parametrize(
    "table, failing",
    [
        ([[3.0, 2.0], [1.0, 0.0]], "T > R or P > S"),  # Harmony: no reason to defect
        ([[1.0, -3.0], [2.0, 1.0]], "R > P"),          # mutual defection as good as cooperation
        ([[1.0, -3.0], [6.0, 0.0]], "2R > T + S"),     # taking turns pays more: 2 < 3
    ],
)
def test_each_condition_can_fail_alone(table, failing):
    game = symmetric_game("g", table)
    conds = dilemma_conditions(game, 0)
    assert [name for name in ("R > P", "R > S", "2R > T + S", "T > R or P > S") if not conds[name]] == [failing]
    assert not is_social_dilemma(game) and dilemma_kind(game) is None


def test_r_greater_than_s_follows_from_the_other_three_conditions():
    # If S >= R, then 2R > T + S forces T < R (no greed), and fear P > S >= R contradicts R > P.
    gen = torch.Generator().manual_seed(0)
    tables = torch.randint(-3, 4, (4000, 2, 2), generator=gen).double()
    for table in tables:
        conds = dilemma_conditions(symmetric_game("g", table), 0)
        if conds["R > P"] and conds["2R > T + S"] and conds["T > R or P > S"]:
            assert conds["R > S"], table


def test_both_players_must_meet_the_conditions():
    # Player 1 has a Prisoner's Dilemma table, player 2 a Harmony table.
    game = MatrixGame("half", torch.tensor([[[-1.0, -3.0], [0.0, -2.0]], [[3.0, 2.0], [1.0, 0.0]]]))
    assert all(dilemma_conditions(game, 0).values())
    assert not is_social_dilemma(game)


def test_asymmetric_motives_are_reported_as_mixed():
    greedy = [[3.0, 1.0], [4.0, 0.0]]   # T = 4 > R = 3 (greed), P = 0 < S = 1 (no fear)
    fearful = [[4.0, 0.0], [3.0, 3.0]]  # Stag Hunt: fear only
    game = MatrixGame("mixed", torch.tensor([greedy, fearful]))
    assert is_social_dilemma(game)
    assert dilemma_kind(game) == "mixed motives"


def test_symmetry_and_constant_sum():
    assert is_symmetric(PRISONERS_DILEMMA) and not is_symmetric(MATCHING_PENNIES)
    assert is_constant_sum(MATCHING_PENNIES) and not is_constant_sum(PRISONERS_DILEMMA)
    constant_five = MatrixGame("c", torch.tensor([[[2.0, 4.0], [1.0, 3.0]], [[3.0, 4.0], [1.0, 2.0]]]))
    assert is_constant_sum(constant_five)  # u1 + u2 = 5 at every outcome, not zero


def test_description_of_the_prisoners_dilemma():
    d = describe_game(PRISONERS_DILEMMA)
    assert d["outcomes"] == {"(C, C)": (-1.0, -1.0), "(C, D)": (-3.0, 0.0), "(D, C)": (0.0, -3.0),
                             "(D, D)": (-2.0, -2.0)}
    assert d["pure_nash"] == ["(D, D)"]
    assert d["pareto_optimal"] == ["(C, C)", "(C, D)", "(D, C)"]
    assert d["pareto_dominated_nash"] == ["(D, D)"]
    assert d["mixed_nash"] == []
    assert d["social_dilemma"] and d["dilemma_kind"] == "Prisoner's Dilemma"
    assert "2R > T + S (-2 vs -3): yes" in d["reason"]


def test_description_uses_action_names_and_mixed_equilibria():
    d = describe_game(CHICKEN)
    assert d["pure_nash"] == ["(Swerve, Straight)", "(Straight, Swerve)"]
    (eq,) = d["mixed_nash"]
    # Indifference: x * 0 + (1 - x)(-1) = x * 1 + (1 - x)(-10)  =>  x = 0.9; payoff 0.9 * -0.1 + 0.1 * -0.1.
    assert eq["p1"] == 0.9 and eq["p2"] == 0.9
    assert eq["payoffs"] == (-0.1, -0.1)
    assert "2R > T + S (0 vs 0): NO" in d["reason"]
    stag = describe_game(STAG_HUNT)
    assert stag["mixed_nash"][0]["payoffs"] == (3.0, 3.0) and stag["pareto_dominated_nash"] == ["(Hare, Hare)"]


def test_description_accepts_a_raw_payoff_tensor():
    d = describe_game(PRISONERS_DILEMMA.payoffs)
    assert d["name"] == "custom game" and d["pure_nash"] == ["(D, D)"]
    with pytest.raises(ValueError, match="shape"):
        describe_game(torch.zeros(2, 2))
