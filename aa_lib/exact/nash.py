"""Nash equilibria of finitely iterated 2x2 games, certified exactly (Theorem 3 checks).

A joint policy is a Nash equilibrium when neither player can gain by deviating
to ANY strategy. Against a policy that depends only on (time, last joint
action), the best deviation is found by dynamic programming over (t, s), so the
*exploitability* ``V_i^best-response - V_i`` is exact; a profile is a Nash
equilibrium iff both exploitabilities are 0.

Equilibria are found three ways, and each is then certified by its exploitability:
  - :func:`pure_memory_one_equilibria`: exhaustive search over all 32 x 32 pure
    stationary memory-one profiles;
  - :func:`stage_equilibrium_profiles`: the one-shot game's pure and mixed
    equilibria (from the payoff table's indifference conditions), played in
    every state;
  - :func:`subgame_perfect_profile`: backward induction choosing an equilibrium of
    each (t, s) stage game -- this yields history-dependent, time-dependent
    equilibria (mixed where asked).

(Root-finding on the first-order conditions in logit space is not used: it
drifts to the boundary, where the gradients of unvisited states vanish.)

:func:`aa_terms` returns the exact expected Advantage Alignment term of both
players (by trajectory enumeration) at a profile.
"""
from __future__ import annotations

import itertools
from typing import Callable, List, Optional, Sequence, Tuple

import torch

from ..games.matrix import as_payoff_tensor, mixed_nash_equilibria, pure_nash_equilibria
from .learning import swap_seats
from .memory_one import SEAT_SWAP
from .shaping import aa_estimator_expectation, exact_policy_gradient
from .tabular import TabularSolution, solve_tabular

__all__ = [
    "best_response_values",
    "exploitability",
    "pure_memory_one_policies",
    "pure_memory_one_equilibria",
    "stage_equilibrium_profiles",
    "subgame_perfect_profile",
    "reciprocal_choice",
    "own_action_advantages",
    "aa_terms",
    "policy_gradients",
    "to_own_seat",
]


def to_own_seat(p2_player1_order: torch.Tensor) -> torch.Tensor:
    """Re-index player 2's per-state table from player 1's state order to its own (CD <-> DC)."""
    return p2_player1_order[..., list(SEAT_SWAP)]


def best_response_values(solution: TabularSolution, game) -> Tuple[torch.Tensor, torch.Tensor]:
    """Value from the start of each player's best response to the other's policy, ``[...]`` each.

    ``V*(t, s) = max_own sum_other pi_other(other | t, s) [r(own, other) + gamma V*(t+1, (a, b))]``.
    """
    payoffs = as_payoff_tensor(game, dtype=solution.q1.dtype, device=solution.q1.device)
    r1, r2 = payoffs[0], payoffs[1].transpose(0, 1)  # [a, b]
    batch = solution.q1.shape[:-4]
    best1 = torch.zeros(*batch, 5, dtype=r1.dtype, device=r1.device)
    best2 = torch.zeros_like(best1)
    for t in reversed(range(solution.horizon)):
        cont1 = r1 + solution.gamma * best1[..., 1:].unflatten(-1, (2, 2))  # [..., a, b]
        cont2 = r2 + solution.gamma * best2[..., 1:].unflatten(-1, (2, 2))
        # Player 1 picks a against pi2(b | t, s); player 2 picks b against pi1(a | t, s).
        q1 = (solution.pi2[..., t, :, None, :] * cont1[..., None, :, :]).sum(-1)  # [..., 5, a]
        q2 = (solution.pi1[..., t, :, :, None] * cont2[..., None, :, :]).sum(-2)  # [..., 5, b]
        best1, best2 = q1.max(-1).values, q2.max(-1).values
    return best1[..., 0], best2[..., 0]


def exploitability(p1, p2, game, gamma: float, horizon: int, *, stationary: bool = True):
    """``(V1* - V1, V2* - V2)``: what each player gains by its best deviation, ``[...]`` each (>= 0)."""
    solution = solve_tabular(p1, p2, game, gamma, horizon, stationary=stationary)
    best1, best2 = best_response_values(solution, game)
    v1, v2 = solution.values
    return best1 - v1, best2 - v2


def pure_memory_one_policies(dtype=torch.float64) -> torch.Tensor:
    """All 32 deterministic memory-one policies as P(cooperate) tables, ``[32, 5]``."""
    return torch.tensor(list(itertools.product([1.0, 0.0], repeat=5)), dtype=dtype)


def pure_memory_one_equilibria(game, gamma: float, horizon: int, tol: float = 1e-9):
    """Every pure stationary memory-one Nash equilibrium, by exhaustive search.

    Returns ``(p1, p2)``, each ``[K, 5]`` (own seats).
    """
    pure = pure_memory_one_policies()
    p1 = pure[:, None, :].expand(32, 32, 5).reshape(-1, 5)
    p2 = pure[None, :, :].expand(32, 32, 5).reshape(-1, 5)
    e1, e2 = exploitability(p1, p2, game, gamma, horizon)
    nash = (e1 <= tol) & (e2 <= tol)
    return p1[nash], p2[nash]


