"""aa_lib.symbolic: every SymPy identity asserted exactly (simplify(lhs - rhs) == 0)."""
import pytest
import sympy as sp

from aa_lib.symbolic import (
    Identity,
    aa_modified_advantage,
    expected_advantage_is_zero,
    loqa_partial_softmax_gradient,
    opponent_q_policy_gradient,
    softmax_log_policy_gradient,
    softmax_policy_gradient,
    two_step_eq8_ratio,
    two_step_game,
    two_step_shaping_term,
)


@pytest.fixture(scope="module")
def game():
    return two_step_game()


def assert_exact(identity: Identity):
    diff = identity.lhs - identity.rhs
    if isinstance(diff, sp.MatrixBase):
        assert all(sp.simplify(entry) == 0 for entry in diff), identity.name
    else:
        assert sp.simplify(diff) == 0, identity.name


@pytest.mark.parametrize("n_actions, taken", [(2, 0), (2, 1), (3, 2)])
def test_softmax_policy_gradient_eq5(n_actions, taken):
    assert_exact(softmax_policy_gradient(n_actions, taken))
    assert_exact(softmax_log_policy_gradient(n_actions, taken))


@pytest.mark.parametrize("n_actions, taken, log", [(2, 0, True), (2, 1, False), (3, 0, True)])
def test_loqa_partial_softmax_eqs53_58(n_actions, taken, log):
    assert_exact(loqa_partial_softmax_gradient(n_actions, taken, log))


def test_full_and_partial_softmax_gradients_differ():
    """The (1 - pi) form is not the full softmax gradient: the identity with the other
    rhs is false (shown by exact evaluation at a point)."""
    partial = loqa_partial_softmax_gradient(2, 0, log=True)
    full = softmax_log_policy_gradient(2, 0)
    wrong = Identity("partial == full", partial.lhs, full.rhs)
    assert sp.simplify(wrong.lhs - wrong.rhs) != 0


def test_expected_advantage_is_zero():
    assert_exact(expected_advantage_is_zero())


@pytest.mark.parametrize("a, b", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_policy_gradient_form_of_opponent_q_gradient(game, a, b):
    assert_exact(opponent_q_policy_gradient(game, a, b))


def test_two_step_shaping_term_equals_undiscounted_aa(game):
    assert_exact(two_step_shaping_term(game, "exact"))


def test_two_step_printed_eq8_is_gamma_squared_times_exact(game):
    printed = two_step_shaping_term(game, "eq8")
    assert not printed.holds()
    value = printed.at_random_point(seed=1)
    assert any(entry != 0 for entry in value)  # exact rational arithmetic: provably different
    assert_exact(two_step_eq8_ratio(game))
    # At gamma = 1 the printed form is exact.
    at_one = Identity("gamma = 1", printed.lhs.subs(game.gamma, 1), printed.rhs.subs(game.gamma, 1))
    assert at_one.holds()


def test_identity_holds_rejects_false_claims():
    x = sp.Symbol("x", positive=True)
    assert not Identity("x == 2x", x, 2 * x).holds()
    assert Identity("(x+1)^2", (x + 1) ** 2, x**2 + 2 * x + 1).holds()


def test_aa_modified_advantage_eq10():
    a_star = aa_modified_advantage(3)
    beta, gamma = sp.symbols("beta gamma", positive=True)
    a1 = sp.symbols("A1_0:3", real=True)
    a2 = sp.symbols("A2_0:3", real=True)
    assert a_star[0] == a1[0]
    assert sp.simplify(a_star[2] - (a1[2] + beta * gamma * (gamma**2 * a1[0] + gamma * a1[1]) * a2[2])) == 0
