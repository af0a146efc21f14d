"""The paper's derivations as SymPy expressions, each an :class:`Identity` one can check exactly.

Every builder returns an :class:`Identity` ``lhs == rhs`` whose ``holds()`` runs
``sympy.simplify(lhs - rhs) == 0``. They are small enough to simplify in about a
second, and they are what notebook 04 shows step by step:

- :func:`softmax_policy_gradient`: the gradient of a softmax-over-Q opponent policy
  with respect to the agent's parameters (eq. 5, eqs. 41-45), and its log form;
- :func:`loqa_partial_softmax_gradient`: LOQA's partially differentiable softmax
  and its ``(1 - pi)`` factor (eqs. 53-58);
- :func:`expected_advantage_is_zero`: ``E_{a,b}[A(s, a, b)] = 0``, why the
  partition function drops out of eq. 6 when the Q-values are averaged over
  the agent's action (eq. 4);
- :func:`opponent_q_policy_gradient`: the policy-gradient form of the opponent's
  Q-value gradient (eqs. 14-16) in a two-step game;
- :func:`two_step_shaping_term`: the opponent-shaping term of a two-step iterated
  2x2 game written out in full, against the Advantage Alignment estimator.

The two-step game: states ``start, CC, CD, DC, DD`` (player 1's seat); player 1
plays C with probability ``p_s`` in state s (the parameters we differentiate
by), player 2 with probability ``q_s``; rewards ``r_i(a, b)`` are symbols.
Probabilities are used as parameters (the identities hold for any
parametrisation by the chain rule), which keeps every expression a rational
function that SymPy simplifies quickly.
"""
from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from typing import Dict, List, Tuple

import sympy as sp
from sympy.core.function import AppliedUndef

__all__ = [
    "Identity",
    "softmax_policy_gradient",
    "softmax_log_policy_gradient",
    "loqa_partial_softmax_gradient",
    "expected_advantage_is_zero",
    "TwoStepGame",
    "two_step_game",
    "opponent_q_policy_gradient",
    "two_step_shaping_term",
    "exact_two_step_shaping",
    "two_step_eq8_ratio",
    "aa_modified_advantage",
]

STATES = ("start", "CC", "CD", "DC", "DD")


@dataclass
class Identity:
    """A claimed equality ``lhs == rhs`` between SymPy expressions (or matrices).

    Attributes:
        name: what the identity says, citing the paper's equation.
        lhs, rhs: the two sides.
    """

    name: str
    lhs: sp.Expr
    rhs: sp.Expr

    def difference(self) -> sp.Expr:
        """``simplify(lhs - rhs)`` (element-wise for matrices)."""
        diff = self.lhs - self.rhs
        if isinstance(diff, sp.MatrixBase):
            return diff.applyfunc(sp.simplify)
        return sp.simplify(diff)

    def at_random_point(self, seed: int = 0):
        """``lhs - rhs`` at random rational values of all symbols (exact arithmetic), or None
        when the expressions contain undefined functions.

        A non-zero result proves the identity false; zero proves nothing.
        """
        diff = self.lhs - self.rhs
        if diff.atoms(AppliedUndef):
            return None
        rng = random.Random(seed)
        point = {x: sp.Rational(rng.randint(1, 99), 100) for x in diff.free_symbols}
        return diff.subs(point)

    def holds(self) -> bool:
        """Whether ``simplify(lhs - rhs) == 0`` exactly.

        A quick exact evaluation at a random rational point first rules out false
        identities (simplify can take long to fail).
        """
        quick = self.at_random_point()
        if quick is not None and (any(v != 0 for v in quick) if isinstance(quick, sp.MatrixBase) else quick != 0):
            return False
        diff = self.difference()
        if isinstance(diff, sp.MatrixBase):
            return all(entry == 0 for entry in diff)
        return diff == 0


# ----------------------------------------------------------------------------
# Softmax opponents (eqs. 4-5, 41-45) and LOQA (eqs. 53-58)
# ----------------------------------------------------------------------------
def _q_functions(n_actions: int, theta: sp.Symbol) -> List[sp.Expr]:
    """Opponent Q-values ``Q_b(theta)`` as undefined functions of the agent's parameter."""
    return [sp.Function(f"Q_{b}")(theta) for b in range(n_actions)]


