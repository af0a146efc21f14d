"""Exact best responses to the Coin Game's Always Defect, by backward induction over every state.

How well can *any* agent do against :class:`~aa_lib.agents.scripted.CoinAlwaysDefect` (AD: a
shortest torus path to the coin, whatever its colour, ties broken uniformly at random)? On the
``g x g`` torus of :class:`~aa_lib.games.CoinGame` the whole game is a small Markov decision
process for the other player:

- state ``s = (my cell, AD's cell, coin cell, coin is mine)``: ``g^2 * g^2 * g^2 * 2`` states
  (1458 on the 3 x 3 torus); the agent is the red seat, so "mine" means a red coin;
- AD's move ``b`` is uniform over the moves that shorten its torus distance to the coin
  (:func:`always_defect_moves`);
- rewards as in ``CoinGame``: +1 for a pickup, ``penalty`` to the coin's owner when the other
  player takes it (both players may pick up the same coin);
- after a pickup the new coin has the other colour and a uniformly random cell that no player
  stands on; the start is uniform as in ``CoinGame.reset`` (independent uniform cells, uniform
  colour, coin uniform on the free cells);
- ``V_t(s) = max_a sum_b p(b | s) [obj(s, a, b) + E V_{t+1}(s')]`` over an episode of ``T`` steps,
  undiscounted, with ``obj`` the agent's own reward (``objective="own"``) or its reward minus
  AD's (``"margin"``); reported per step from the uniform start.

With ``T = 16`` (the paper's league) the best own reward and the best margin are both about zero
(0.00003 and 0.00006 per step): no agent beats this AD by more than a tie, which settles how the
paper's Fig. 2 pair can be read (``experiments/results/NOTES.md``, sessions 6 and 11; notebook 08).
``experiments/coin_best_response.py`` prints the table.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch

from .._validation import check_device, check_positive_int
from ..games.coin import coin_move_targets, moves_towards

__all__ = ["OBJECTIVES", "TIE_TOLERANCE", "CoinBestResponse", "always_defect_moves", "coin_best_response"]

#: What the best response maximises: its own return, or its return minus AD's.
OBJECTIVES = ("own", "margin")
#: Objective values closer than this are ties (the first such move is chosen).
TIE_TOLERANCE = 1e-12


@dataclass
class CoinBestResponse:
    """Per-step expected rewards of the best (or evaluated) policy, ``me``, and of AD, from the uniform start."""

    objective: str
    episode_length: int
    me: float
    ad: float
    #: ``[T, g^2, g^2, g^2, 2]`` long: the move (index into ``games.coin.MOVES``) chosen at each step in
    #: each state (my cell, AD's cell, coin cell, coin is mine); for an evaluated policy its likeliest move.
    policy: torch.Tensor

    @property
    def margin(self) -> float:
        """``me - ad`` per step."""
        return self.me - self.ad


def always_defect_moves(grid_size: int = 3, device="cpu") -> torch.Tensor:
    """AD's move distribution ``[g^2, g^2, 4]`` float64, indexed ``[its cell, coin cell, move]``.

    Uniform over the moves that shorten its torus distance to the coin; all zeros where it stands
    on the coin (a state the game never shows at the start of a step).
    """
    n = check_positive_int(grid_size, "grid_size") ** 2
    cell, coin = torch.meshgrid(torch.arange(n, device=device), torch.arange(n, device=device), indexing="ij")
    closer = moves_towards(cell.reshape(-1), coin.reshape(-1), grid_size).reshape(n, n, 4).double()
    return closer / closer.sum(-1, keepdim=True).clamp(min=1.0)


def _check_policy_probs(policy_probs, n: int, device) -> torch.Tensor:
    shape = (n, n, n, 2, 4)
    probs = torch.as_tensor(policy_probs, dtype=torch.float64, device=device)
    if (tuple(probs.shape) != shape or not torch.isfinite(probs).all() or (probs < 0).any()
            or not torch.allclose(probs.sum(-1), torch.ones((), dtype=torch.float64, device=device))):
        raise ValueError(f"policy_probs must be move probabilities of shape {shape} (my cell, AD's cell, "
                         f"coin cell, coin is mine, move), got shape {tuple(probs.shape)}")
    return probs


def coin_best_response(episode_length: int = 16, penalty: float = -2.0, objective: str = "own",
                       grid_size: int = 3, policy_probs=None, device="cpu") -> CoinBestResponse:
    """Backward induction for the best response to Always Defect in the Coin Game (module docstring).

    Args:
        episode_length: steps ``T`` per episode (the paper's league: 16).
        penalty: reward of a coin's owner when the other player takes it (``CoinGame``'s default -2).
        objective: ``"own"`` maximises the agent's own return, ``"margin"`` its return minus AD's.
        grid_size: side ``g`` of the torus (3 in the paper).
        policy_probs: optional ``[g^2, g^2, g^2, 2, 4]`` stationary move probabilities per state
            (array or tensor); given, the policy is evaluated exactly instead of optimised.
        device: torch device of the computation (float64 throughout).

    Returns:
        a :class:`CoinBestResponse`; ``me``/``ad`` are expected rewards per step.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    check_positive_int(episode_length, "episode_length")
    if isinstance(grid_size, bool) or not isinstance(grid_size, int) or grid_size < 2:
        raise ValueError(f"grid_size must be an integer >= 2, got {grid_size!r}")
    if isinstance(penalty, bool) or not isinstance(penalty, (int, float)) or not math.isfinite(penalty):
        raise ValueError(f"penalty must be a finite number, got {penalty!r}")
    device = check_device(device)
    g, n = grid_size, grid_size ** 2
    probs: Optional[torch.Tensor] = None if policy_probs is None else _check_policy_probs(policy_probs, n, device)

    cells = torch.arange(n, device=device)
    moves = coin_move_targets(cells, g)  # [n, 4] cell reached by each move
    m, a, c, mine = torch.meshgrid(cells, cells, cells, torch.arange(2, device=device), indexing="ij")  # [n,n,n,2]
    p_ad = always_defect_moves(g, device)[a, c]  # [n, n, n, 2, 4]: AD's move b given the state
    # Every (state, my move, AD's move): [n, n, n, 2, 4, 4].
    m2 = moves[m][..., :, None].expand(*m.shape, 4, 4)
    a2 = moves[a][..., None, :].expand(*m.shape, 4, 4)
    coin, own = c[..., None, None], mine[..., None, None]
    pick_me, pick_ad = m2 == coin, a2 == coin
    r_me = pick_me.double() + penalty * (pick_ad & (own == 1)).double()
    r_ad = pick_ad.double() + penalty * (pick_me & (own == 0)).double()
    picked = pick_me | pick_ad
    n_free = (n - 1 - (m2 != a2).long()).double()  # free cells for the new coin after the move
    rows, cols = cells[:, None], cells[None, :]
    same_cell = torch.eye(n, dtype=torch.bool, device=device)[..., None]

    def expect(table: torch.Tensor) -> torch.Tensor:
        """``E[table(s')]`` for every (state, my move, AD's move), ``table`` ``[n, n, n, 2]``."""
        stay = table[m2, a2, coin, own]
        # respawn: mean over the cells free of both players, colour flipped
        occupied = table[rows, cols, rows] + torch.where(same_cell, 0.0, table[rows, cols, cols])  # [n, n, 2]
        respawn = (table.sum(2) - occupied)[m2, a2, 1 - own] / n_free
        return torch.where(picked, respawn, stay)

    value = torch.zeros(n, n, n, 2, dtype=torch.float64, device=device)  # objective to go, V_{t+1}
    own_to_go, ad_to_go = torch.zeros_like(value), torch.zeros_like(value)  # rewards to go under the policy
    policy = torch.zeros(episode_length, n, n, n, 2, dtype=torch.long, device=device)
    objective_reward = r_me if objective == "own" else r_me - r_ad
    for t in reversed(range(episode_length)):
        q = [reward + expect(to_go) for reward, to_go in
             ((objective_reward, value), (r_me, own_to_go), (r_ad, ad_to_go))]
        q_obj, q_own, q_ad = [(p_ad[..., None, :] * x).sum(-1) for x in q]  # [n, n, n, 2, my move]
        if probs is None:
            # the first of the optimal moves: values equal up to float rounding count as ties, so the
            # choice (and the split between own and AD's rewards) does not depend on summation order
            policy[t] = (q_obj >= q_obj.amax(-1, keepdim=True) - TIE_TOLERANCE).long().argmax(-1)
            value, own_to_go, ad_to_go = [x.gather(-1, policy[t][..., None])[..., 0] for x in (q_obj, q_own, q_ad)]
        else:
            policy[t] = probs.argmax(-1)
            value, own_to_go, ad_to_go = [(probs * x).sum(-1) for x in (q_obj, q_own, q_ad)]
    free = ~((c == m) | (c == a))
    start = free.double() / free.sum((2, 3), keepdim=True) / (n * n)
    return CoinBestResponse(objective, episode_length, float((start * own_to_go).sum()) / episode_length,
                            float((start * ad_to_go).sum()) / episode_length, policy)
