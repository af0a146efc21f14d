"""The opponent-shaping term of eqs. 6-7, computed exactly, and the estimators that equal it.

Under Assumption 2 the opponent's policy is a softmax over its Q-values,
which depend on the agent's parameters theta1. The opponent-shaping part of the
policy gradient (eq. 6) is then

    S = E_tau[ sum_t gamma^t A1_t grad_theta1 log pihat2(b_t | s_t) ],

with ``log pihat2(b) = beta Q2_t(b) - log sum_b' exp(beta Q2_t(b'))`` (eq. 5, eqs. 41-45).
Two choices make this precise, and the paper uses both:

``opponent_q`` -- which opponent Q-value the softmax is over:
    - ``"held"``: ``Q2_t(b) = Q2(s_t, a_t, b)``, the agent's sampled action a_t held
      fixed (eqs. 41 and 53, and what a single trajectory provides),
    - ``"marginal"``: ``Q2_t(b) = sum_a pi1(a | s_t) Q2(s_t, a, b)`` (eq. 4).

``partition`` -- how the normaliser is treated:
    - ``"dropped"``: the partition function is ignored, ``grad log pihat2 = beta grad Q2_t(b_t)`` (eq. 7),
    - ``"softmax"``: the full log-softmax gradient (eq. 5 / eq. 45),
    - ``"loqa"``: only ``Q2_t(b_t)`` is differentiated (eq. 53): ``beta (1 - pihat2) grad Q2_t(b_t)`` (eq. 58);
      implemented for two opponent actions (see :func:`opponent_log_policy`).

In every case ``grad_theta1`` differentiates the opponent's Q-values through the
agent's policy with the opponent's policy held fixed (the derivation of App.
A.1 does the same), and the expectation is over trajectories of the actual
policies pi1, pi2. Every exact term here is autograd through the exact
finite-horizon solver (:mod:`aa_lib.exact.tabular`).

What equals what (derived in notebook 04, verified in notebook 05 and tests/test_theorems.py):

    held, dropped   = beta E[ sum_t gamma^t (sum_{k<t}  A1_k) A2_t grad log pi1(a_t|s_t) ]
    held, loqa      = beta E[ sum_t gamma^t (sum_{k<t}  (1 - pihat2_k) A1_k) A2_t grad log pi1(a_t|s_t) ]
    marginal, dropped = marginal, softmax
                    = beta E[ sum_t gamma^t (sum_{k<=t} Abar1_k) A2_t grad log pi1(a_t|s_t) ]

with ``Abar1_k = sum_a pi1(a|s_k) A1(s_k, a, b_k)`` the agent's advantage averaged
over its own action. The past advantages are NOT discounted: the printed eq. 8
(``gamma^(t+1) sum_{k<t} gamma^(t-k) A1_k``) equals the held term only when gamma = 1.
"""
from __future__ import annotations

from typing import Optional

import torch

from ..advantages import shaping_term
from .estimators import TrajectoryEnsemble, average_over_action, trajectory_ensemble
from .tabular import TabularSolution, solve_tabular, solve_tabular_logits

__all__ = [
    "OPPONENT_Q",
    "PARTITION",
    "opponent_q_table",
    "opponent_log_policy",
    "loqa_opponent_probs",
    "exact_opponent_shaping_term",
    "exact_policy_gradient",
    "solve_with_grad",
    "ensemble_for",
    "aa_estimator_expectation",
    "PAPER_EQ8",
    "PAPER_EQ59",
    "EXACT_HELD",
    "EXACT_MARGINAL",
]

OPPONENT_Q = ("held", "marginal")
PARTITION = ("dropped", "softmax", "loqa")

#: shaping_term options of the printed eq. 8 (its defaults).
PAPER_EQ8 = {}
#: shaping_term options of eq. 59 (1/(1+t), undiscounted past).
PAPER_EQ59 = {"normalise": True}
#: Options under which the estimator equals the exact "held" term (k < t, undiscounted past, gamma^t).
EXACT_HELD = {"past_discount": 1.0, "time_weight": "gamma^t"}
#: Options under which the estimator, fed own-action-averaged agent advantages, equals
#: the exact "marginal" term (k <= t, undiscounted past, gamma^t).
EXACT_MARGINAL = {"past_discount": 1.0, "time_weight": "gamma^t", "include_current": True}


