"""Finite-horizon iterated 2x2 games with *time-dependent* tabular policies, solved exactly.

This extends :func:`aa_lib.exact.memory_one.finite_horizon_solution` (stationary
memory-one policies) to policies that may change with the time step: player i
plays action 0 ("cooperate") with probability ``p_i[t, s]`` at time ``t`` in
memory-one state ``s`` (``start, CC, CD, DC, DD``, written from its own seat).
A stationary memory-one policy is the special case ``p_i[t, s] = p_i[s]``; time
dependence is what the exact Nash-equilibrium checks of notebook 06 need (most
equilibria of a finitely repeated game depend on the time step).

The time step is part of the state, so ``(t, s)`` is a Markov state and every
per-(t, s) table below is exact. Policies are given as probabilities (which may
be exactly 0 or 1, e.g. for pure equilibria) or as logits.

Conventions (the same as :class:`~aa_lib.exact.memory_one.FiniteHorizonSolution`):
tables are indexed ``[..., t, s, a, b]`` with ``s`` in player 1's seat order,
``a`` player 1's action, ``b`` player 2's action; values are from time ``t`` on,
``sum_{u >= t} gamma^(u-t) r_u``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import torch

from .._validation import check_gamma, check_positive_int, check_probabilities, check_tensor
from ..games.matrix import as_payoff_tensor

#: Index map taking a player's own-seat state order (start, CC, CD, DC, DD) to the
#: other seat's order: the joint outcome CD for one player is DC for the other.
SEAT_SWAP = (0, 1, 3, 2, 4)

__all__ = [
    "SEAT_SWAP",
    "TabularSolution",
    "solve_tabular",
    "solve_tabular_logits",
    "time_dependent",
]


def time_dependent(p: torch.Tensor, horizon: int, stationary: bool) -> torch.Tensor:
    """``p`` as a ``[..., T, 5]`` table: a stationary ``[..., 5]`` policy is repeated over time."""
    if stationary:
        return p.unsqueeze(-2).expand(*p.shape[:-1], horizon, 5)
    if p.dim() < 2 or p.shape[-2] != horizon:
        raise ValueError(f"a time-dependent policy must have shape [..., T={horizon}, 5], got {tuple(p.shape)}")
    return p


@dataclass
class TabularSolution:
    """Exact tables of a T-step iterated 2x2 game under tabular policies.

    Attributes (``[...]`` is the batch):
        q1, q2: ``[..., T, 5, 2, 2]`` value of joint action (a, b) in state s at time t.
        v1, v2: ``[..., T, 5]`` state values.
        state_probs: ``[..., T, 5]`` probability of state s at time t.
        pi1, pi2: ``[..., T, 5, 2]`` action probabilities (own actions, player 1's state order).
        gamma: the discount.
    """

    q1: torch.Tensor
    q2: torch.Tensor
    v1: torch.Tensor
    v2: torch.Tensor
    state_probs: torch.Tensor
    pi1: torch.Tensor
    pi2: torch.Tensor
    gamma: float

    @property
    def horizon(self) -> int:
        return self.q1.shape[-4]

    @property
    def values(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """Discounted returns from the start, ``[...]`` each."""
        return self.v1[..., 0, 0], self.v2[..., 0, 0]

    def advantages(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """Joint-action advantages ``A_i[t, s, a, b] = Q_i[t, s, a, b] - V_i[t, s]``, ``[..., T, 5, 2, 2]``."""
        return self.q1 - self.v1[..., None, None], self.q2 - self.v2[..., None, None]

    def discount(self) -> torch.Tensor:
        """``gamma^t`` for t = 0..T-1, ``[T]``."""
        return self.gamma ** torch.arange(self.horizon, dtype=self.q1.dtype, device=self.q1.device)

    def joint_probs(self) -> torch.Tensor:
        """``pi1(a|t,s) pi2(b|t,s)``, ``[..., T, 5, 2, 2]``."""
        return self.pi1[..., :, None] * self.pi2[..., None, :]

    def occupancy(self) -> torch.Tensor:
        """Discounted occupancy of (t, s, a, b): ``gamma^t P(s_t = s) pi1 pi2``, ``[..., T, 5, 2, 2]``."""
        weight = self.discount()[:, None] * self.state_probs  # [..., T, 5]
        return weight[..., None, None] * self.joint_probs()


def _as_policy(p, name: str) -> torch.Tensor:
    p = check_tensor(p, name)
    if not p.is_floating_point():
        raise TypeError(f"{name} must hold floating-point probabilities, got dtype {p.dtype}")
    if p.dim() == 0 or p.shape[-1] != 5:
        raise ValueError(f"{name} must have shape [..., 5] or [..., T, 5] (P(cooperate | start, CC, CD, "
                         f"DC, DD)), got {tuple(p.shape)}")
    check_probabilities(p.detach(), name)
    return p


def solve_tabular(p1, p2, game, gamma: float, horizon: int, *, stationary: bool = True) -> TabularSolution:
    """Solve a T-step iterated 2x2 game exactly by backward induction.

    Args:
        p1, p2: probabilities of action 0, each from its own player's seat: ``[..., 5]``
            (stationary memory-one, ``stationary=True``) or ``[..., T, 5]`` (one
            policy per time step, ``stationary=False``). Leading dims broadcast.
            Differentiable: gradients flow back to whatever produced them.
        game: a :class:`~aa_lib.games.matrix.MatrixGame` or payoff tensor ``[2, 2, 2]``.
        gamma: discount in [0, 1] (1 is allowed: the horizon is finite).
        horizon: number of steps T >= 1.
        stationary: whether the policies are the same at every step.

    Recursion, for player i and next state ``s' = (a, b)``:
        ``Q_i[t, s, a, b] = r_i(a, b) + gamma V_i[t+1, s']``, ``V_i[T] = 0``,
        ``V_i[t, s] = sum_{a, b} pi1(a | t, s) pi2(b | t, s) Q_i[t, s, a, b]``.
    """
    gamma = check_gamma(gamma, allow_one=True)
    horizon = check_positive_int(horizon, "horizon")
    p1 = time_dependent(_as_policy(p1, "p1"), horizon, stationary)
    p2 = time_dependent(_as_policy(p2, "p2"), horizon, stationary)
    p1, p2 = torch.broadcast_tensors(p1, p2)
    p2 = p2[..., list(SEAT_SWAP)]  # player 2's own-seat states -> player 1's order
    payoffs = as_payoff_tensor(game, dtype=p1.dtype, device=p1.device)
    rewards = (payoffs[0], payoffs[1].transpose(0, 1))  # r_i[a, b]
    pi1 = torch.stack([p1, 1 - p1], dim=-1)  # [..., T, 5, 2]
    pi2 = torch.stack([p2, 1 - p2], dim=-1)
    joint = pi1[..., :, None] * pi2[..., None, :]  # [..., T, 5, 2, 2]
    batch = joint.shape[:-4]

    # Backward induction over t = T-1 .. 0.
    q_steps = ([], [])
    v_steps = ([], [])
    following = [torch.zeros(*batch, 5, dtype=p1.dtype, device=p1.device) for _ in range(2)]
    for t in reversed(range(horizon)):
        for i in range(2):
            reached = following[i][..., 1:].unflatten(-1, (2, 2))  # V_i[t+1, (a, b)]
            q = (rewards[i] + gamma * reached).unsqueeze(-3).expand(*batch, 5, 2, 2)
            following[i] = (joint[..., t, :, :, :] * q).sum(dim=(-2, -1))
            q_steps[i].append(q)
            v_steps[i].append(following[i])
    q1, q2 = (torch.stack(steps[::-1], dim=-4) for steps in q_steps)
    v1, v2 = (torch.stack(steps[::-1], dim=-2) for steps in v_steps)

    # Forward pass: probability of each state at each time.
    dist = torch.zeros(*batch, 5, dtype=p1.dtype, device=p1.device)
    dist[..., 0] = 1.0
    dists = []
    for t in range(horizon):
        dists.append(dist)
        reached = (dist[..., :, None, None] * joint[..., t, :, :, :]).sum(dim=-3).flatten(-2)
        dist = torch.cat([torch.zeros_like(dist[..., :1]), reached], dim=-1)
    state_probs = torch.stack(dists, dim=-2)
    return TabularSolution(q1, q2, v1, v2, state_probs, pi1, pi2, gamma)


def solve_tabular_logits(theta1, theta2, game, gamma: float, horizon: int, *,
                         stationary: bool = True) -> TabularSolution:
    """:func:`solve_tabular` with logits of P(cooperate) instead of probabilities."""
    theta1 = check_tensor(theta1, "theta1")
    theta2 = check_tensor(theta2, "theta2")
    for name, th in (("theta1", theta1), ("theta2", theta2)):
        if not th.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor of logits, got dtype {th.dtype}")
    return solve_tabular(torch.sigmoid(theta1), torch.sigmoid(theta2), game, gamma, horizon,
                         stationary=stationary)