def softmax_policy_gradient(n_actions: int = 2, taken: int = 0) -> Identity:
    """Eq. 5 / eq. 45: ``d pihat(b_t) / d theta = pihat(b_t) (Q'_bt - sum_b pihat(b) Q'_b)``.

    ``pihat(b) = exp(beta Q_b) / sum_b' exp(beta Q_b')`` with each ``Q_b`` a function of
    the agent's parameter ``theta``; the derivative includes the factor ``beta`` of
    Assumption 2 (the paper's eqs. 41-45 take ``beta = 1``).
    """
    theta, beta = sp.symbols("theta beta", real=True)
    q = _q_functions(n_actions, theta)
    partition = sum(sp.exp(beta * qb) for qb in q)
    pihat = [sp.exp(beta * qb) / partition for qb in q]
    lhs = sp.diff(pihat[taken], theta)
    average = sum(pihat[b] * sp.diff(q[b], theta) for b in range(n_actions))
    rhs = pihat[taken] * beta * (sp.diff(q[taken], theta) - average)
    return Identity("eq. 5: gradient of a softmax-over-Q opponent policy", lhs, rhs)


def softmax_log_policy_gradient(n_actions: int = 2, taken: int = 0) -> Identity:
    """App. A.3: ``d log pihat(b_t) / d theta = beta (Q'_bt - sum_b pihat(b) Q'_b)``."""
    theta, beta = sp.symbols("theta beta", real=True)
    q = _q_functions(n_actions, theta)
    partition = sum(sp.exp(beta * qb) for qb in q)
    pihat = [sp.exp(beta * qb) / partition for qb in q]
    lhs = sp.diff(sp.log(pihat[taken]), theta)
    rhs = beta * (sp.diff(q[taken], theta) - sum(pihat[b] * sp.diff(q[b], theta) for b in range(n_actions)))
    return Identity("App. A.3: gradient of the log of a softmax opponent policy", lhs, rhs)


def loqa_partial_softmax_gradient(n_actions: int = 2, taken: int = 0, log: bool = True) -> Identity:
    """Eqs. 53-58: only ``Q_bt`` is differentiable; ``d log pitilde(b_t) = beta (1 - pitilde(b_t)) Q'_bt``.

    The other actions' Q-values enter eq. 53 as constants (symbols ``Qc_b`` that do
    not depend on theta), which are then set equal to ``Q_b``. With ``log=False``
    the identity is eq. 57: ``d pitilde = pitilde (1 - pitilde) beta Q'_bt``.
    """
    theta, beta = sp.symbols("theta beta", real=True)
    q = _q_functions(n_actions, theta)
    frozen = sp.symbols(f"Qc_0:{n_actions}", real=True)
    others = sum(sp.exp(beta * frozen[b]) for b in range(n_actions) if b != taken)
    pitilde = sp.exp(beta * q[taken]) / (sp.exp(beta * q[taken]) + others)
    lhs = sp.diff(sp.log(pitilde) if log else pitilde, theta)
    at_q = {frozen[b]: q[b] for b in range(n_actions)}
    lhs = lhs.subs(at_q)
    value = pitilde.subs(at_q)
    factor = (1 - value) * beta * sp.diff(q[taken], theta)
    rhs = factor if log else value * factor
    return Identity("eqs. 53-58: LOQA's partial softmax and its (1 - pi) factor", lhs, rhs)


def expected_advantage_is_zero() -> Identity:
    """``sum_{a, b} pi1(a) pi2(b) (Q(a, b) - V) = 0`` with ``V = sum pi1 pi2 Q``.

    This is why the partition-function term of eq. 5 vanishes from eq. 6 when the
    softmax is over ``Q2(s, b) = E_a Q2(s, a, b)`` (eq. 4): that term depends on s
    only, and it multiplies ``A1(s, a, b)``, whose average over (a, b) is 0.
    """
    p, q = sp.symbols("p q", positive=True)
    Q = sp.Matrix(2, 2, sp.symbols("Q_CC Q_CD Q_DC Q_DD", real=True))
    pi1, pi2 = (p, 1 - p), (q, 1 - q)
    value = sum(pi1[a] * pi2[b] * Q[a, b] for a in range(2) for b in range(2))
    lhs = sum(pi1[a] * pi2[b] * (Q[a, b] - value) for a in range(2) for b in range(2))
    return Identity("E_{a,b}[A(s, a, b)] = 0", lhs, sp.Integer(0))


