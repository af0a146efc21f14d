"""Memory-one iterated 2x2 games, solved exactly.

A memory-one policy is 5 logits: the log-odds of playing action 0 ("cooperate")
in the states ``start, CC, CD, DC, DD``. Every player writes these states from
its own seat, own action first: for player 2 the joint outcome (player 1 plays C,
player 2 plays D) is the state ``DC``. Player 2's logits are therefore permuted
(CD <-> DC) before the joint Markov chain is built -- getting this wrong makes
Tit-for-Tat retaliate against the wrong player.

With ``p0`` the distribution of the first joint action, ``P`` the 4x4 transition
matrix between joint outcomes and ``r`` the reward of each joint outcome, the
discounted return is (Foerster et al. 2018, LOLA, Sec. 4.2)

    V = sum_t gamma^t p0 P^t r = p0 (I - gamma P)^-1 r.

Everything here is batched over arbitrary leading dimensions ``[...]`` and
differentiable with autograd.
"""
from __future__ import annotations

from typing import Tuple

import torch

from .._validation import check_gamma, check_last_dim, check_probabilities, check_tensor
from ..games.matrix import as_payoff_tensor
from .tabular import SEAT_SWAP, TabularSolution, solve_tabular

__all__ = [
    "STATE_NAMES",
    "SEAT_SWAP",
    "cooperation_probabilities",
    "joint_chain",
    "memory_one_values",
    "per_step_values",
    "FiniteHorizonSolution",
    "finite_horizon_solution",
    "finite_horizon_values",
    "policy_logits",
]

#: Names of the 5 memory-one states, from the player's own seat.
STATE_NAMES = ("start", "CC", "CD", "DC", "DD")


def _check_thetas(theta1, theta2) -> Tuple[torch.Tensor, torch.Tensor]:
    theta1 = check_tensor(theta1, "theta1")
    theta2 = check_tensor(theta2, "theta2")
    for name, th in (("theta1", theta1), ("theta2", theta2)):
        if not th.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor of logits, got dtype {th.dtype}")
        check_last_dim(th, 5, name, "logits of P(cooperate | start, CC, CD, DC, DD)")
        if torch.isnan(th.detach()).any():  # +-inf is allowed: a deterministic policy (P = 1 or 0)
            raise ValueError(f"{name} contains NaN logits")
    try:
        theta1, theta2 = torch.broadcast_tensors(theta1, theta2)
    except RuntimeError:
        raise ValueError(
            f"theta1 {tuple(theta1.shape)} and theta2 {tuple(theta2.shape)} have leading "
            "dimensions that do not broadcast"
        ) from None
    return theta1, theta2


def policy_logits(p_cooperate) -> torch.Tensor:
    """Logits of given cooperation probabilities in [0, 1] (clipped away from 0 and 1 by 1e-12, so
    that a deterministic policy gets large finite logits); NaN or values outside [0, 1] raise."""
    try:  # float64 before checking: as float32, -1e-75 would round to a valid -0.0
        p = torch.as_tensor(p_cooperate, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"p_cooperate must be probabilities (a tensor or array-like of numbers), "
                        f"got {type(p_cooperate).__name__}") from None
    p = check_probabilities(p, "p_cooperate").clamp(1e-12, 1 - 1e-12)
    return torch.log(p) - torch.log1p(-p)


def cooperation_probabilities(theta1, theta2) -> Tuple[torch.Tensor, torch.Tensor]:
    """P(action 0 | state) of both players, ``[..., 5]`` each, in player 1's state order.

    Player 2's probabilities are permuted to player 1's seat (CD <-> DC).
    """
    theta1, theta2 = _check_thetas(theta1, theta2)
    p1 = torch.sigmoid(theta1)
    p2 = torch.sigmoid(theta2)[..., list(SEAT_SWAP)]
    return p1, p2


def joint_chain(theta1, theta2, game, gamma=None):
    """The joint Markov chain of two memory-one policies.

    Returns ``(p0, P, r1, r2)``:
      - ``p0`` ``[..., 4]``: distribution of the first joint action (CC, CD, DC, DD),
      - ``P`` ``[..., 4, 4]``: ``P[s, s']`` probability of joint action s' after s,
      - ``r1``, ``r2`` ``[4]``: rewards of each joint action, player 1's order.
    """
    p1, p2 = cooperation_probabilities(theta1, theta2)
    payoffs = as_payoff_tensor(game, dtype=p1.dtype, device=p1.device)
    # Joint-action probabilities for every state: [..., 5, 4] over (CC, CD, DC, DD).
    joint = torch.stack([p1 * p2, p1 * (1 - p2), (1 - p1) * p2, (1 - p1) * (1 - p2)], dim=-1)
    p0 = joint[..., 0, :]
    P = joint[..., 1:, :]
    r1 = payoffs[0].reshape(4)  # (a1, a2) row-major: CC, CD, DC, DD
    r2 = payoffs[1].transpose(0, 1).reshape(4)  # player 2 gets payoffs[1, a2, a1]
    return p0, P, r1, r2