def _check_choice(value, options, name):
    if value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}")


def opponent_q_table(solution: TabularSolution, opponent_q: str = "held") -> torch.Tensor:
    """The opponent's Q-value of each of its actions, ``[..., T, 5, 2(a), 2(b)]``.

    ``"held"``: ``Q2(t, s, a, b)`` (depends on the agent's action a);
    ``"marginal"``: ``sum_a' pi1(a'|t,s) Q2(t, s, a', b)`` (the same for every a).
    """
    _check_choice(opponent_q, OPPONENT_Q, "opponent_q")
    if opponent_q == "held":
        return solution.q2
    return average_over_action(solution, solution.q2, player=1)


def opponent_log_policy(q2: torch.Tensor, beta: float, partition: str) -> torch.Tensor:
    """``log pihat2(b | ...)`` for a softmax over ``beta * q2`` along the last axis (b).

    ``partition="dropped"`` returns ``beta q2`` (the normaliser ignored, eq. 7);
    ``"softmax"`` the full log-softmax (eq. 4); ``"loqa"`` the log of eq. 53, where
    only the taken action's Q-value is differentiable (the others are detached).

    ``"loqa"`` is implemented for two opponent actions only (the iterated 2x2
    games of :mod:`aa_lib.exact`): the last axis of ``q2`` must have size 2, else
    a ValueError is raised. ``"dropped"`` and ``"softmax"`` accept any number of actions.
    """
    _check_choice(partition, PARTITION, "partition")
    logits = beta * q2
    if partition == "dropped":
        return logits
    if partition == "softmax":
        return torch.log_softmax(logits, dim=-1)
    if q2.shape[-1] != 2:
        raise ValueError("opponent_log_policy: partition='loqa' supports exactly 2 opponent actions "
                         f"(last axis of q2), got q2 of shape {tuple(q2.shape)}")
    # Eq. 53: the normaliser of the entry for action b keeps b's own logit
    # differentiable and detaches the other action's.
    other = logits.detach().flip(-1)  # two actions: "the other one" of each b
    return logits - torch.logaddexp(logits, other)


def loqa_opponent_probs(solution: TabularSolution, beta: float = 1.0, opponent_q: str = "held") -> torch.Tensor:
    """``pihat2(b | t, s, a) = softmax_b(beta Q2)``, ``[..., T, 5, 2, 2]`` (detached): eq. 53's probabilities."""
    q2 = opponent_q_table(solution, opponent_q).detach()
    return torch.softmax(beta * q2, dim=-1)


def solve_with_grad(x1, x2, game, gamma: float, horizon: int, *, stationary: bool = True,
                    probabilities: bool = False):
    """``(x1 requiring grad, solution)``: the game solved with player 2's parameters held fixed.

    ``x1``, ``x2`` are logits of P(cooperate), or the probabilities themselves when
    ``probabilities`` is set (exact at 0 and 1, e.g. for pure equilibria).
    """
    x1 = torch.as_tensor(x1).detach().requires_grad_(True)
    x2 = torch.as_tensor(x2).detach()
    solve = solve_tabular if probabilities else solve_tabular_logits
    return x1, solve(x1, x2, game, gamma, horizon, stationary=stationary)


def _agent_weights(solution: TabularSolution) -> torch.Tensor:
    """``gamma^t Pr(s_t = s) pi1 pi2 A1``: the weight of each (t, s, a, b) in eq. 6, detached."""
    a1, _ = solution.advantages()
    return (solution.occupancy() * a1).detach()