# ----------------------------------------------------------------------------
# The two-step iterated 2x2 game
# ----------------------------------------------------------------------------
@dataclass
class TwoStepGame:
    """Symbols and exact tables of a two-step (t = 0, 1) iterated 2x2 game.

    Attributes:
        p, q: P(C | s) of players 1 and 2, one symbol per state (player 1's seat order).
        r1, r2: reward symbols ``r_i[a][b]``.
        gamma: the discount symbol.
        Q1, Q2: ``Q_i[t][s][a][b]``; V1, V2: ``V_i[t][s]``.
    """

    p: Tuple[sp.Symbol, ...]
    q: Tuple[sp.Symbol, ...]
    r1: List[List[sp.Symbol]]
    r2: List[List[sp.Symbol]]
    gamma: sp.Symbol
    Q1: list
    Q2: list
    V1: list
    V2: list

    def pi1(self, s: int, a: int) -> sp.Expr:
        return self.p[s] if a == 0 else 1 - self.p[s]

    def pi2(self, s: int, b: int) -> sp.Expr:
        return self.q[s] if b == 0 else 1 - self.q[s]

    def advantage(self, player: int, t: int, s: int, a: int, b: int) -> sp.Expr:
        Q, V = (self.Q1, self.V1) if player == 1 else (self.Q2, self.V2)
        return Q[t][s][a][b] - V[t][s]

    def score(self, s: int, a: int) -> sp.Matrix:
        """``grad_p log pi1(a | s)`` as a column vector over the 5 parameters ``p``."""
        grad = sp.zeros(5, 1)
        grad[s] = 1 / self.p[s] if a == 0 else -1 / (1 - self.p[s])
        return grad

    def gradient(self, expr: sp.Expr) -> sp.Matrix:
        """Column vector ``d expr / d p``."""
        return sp.Matrix([sp.diff(expr, ps) for ps in self.p])

    def trajectories(self):
        """All 16 trajectories ``((a0, b0), (a1, b1))`` with states ``(0, 1 + 2 a0 + b0)``."""
        for a0, b0, a1, b1 in itertools.product(range(2), repeat=4):
            s1 = 1 + 2 * a0 + b0
            prob = self.pi1(0, a0) * self.pi2(0, b0) * self.pi1(s1, a1) * self.pi2(s1, b1)
            yield (0, a0, b0), (s1, a1, b1), prob


def two_step_game() -> TwoStepGame:
    """Build the two-step game's symbols and exact Q/V tables (backward induction)."""
    p = sp.symbols("p_start p_CC p_CD p_DC p_DD", positive=True)
    q = sp.symbols("q_start q_CC q_CD q_DC q_DD", positive=True)
    r1 = [[sp.Symbol(f"r1_{x}{y}", real=True) for y in "CD"] for x in "CD"]
    r2 = [[sp.Symbol(f"r2_{x}{y}", real=True) for y in "CD"] for x in "CD"]
    gamma = sp.Symbol("gamma", positive=True)
    pi1 = lambda s, a: p[s] if a == 0 else 1 - p[s]  # noqa: E731
    pi2 = lambda s, b: q[s] if b == 0 else 1 - q[s]  # noqa: E731
    tables = {}
    for name, r in (("1", r1), ("2", r2)):
        Q_last = [[[r[a][b] for b in range(2)] for a in range(2)] for _ in range(5)]
        V_last = [sum(pi1(s, a) * pi2(s, b) * r[a][b] for a in range(2) for b in range(2)) for s in range(5)]
        Q_first = [[[r[a][b] + gamma * V_last[1 + 2 * a + b] for b in range(2)] for a in range(2)]
                   for _ in range(5)]
        V_first = [sum(pi1(s, a) * pi2(s, b) * Q_first[s][a][b] for a in range(2) for b in range(2))
                   for s in range(5)]
        tables[name] = ([Q_first, Q_last], [V_first, V_last])
    return TwoStepGame(p, q, r1, r2, gamma, tables["1"][0], tables["2"][0], tables["1"][1], tables["2"][1])


