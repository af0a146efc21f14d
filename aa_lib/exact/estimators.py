"""Exact expectations of per-step policy-gradient estimators, by enumerating trajectories.

A sampled algorithm estimates a gradient as ``sum_t W_t(tau) grad log pi1(a_t | s_t)``
from one trajectory ``tau``, where the weight ``W_t`` may depend on the whole
trajectory (advantages of both players, past and future). In a T-step iterated
2x2 game there are only ``4^T`` trajectories, so the *expectation* of such an
estimator can be computed exactly:

    E[ sum_t W_t grad log pi1(a_t|s_t) ] = sum_tau Pr(tau) sum_t W_t(tau) grad log pi1(a_t|s_t).

This is what lets the course compare a printed estimator (eq. 8, eq. 11, eq. 12,
eq. 59) with an exact gradient (autograd through the solver of
:mod:`aa_lib.exact.tabular`): both sides are exact numbers, so any difference is
a difference of formulas, not noise.

"Exact" here means: exact advantages ``A_i(t, s, a, b) = Q_i(t, s, a, b) - V_i(t, s)``
from backward induction (no critic), every trajectory weighted by its exact
probability (no sampling), and float64 throughout.

The gradient is taken by autograd of the surrogate
``sum_tau sum_t W_t(tau) Pr_-t(tau) pi1(a_t|s_t)``, where ``Pr_-t`` is the
trajectory probability without the factor ``pi1(a_t|s_t)`` (held constant). This
equals ``Pr * grad log pi1`` but stays exact where a probability is 0 (pure
policies), and works for any parametrisation of player 1 (memory-one logits,
time-dependent logits, probabilities).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Tuple

import torch

from .._validation import check_positive_int
from .tabular import TabularSolution

__all__ = [
    "MAX_ENUMERATION_HORIZON",
    "Paths",
    "all_paths",
    "TrajectoryEnsemble",
    "trajectory_ensemble",
    "exact_advantages",
    "average_over_action",
]

#: Enumeration stores 4^T trajectories; T = 8 is 65 536 of them.
MAX_ENUMERATION_HORIZON = 8


@dataclass(frozen=True)
class Paths:
    """All joint action sequences of a T-step game, ``N = 4^T`` of them.

    Attributes:
        actions1, actions2: ``[N, T]`` long, each player's own action (0 = cooperate).
        states: ``[N, T]`` long, the memory-one state at each step in player 1's
            seat order (0 = start, then ``1 + 2 a + b`` of the previous step).
    """

    actions1: torch.Tensor
    actions2: torch.Tensor
    states: torch.Tensor

    @property
    def horizon(self) -> int:
        return self.actions1.shape[1]

    def __len__(self) -> int:
        return self.actions1.shape[0]


@functools.lru_cache(maxsize=16)
def _paths_cpu(horizon: int) -> Paths:
    joint = torch.cartesian_prod(*[torch.arange(4)] * horizon) if horizon > 1 else torch.arange(4)[:, None]
    a, b = joint // 2, joint % 2
    states = torch.zeros_like(joint)
    states[:, 1:] = 1 + joint[:, :-1]
    return Paths(a, b, states)


def all_paths(horizon: int, device=None) -> Paths:
    """Every trajectory of a T-step memory-one game (``T <= MAX_ENUMERATION_HORIZON``)."""
    horizon = check_positive_int(horizon, "horizon")
    if horizon > MAX_ENUMERATION_HORIZON:
        raise ValueError(f"horizon must be at most {MAX_ENUMERATION_HORIZON} for enumeration "
                         f"(4^T trajectories), got {horizon}")
    paths = _paths_cpu(horizon)
    if device is None:
        return paths
    return Paths(*(x.to(device) for x in (paths.actions1, paths.actions2, paths.states)))


def exact_advantages(solution: TabularSolution) -> Tuple[torch.Tensor, torch.Tensor]:
    """Exact joint-action advantages ``(A1, A2)``, each ``[..., T, 5, 2, 2]`` indexed (t, s, a, b)."""
    return solution.advantages()


def average_over_action(solution: TabularSolution, table: torch.Tensor, player: int) -> torch.Tensor:
    """Average a ``[..., T, 5, 2, 2]`` table over one player's action, keeping the shape.

    ``player=1`` gives ``sum_a pi1(a|t,s) X[t, s, a, b]`` (e.g. the agent's advantage of
    the opponent's action b alone, the agent's action averaged out as in eq. 4);
    ``player=2`` gives ``sum_b pi2(b|t,s) X[t, s, a, b]`` (e.g. the agent's advantage of
    its own action a, the quantity that vanishes at a Nash equilibrium).
    """
    if player == 1:
        averaged = (solution.pi1[..., :, None] * table).sum(dim=-2, keepdim=True)
    elif player == 2:
        averaged = (solution.pi2[..., None, :] * table).sum(dim=-1, keepdim=True)
    else:
        raise ValueError(f"player must be 1 or 2, got {player!r}")
    return averaged.expand_as(table)


def _leave_one_out_products(x: torch.Tensor) -> torch.Tensor:
    """``out[..., t] = prod_{u != t} x[..., u]`` without division (exact when entries are 0)."""
    ones = torch.ones_like(x[..., :1])
    before = torch.cumprod(torch.cat([ones, x[..., :-1]], dim=-1), dim=-1)
    after = torch.cumprod(torch.cat([ones, x.flip(-1)[..., :-1]], dim=-1), dim=-1).flip(-1)
    return before * after


@dataclass
class TrajectoryEnsemble:
    """All trajectories of a T-step game under a :class:`TabularSolution`, with exact weights.

    Attributes:
        paths: the :class:`Paths` (``N = 4^T`` trajectories).
        solution: the exact tables; may carry autograd history of player 1's parameters.
        pi1_taken, pi2_taken: ``[..., N, T]`` probability of the action each player took.
        probs: ``[..., N]`` trajectory probabilities (detached).
    """

    paths: Paths
    solution: TabularSolution
    pi1_taken: torch.Tensor
    pi2_taken: torch.Tensor
    probs: torch.Tensor

    @property
    def horizon(self) -> int:
        return self.paths.horizon

    def along(self, table: torch.Tensor) -> torch.Tensor:
        """Read a ``[..., T, 5, 2, 2]`` table at each step of each path: ``[..., N, T]``."""
        p = self.paths
        if table.shape[-4:] != (self.horizon, 5, 2, 2):
            raise ValueError(f"table must have shape [..., T={self.horizon}, 5, 2, 2], got {tuple(table.shape)}")
        steps = torch.arange(self.horizon, device=table.device).expand_as(p.states)
        return table[..., steps, p.states, p.actions1, p.actions2]

    def advantages(self, marginal_own: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
        """Exact advantages ``(A1_t, A2_t)`` along every path, ``[..., N, T]`` each (detached).

        With ``marginal_own``, player 1's advantage is averaged over its own action
        (``sum_a pi1(a|s_t) A1(t, s_t, a, b_t)``), and player 2's over its own action b.
        """
        a1, a2 = (x.detach() for x in self.solution.advantages())
        if marginal_own:
            sol = _detached(self.solution)
            a1, a2 = average_over_action(sol, a1, 1), average_over_action(sol, a2, 2)
        return self.along(a1), self.along(a2)

    def expectation(self, per_path: torch.Tensor) -> torch.Tensor:
        """``sum_tau Pr(tau) f(tau)`` for ``f`` given as ``[..., N]``; returns ``[...]``."""
        if per_path.shape[-1] != len(self.paths):
            raise ValueError(f"per_path must have shape [..., N={len(self.paths)}], got {tuple(per_path.shape)}")
        return (self.probs * per_path).sum(-1)

    def estimator_expectation(self, weights: torch.Tensor, parameters: torch.Tensor) -> torch.Tensor:
        """Exact ``E[sum_t W_t grad log pi1(a_t | s_t)]`` with respect to ``parameters``.

        Args:
            weights: ``[..., N, T]`` per-step weights ``W_t(tau)`` (treated as constants).
            parameters: the tensor (``requires_grad``) that player 1's policy of this
                ensemble was computed from, e.g. memory-one logits ``[..., 5]``.

        Returns:
            A tensor shaped like ``parameters``. Batch entries are independent, so
            each gets its own gradient.
        """
        if weights.shape[-2:] != (len(self.paths), self.horizon):
            raise ValueError(f"weights must have shape [..., N={len(self.paths)}, T={self.horizon}], "
                             f"got {tuple(weights.shape)}")
        if not parameters.requires_grad:
            raise ValueError("parameters must require grad and be the tensor player 1's policy was built from")
        taken = self.pi1_taken
        rest = _leave_one_out_products(taken.detach()) * self.pi2_taken.detach().prod(-1, keepdim=True)
        surrogate = (weights.detach() * rest * taken).sum()
        (grad,) = torch.autograd.grad(surrogate, parameters, retain_graph=True, allow_unused=True)
        return torch.zeros_like(parameters) if grad is None else grad


def _detached(solution: TabularSolution) -> TabularSolution:
    return TabularSolution(*(x.detach() for x in (solution.q1, solution.q2, solution.v1, solution.v2,
                                                   solution.state_probs, solution.pi1, solution.pi2)),
                           solution.gamma)


def trajectory_ensemble(solution: TabularSolution) -> TrajectoryEnsemble:
    """Enumerate every trajectory of ``solution``'s game with its exact probability."""
    paths = all_paths(solution.horizon, device=solution.q1.device)
    steps = torch.arange(solution.horizon, device=solution.q1.device).expand_as(paths.states)
    pi1_taken = solution.pi1[..., steps, paths.states, paths.actions1]
    pi2_taken = solution.pi2[..., steps, paths.states, paths.actions2]
    probs = (pi1_taken * pi2_taken).prod(-1).detach()
    return TrajectoryEnsemble(paths, solution, pi1_taken, pi2_taken, probs)
