"""Theorem 1 (LOLA as an advantage-alignment estimator), checked exactly.

LOLA's first-order look-ahead ``V1(theta1, theta2 + eta grad_2 V2)`` has two
second-order terms (Foerster et al. 2018; App. A.2 of the AA paper):

- ``form="eq29"``: ``(grad_1 grad_2 V1) . stopgrad(grad_2 V2)`` -- the term the AA
  paper's proof of Theorem 1 keeps (its eq. 29);
- ``form="original"``: ``grad_1 [ stopgrad(grad_2 V1) . grad_2 V2 ]`` -- the
  "shaping" term that original LOLA keeps (how the agent changes the opponent's
  naive step, projected on what that step does to the agent).

Both are computed here by double autograd through the exact finite-horizon solver.

The theorem assumes the opponent's score vectors ``grad_2 log pi2(b|s)`` form an
orthonormal basis. No smooth parametrisation of a normalised policy satisfies
this: ``sum_b pi2(b|s) grad log pi2(b|s) = 0`` makes them linearly dependent.
What the proof needs is weaker, and holds exactly for a *tabular softmax* (one
logit per (state, action), no parameters shared between states): for such a
policy ``grad_2 log pi2(b_l|s_l) . grad_2 V_j = rho~_j(s_l, b_l)`` with

    rho_j(s, b)  = sum_u gamma^u Pr(s_u = s) pi2(b|s) Abar_j(u, s, b)    (occupancy-weighted advantage),
    rho~_j(s, b) = rho_j(s, b) - sum_b' pi2(b'|s) rho_j(s, b'),

where ``Abar_j(u, s, b) = sum_a pi1(a|s) A_j(u, s, a, b)``. Combined with the
mixed second derivative ``grad_1 grad_2 V_i = E[sum_{k,l} gamma^max(k,l) A_i,max(k,l)
grad log pi1(a_k) grad log pi2(b_l)^T]`` this gives the exact AA form

    term = E[ sum_t W_t grad log pi1(a_t|s_t) ],   W_t = sum_l gamma^max(t,l) rho~_j(s_l, b_l) A_i,max(t,l)

(i = 1, j = 2 for eq. 29; i = 2, j = 1 for the original LOLA term, whose l < t part
is an Advantage-Alignment product: past own advantages times the opponent's
current advantage). With one logit per state (the memory-one sigmoid) the
same holds with a factor 1/2. The printed eq. 11 pairs A1_k with A2_(k-t) instead;
:func:`printed_eq11_weights` evaluates it so the course can show the difference.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch

from .estimators import TrajectoryEnsemble, trajectory_ensemble
from .shaping import solve_with_grad
from .tabular import TabularSolution, solve_tabular_logits

__all__ = [
    "LOLA_FORMS",
    "tabular_softmax_logits",
    "feature_logits",
    "lola_second_order_term",
    "occupancy_weighted_advantage",
    "lola_aa_weights",
    "printed_eq11_weights",
    "lola_aa_expectation",
]

LOLA_FORMS = ("eq29", "original")


def tabular_softmax_logits(psi: torch.Tensor) -> torch.Tensor:
    """Memory-one logits of a tabular softmax with one logit per (state, action): ``[..., 5, 2] -> [..., 5]``."""
    return psi[..., 0] - psi[..., 1]


def feature_logits(features: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """A shared-parameter policy: logits ``features @ psi`` with ``features`` ``[5, m]``, ``psi`` ``[..., m]``."""
    return lambda psi: psi @ features.T


def _roles(form: str):
    if form not in LOLA_FORMS:
        raise ValueError(f"form must be one of {LOLA_FORMS}, got {form!r}")
    return (0, 1) if form == "eq29" else (1, 0)  # (differentiated value i, step value j), 0-based


def lola_second_order_term(theta1, psi2, game, gamma: float, horizon: int, *, form: str = "eq29",
                           opponent_logits: Optional[Callable] = None) -> torch.Tensor:
    """Exact LOLA second-order term for player 1, shaped like ``theta1`` ``[..., 5]``.

    Args:
        theta1: player 1's memory-one logits ``[..., 5]``.
        psi2: player 2's parameters; ``opponent_logits(psi2)`` must give its memory-one
            logits ``[..., 5]`` (default: ``psi2`` are those logits, the sigmoid
            parametrisation; see :func:`tabular_softmax_logits`, :func:`feature_logits`).
        form: ``"eq29"`` -- ``(grad_1 grad_2 V1) . stopgrad(grad_2 V2)``; or
            ``"original"`` -- ``grad_1 [stopgrad(grad_2 V1) . grad_2 V2]``.
    """
    differentiated, step = _roles(form)
    opponent_logits = opponent_logits or (lambda p: p)
    theta1 = torch.as_tensor(theta1).detach().requires_grad_(True)
    psi2 = torch.as_tensor(psi2).detach().requires_grad_(True)
    values = solve_tabular_logits(theta1, opponent_logits(psi2), game, gamma, horizon).values
    (step_grad,) = torch.autograd.grad(values[step].sum(), psi2, retain_graph=True)
    (inner,) = torch.autograd.grad(values[differentiated].sum(), psi2, create_graph=True)
    (term,) = torch.autograd.grad((inner * step_grad.detach()).sum(), theta1)
    return term


def occupancy_weighted_advantage(solution: TabularSolution, player: int) -> torch.Tensor:
    """``rho~_j(s, b)`` of the module doc, ``[..., 5, 2]``, for stationary policies (detached).

    ``rho_j(s, b) = sum_{u, a} gamma^u Pr(s_u=s) pi1(a|s) pi2(b|s) A_j(u, s, a, b)``, centred by
    its ``pi2``-average in each state.
    """
    advantages = solution.advantages()[player - 1].detach()
    rho = (solution.occupancy().detach() * advantages).sum(dim=(-4, -2))  # sum over u and a -> [..., 5, 2]
    pi2 = solution.pi2[..., 0, :, :].detach()  # stationary: the t = 0 table
    return rho - (pi2 * rho).sum(-1, keepdim=True)


def lola_aa_weights(ensemble: TrajectoryEnsemble, form: str = "eq29", scale: float = 1.0) -> torch.Tensor:
    """Per-step weights ``W_t`` of the exact AA form of the LOLA term (module doc), ``[..., N, T]``.

    ``scale`` is 1 for a tabular softmax opponent and 1/2 for the one-logit (sigmoid) one.
    """
    differentiated, step = _roles(form)
    solution = ensemble.solution
    advantages = ensemble.advantages()[differentiated]  # A_i along paths
    rho = occupancy_weighted_advantage(solution, step + 1)  # [..., 5, 2] over (s, b)
    p = ensemble.paths
    rho_path = rho[..., p.states, p.actions2]  # [..., N, T]
    discount = solution.discount()
    # l <= t: gamma^t A_i,t sum_{l<=t} rho_l;  l > t: sum_{l>t} gamma^l rho_l A_i,l.
    past = torch.cumsum(rho_path, dim=-1) * discount * advantages
    products = discount * rho_path * advantages
    future = products.flip(-1).cumsum(-1).flip(-1) - products
    return scale * (past + future)


def printed_eq11_weights(ensemble: TrajectoryEnsemble) -> torch.Tensor:
    """``W_t = sum_{k>=t} d_gamma(s, a, b at k-t) gamma^k A1_k A2_(k-t)`` (eq. 11 as printed), ``[..., N, T]``.

    ``d_gamma(s, a, b) = sum_u gamma^u Pr(s_u=s, a_u=a, b_u=b)`` is the discounted
    occupancy measure of the tuple (stationary policies).
    """
    solution = ensemble.solution
    occupancy = solution.occupancy().detach().sum(-4, keepdim=True).expand_as(solution.q1)
    d_path = ensemble.along(occupancy)
    a1, a2 = ensemble.advantages()
    discount = solution.discount()
    T = ensemble.horizon
    weights = torch.zeros_like(a1)
    for t in range(T):
        k = torch.arange(t, T, device=a1.device)
        weights[..., t] = (discount[k] * a1[..., k] * d_path[..., k - t] * a2[..., k - t]).sum(-1)
    return weights


def lola_aa_expectation(theta1, theta2, game, gamma: float, horizon: int, *, form: str = "eq29",
                        scale: float = 1.0, printed: bool = False) -> torch.Tensor:
    """Exact expectation of the AA form of the LOLA term (``printed=True``: of eq. 11 as printed)."""
    theta1, solution = solve_with_grad(theta1, theta2, game, gamma, horizon)
    ensemble = trajectory_ensemble(solution)
    weights = printed_eq11_weights(ensemble) if printed else lola_aa_weights(ensemble, form, scale)
    return ensemble.estimator_expectation(weights, theta1)