def opponent_q_policy_gradient(game: TwoStepGame = None, a: int = 0, b: int = 0) -> Identity:
    """Eqs. 14-16: ``grad_p Q2(start, a, b) = gamma E[A2(s1, a1, b1) grad log pi1(a1 | s1) | s1 = (a, b)]``.

    The opponent's Q-value depends on the agent's parameters only through the
    future (the agent's action a is held), and its gradient has the
    policy-gradient form with the OPPONENT's advantages.
    """
    g = game or two_step_game()
    s1 = 1 + 2 * a + b
    lhs = g.gradient(g.Q2[0][0][a][b])
    rhs = sp.zeros(5, 1)
    for a1, b1 in itertools.product(range(2), repeat=2):
        weight = g.pi1(s1, a1) * g.pi2(s1, b1) * g.advantage(2, 1, s1, a1, b1)
        rhs += g.gamma * weight * g.score(s1, a1)
    return Identity("eqs. 14-16: policy-gradient form of grad Q2(s, a, b)", lhs, rhs)


def two_step_shaping_term(game: TwoStepGame = None, estimator: str = "exact") -> Identity:
    """The opponent-shaping term of eq. 7 (held a_t, eq. 41) in the two-step game, written out.

    ``lhs = E[sum_t gamma^t A1_t grad_p Q2(s_t, a_t, b_t)]`` computed directly from
    the tables; ``rhs`` the expectation of an Advantage Alignment estimator over
    the 16 trajectories:

    - ``estimator="exact"``: ``w_1 = gamma A1_0 A2_1`` (k < t, undiscounted past, gamma^t): equal;
    - ``estimator="eq8"``: the printed eq. 8, ``w_1 = gamma^2 * gamma A1_0 A2_1``: ``holds()``
      is False (it holds at gamma = 1 only); the lhs times ``gamma^2`` equals it, see
      :func:`two_step_eq8_ratio`.
    """
    g = game or two_step_game()
    if estimator not in ("exact", "eq8"):
        raise ValueError(f"estimator must be 'exact' or 'eq8', got {estimator!r}")
    lhs = exact_two_step_shaping(g)
    past_weight = g.gamma if estimator == "exact" else g.gamma ** 2 * g.gamma  # gamma^(t+1) gamma^(t-k), t=1, k=0
    rhs = sp.zeros(5, 1)
    for (s0, a0, b0), (s1, a1, b1), prob in g.trajectories():
        w1 = past_weight * g.advantage(1, 0, s0, a0, b0) * g.advantage(2, 1, s1, a1, b1)
        rhs += prob * w1 * g.score(s1, a1)
    name = "two-step game: eq. 7 (held) == " + ("AA with k<t, undiscounted past" if estimator == "exact"
                                               else "printed eq. 8")
    return Identity(name, lhs, rhs)


def exact_two_step_shaping(game: TwoStepGame) -> sp.Matrix:
    """``E[sum_t gamma^t A1_t grad_p Q2(s_t, a_t, b_t)]`` in the two-step game, ``[5, 1]``.

    Only t = 0 contributes: at the last step ``Q2 = r2`` does not depend on the
    agent's parameters.
    """
    g = game
    total = sp.zeros(5, 1)
    for a, b in itertools.product(range(2), repeat=2):
        weight = g.pi1(0, a) * g.pi2(0, b) * g.advantage(1, 0, 0, a, b)
        total += weight * g.gradient(g.Q2[0][0][a][b])
    return total


def two_step_eq8_ratio(game: TwoStepGame = None) -> Identity:
    """In the two-step game the printed eq. 8 is exactly ``gamma^2`` times the exact term."""
    g = game or two_step_game()
    printed = two_step_shaping_term(g, "eq8").rhs
    return Identity("two-step game: printed eq. 8 == gamma^2 x exact term",
                    g.gamma ** 2 * exact_two_step_shaping(g), printed)


def aa_modified_advantage(horizon: int = 3) -> Dict[int, sp.Expr]:
    """Proximal AA's modified advantage ``A*_t`` (eq. 10) for t = 0..T-1, as SymPy expressions.

    ``A*_t = A1_t + beta gamma (sum_{k<t} gamma^(t-k) A1_k) A2_t``.
    """
    beta, gamma = sp.symbols("beta gamma", positive=True)
    a1 = sp.symbols(f"A1_0:{horizon}", real=True)
    a2 = sp.symbols(f"A2_0:{horizon}", real=True)
    return {t: a1[t] + beta * gamma * sum(gamma ** (t - k) * a1[k] for k in range(t)) * a2[t]
            for t in range(horizon)}