def stage_equilibrium_profiles(game) -> List[Tuple[str, torch.Tensor, torch.Tensor]]:
    """The one-shot game's equilibria, played in every state: ``(label, p1 [5], p2 [5])``.

    Playing a stage-game equilibrium regardless of history is an equilibrium of
    the repeated game.
    """
    names = getattr(game, "actions", ("0", "1"))
    profiles = []
    for a1, a2 in pure_nash_equilibria(game):
        p1 = torch.full((5,), 1.0 - a1, dtype=torch.float64)
        p2 = torch.full((5,), 1.0 - a2, dtype=torch.float64)
        profiles.append((f"pure ({names[a1]}, {names[a2]})", p1, p2))
    for x1, x2 in mixed_nash_equilibria(game):
        profiles.append((f"mixed ({x1:.3g}, {x2:.3g})", torch.full((5,), x1, dtype=torch.float64),
                         torch.full((5,), x2, dtype=torch.float64)))
    return profiles


def _stage_equilibria(stage_payoffs: torch.Tensor):
    """Equilibria ``(x1, x2)`` (P(action 0) each) of a 2x2 game given as ``[2, a, b]`` player-1-order payoffs."""
    own_seat = torch.stack([stage_payoffs[0], stage_payoffs[1].transpose(0, 1)])  # (player, own, other)
    pure = [(1.0 - a1, 1.0 - a2) for a1, a2 in pure_nash_equilibria(own_seat)]
    return pure + list(mixed_nash_equilibria(own_seat))


def subgame_perfect_profile(game, gamma: float, horizon: int,
                            choose: Optional[Callable[[int, int, Sequence], int]] = None):
    """A time-dependent equilibrium by backward induction (subgame perfect, hence Nash).

    At each (t, s), from t = T-1 down, the players face the 2x2 game with payoffs
    ``r_i(a, b) + gamma V_i(t+1, (a, b))``; ``choose(t, s, equilibria)`` returns the
    index of the equilibrium to play there (``equilibria`` lists ``(x1, x2)``, the
    P(action 0) of each player, pure ones first). By default the last one (the
    mixed one when it exists).

    Returns ``(p1, p2)``, each ``[T, 5]`` in its own player's seat order.
    """
    payoffs = as_payoff_tensor(game)
    rewards = torch.stack([payoffs[0], payoffs[1].transpose(0, 1)])  # [player, a, b]
    choose = choose or (lambda t, s, eqs: len(eqs) - 1)
    p1 = torch.zeros(horizon, 5, dtype=torch.float64)
    p2 = torch.zeros(horizon, 5, dtype=torch.float64)
    following = torch.zeros(2, 5, dtype=torch.float64)  # V_i(t+1, s)
    for t in reversed(range(horizon)):
        stage = rewards + gamma * following[:, 1:].reshape(2, 2, 2)  # the same for every s
        equilibria = _stage_equilibria(stage)
        current = torch.zeros(2, 5, dtype=torch.float64)
        for s in range(5):
            x1, x2 = equilibria[choose(t, s, equilibria)]
            p1[t, s], p2[t, s] = x1, x2
            joint = torch.outer(torch.tensor([x1, 1 - x1], dtype=torch.float64),
                                torch.tensor([x2, 1 - x2], dtype=torch.float64))
            current[:, s] = (joint * stage).sum(dim=(-2, -1))
        following = current
    return p1, to_own_seat(p2)


def reciprocal_choice(t: int, s: int, equilibria: Sequence) -> int:
    """A history-dependent equilibrium selection for :func:`subgame_perfect_profile`.

    After mutual cooperation (state CC) play the stage equilibrium with the most
    cooperation (largest ``x1 + x2``); after any other outcome the one with the
    least; at the start (and t = 0) the last one (the mixed one when it exists).
    """
    if t == 0 or s == 0:
        return len(equilibria) - 1
    cooperation = [x1 + x2 for x1, x2 in equilibria]
    pick = max if s == 1 else min
    return cooperation.index(pick(cooperation))


def own_action_advantages(solution: TabularSolution) -> Tuple[torch.Tensor, torch.Tensor]:
    """Each player's advantage of its OWN action, the other's averaged out, ``[..., T, 5, 2]`` each.

    ``sum_b pi2(b|t,s) A1(t, s, a, b)`` for player 1 and ``sum_a pi1(a|t,s) A2(t, s, a, b)``
    for player 2: Lemma 2's quantities, 0 on the support at a Nash equilibrium in
    every state reached with positive probability.
    """
    a1, a2 = solution.advantages()
    return (solution.pi2[..., None, :] * a1).sum(-1), (solution.pi1[..., :, None] * a2).sum(-2)


def aa_terms(p1, p2, game, gamma: float, horizon: int, *, stationary: bool = True, beta: float = 1.0,
             **shaping_options) -> torch.Tensor:
    """Exact expected Advantage Alignment term of both players, ``[2, *p1.shape]``.

    Gradients are with respect to the probabilities P(cooperate) (exact at 0 and 1);
    ``shaping_options`` go to :func:`aa_lib.advantages.shaping_term` (default: eq. 8).
    """
    swapped = swap_seats(game)
    first = aa_estimator_expectation(p1, p2, game, gamma, horizon, beta=beta, stationary=stationary,
                                     probabilities=True, **shaping_options)
    second = aa_estimator_expectation(p2, p1, swapped, gamma, horizon, beta=beta, stationary=stationary,
                                      probabilities=True, **shaping_options)
    return torch.stack([first, second])


def policy_gradients(p1, p2, game, gamma: float, horizon: int, *, stationary: bool = True) -> torch.Tensor:
    """Both players' own policy gradients in probability coordinates, ``[2, *p1.shape]``."""
    first = exact_policy_gradient(p1, p2, game, gamma, horizon, stationary=stationary, probabilities=True)
    second = exact_policy_gradient(p2, p1, swap_seats(game), gamma, horizon, stationary=stationary,
                                   probabilities=True)
    return torch.stack([first, second])