def memory_one_values(theta1, theta2, game, gamma) -> Tuple[torch.Tensor, torch.Tensor]:
    """Exact discounted returns of two memory-one policies in an infinitely iterated game.

    Args:
        theta1, theta2: logits ``[..., 5]`` of P(cooperate | start, CC, CD, DC, DD),
            each from its own player's seat (own action first). Leading dims broadcast.
        game: a :class:`aa_lib.games.matrix.MatrixGame` or a payoff tensor ``[2, 2, 2]``
            indexed (player, own action, other action).
        gamma: discount in [0, 1).

    Returns:
        ``(v1, v2)``, each ``[...]``: the expected discounted sums of rewards
        ``sum_t gamma^t r_t``. Multiply by ``1 - gamma`` for the average per-step reward.
    """
    gamma = check_gamma(gamma)
    p0, P, r1, r2 = joint_chain(theta1, theta2, game)
    eye = torch.eye(4, dtype=P.dtype, device=P.device)
    # Solve x (I - gamma P) = p0 for the discounted occupancy x [..., 4].
    lhs = (eye - gamma * P).transpose(-1, -2)
    occupancy = torch.linalg.solve(lhs, p0.unsqueeze(-1)).squeeze(-1)
    return occupancy @ r1, occupancy @ r2


def per_step_values(theta1, theta2, game, gamma) -> Tuple[torch.Tensor, torch.Tensor]:
    """Average per-step rewards ``(1 - gamma) V`` of both players, ``[...]`` each."""
    v1, v2 = memory_one_values(theta1, theta2, game, gamma)
    return (1 - gamma) * v1, (1 - gamma) * v2


class FiniteHorizonSolution(TabularSolution):
    """Exact time-dependent values of a T-step memory-one game.

    Time runs ``t = 0 .. T-1``; the reward of step t is discounted by ``gamma^t``
    in the return from the start. All values below are *from time t on*
    (``sum_{u >= t} gamma^(u-t) r_u``). Shapes, with ``[...]`` the batch:

    Attributes:
        q1, q2: ``[..., T, 5, 2, 2]`` -- ``q_i[t, s, a, b]`` value for player i of the
            joint action (player 1 plays a, player 2 plays b) in state s (player 1's
            seat order) at time t, then following the policies.
        v1, v2: ``[..., T, 5]`` state values ``sum_ab pi1(a|s) pi2(b|s) q_i[t, s, a, b]``.
        state_probs: ``[..., T, 5]`` probability of being in state s at time t
            (the start state at t = 0 only).
        pi1, pi2: ``[..., 5, 2]`` action probabilities (player 1's state order;
            actions own-seat: 0 = cooperate).

    The same tables as :class:`~aa_lib.exact.tabular.TabularSolution`, whose
    methods (``advantages``, ``occupancy``...) broadcast over the stationary
    policies; only ``pi1``, ``pi2`` lack the time axis.
    """


def finite_horizon_solution(theta1, theta2, game, gamma, horizon: int) -> FiniteHorizonSolution:
    """Solve a T-step memory-one game exactly by backward induction.

    The recursion (for player i, with ``s' = (a, b)`` the next state):

        q_i[t, s, a, b] = r_i(a, b) + gamma * v_i[t+1, (a, b)],   v_i[T] = 0,
        v_i[t, s]       = sum_{a, b} pi1(a|s) pi2(b|s) q_i[t, s, a, b].

    Every step's reward is kept (a finite-horizon value that keeps only the last
    term of the discounted sum is a known defect of some reference code).
    ``gamma`` may be 1 here since the horizon is finite.
    """
    # The stationary case of the time-dependent tabular solver (one backward
    # induction for both): solve, then drop the (constant) time axis of the policies.
    theta1, theta2 = _check_thetas(theta1, theta2)
    sol = solve_tabular(torch.sigmoid(theta1), torch.sigmoid(theta2), game, gamma, horizon, stationary=True)
    return FiniteHorizonSolution(sol.q1, sol.q2, sol.v1, sol.v2, sol.state_probs,
                                 sol.pi1[..., 0, :, :], sol.pi2[..., 0, :, :], sol.gamma)


def finite_horizon_values(theta1, theta2, game, gamma, horizon: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Discounted returns ``(v1, v2)`` from the start of a T-step game, ``[...]`` each."""
    return finite_horizon_solution(theta1, theta2, game, gamma, horizon).values

