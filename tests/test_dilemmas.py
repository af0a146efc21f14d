"""Social-dilemma classification and game descriptions (aa_lib.games.dilemmas)."""
import pytest

from aa_lib.games.dilemmas import describe_game, dilemma_kind, is_constant_sum, is_social_dilemma, is_symmetric
from aa_lib.games.matrix import CHICKEN, MATCHING_PENNIES, PRISONERS_DILEMMA, STAG_HUNT, symmetric_game


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
def test_classification(game, dilemma, kind):
    assert is_social_dilemma(game) is dilemma
    assert dilemma_kind(game) == kind


def test_chicken_with_strict_inequality_is_a_dilemma():
    chicken = symmetric_game("chicken", [[0.5, -1.0], [1.0, -10.0]])
    assert is_social_dilemma(chicken)


def test_harmony_game_is_not_a_dilemma():
    harmony = symmetric_game("harmony", [[3.0, 2.0], [1.0, 0.0]])  # cooperation dominant
    assert not is_social_dilemma(harmony)


def test_symmetry_and_constant_sum():
    assert is_symmetric(PRISONERS_DILEMMA) and not is_symmetric(MATCHING_PENNIES)
    assert is_constant_sum(MATCHING_PENNIES) and not is_constant_sum(PRISONERS_DILEMMA)


def test_description_of_the_prisoners_dilemma():
    d = describe_game(PRISONERS_DILEMMA)
    assert d["pure_nash"] == ["(D, D)"]
    assert d["pareto_dominated_nash"] == ["(D, D)"]
    assert d["outcomes"]["(C, D)"] == (-3.0, 0.0)
    assert d["mixed_nash"] == []
    (eq,) = describe_game(CHICKEN)["mixed_nash"]
    assert eq["p1"] == pytest.approx(0.9) and eq["payoffs"] == pytest.approx((-0.1, -0.1))