def exact_opponent_shaping_term(theta1, theta2, game, gamma: float, horizon: int, *,
                                opponent_q: str = "held", partition: str = "dropped",
                                beta: float = 1.0, stationary: bool = True,
                                probabilities: bool = False) -> torch.Tensor:
    """Exact ``E[sum_t gamma^t A1_t grad_theta1 log pihat2(b_t | s_t)]`` by autograd.

    Args:
        theta1, theta2: logits of P(cooperate), each from its own seat, ``[..., 5]``
            (or ``[..., T, 5]`` with ``stationary=False``).
        game, gamma, horizon: the T-step iterated game.
        opponent_q: ``"held"`` (eqs. 41, 53) or ``"marginal"`` (eq. 4), see module doc.
        partition: ``"dropped"`` (eq. 7), ``"softmax"`` (eq. 5) or ``"loqa"`` (eq. 53, two actions).
        beta: the inverse temperature of Assumption 2.
        stationary, probabilities: see :func:`solve_with_grad`.

    Returns:
        The gradient with respect to theta1, shaped like theta1.
    """
    theta1, solution = solve_with_grad(theta1, theta2, game, gamma, horizon, stationary=stationary,
                                       probabilities=probabilities)
    log_pi2 = opponent_log_policy(opponent_q_table(solution, opponent_q), beta, partition)
    surrogate = (_agent_weights(solution) * log_pi2).sum()
    if not surrogate.requires_grad:
        # E.g. one step with the agent's action held: the opponent's Q-value cannot
        # depend on theta1 at all, so the shaping term is exactly zero.
        return torch.zeros_like(theta1)
    (grad,) = torch.autograd.grad(surrogate, theta1, allow_unused=True, materialize_grads=True)
    return grad


def exact_policy_gradient(theta1, theta2, game, gamma: float, horizon: int, *, player: int = 1,
                          stationary: bool = True, probabilities: bool = False) -> torch.Tensor:
    """``grad_theta1 V_player`` with theta2 fixed (autograd through the solver), shaped like theta1."""
    theta1, solution = solve_with_grad(theta1, theta2, game, gamma, horizon, stationary=stationary,
                                       probabilities=probabilities)
    value = solution.values[player - 1]
    (grad,) = torch.autograd.grad(value.sum(), theta1)
    return grad


def _flat_shaping(own: torch.Tensor, other: torch.Tensor, gamma: float, probs=None, **options) -> torch.Tensor:
    """:func:`aa_lib.advantages.shaping_term` on ``[..., N, T]`` tensors (flattened to one batch)."""
    shape = own.shape
    flat = lambda x: None if x is None else x.reshape(-1, shape[-1])  # noqa: E731
    return shaping_term(flat(own), flat(other), gamma, loqa_other_probs=flat(probs), **options).reshape(shape)


def ensemble_for(theta1, theta2, game, gamma: float, horizon: int, *, stationary: bool = True,
                 probabilities: bool = False):
    """``(theta1 with grad, TrajectoryEnsemble)`` for exact estimator expectations."""
    theta1, solution = solve_with_grad(theta1, theta2, game, gamma, horizon, stationary=stationary,
                                       probabilities=probabilities)
    return theta1, trajectory_ensemble(solution)


def aa_estimator_expectation(theta1, theta2, game, gamma: float, horizon: int, *,
                             beta: float = 1.0, marginal_own: bool = False,
                             loqa_beta: Optional[float] = None, stationary: bool = True,
                             probabilities: bool = False,
                             ensemble: Optional[TrajectoryEnsemble] = None, parameters=None,
                             **shaping_options) -> torch.Tensor:
    """Exact expectation of the Advantage Alignment estimator ``beta sum_t w_t grad log pi1(a_t|s_t)``.

    ``w_t`` is :func:`aa_lib.advantages.shaping_term` of the exact advantages along
    each trajectory, with ``shaping_options`` (defaults: the printed eq. 8; see
    :data:`EXACT_HELD`, :data:`EXACT_MARGINAL`, :data:`PAPER_EQ59`).

    Args:
        marginal_own: feed the agent's advantages averaged over its own action
            (``Abar1``) instead of the joint-action ``A1``.
        loqa_beta: if given, multiply each past advantage by ``1 - pihat2(b_k|s_k, a_k)``
            with ``pihat2 = softmax(loqa_beta Q2)`` (eq. 12).
        stationary, probabilities: see :func:`solve_with_grad`.
        ensemble, parameters: reuse an ensemble (and the parameters it was built from).

    Returns:
        The expectation, shaped like theta1.
    """
    if ensemble is None:
        parameters, ensemble = ensemble_for(theta1, theta2, game, gamma, horizon, stationary=stationary,
                                            probabilities=probabilities)
    a1, a2 = ensemble.advantages()
    own = ensemble.advantages(marginal_own=True)[0] if marginal_own else a1
    probs = None
    if loqa_beta is not None:
        probs = ensemble.along(loqa_opponent_probs(ensemble.solution, loqa_beta))
    weights = beta * _flat_shaping(own, a2, gamma, probs, **shaping_options)
    return ensemble.estimator_expectation(weights, parameters)
