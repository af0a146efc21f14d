"""Credit per round, copied to the round's generated tokens (LLM follow-up; REFERENCES "LLM follow-up").

No critic: the advantage of seat ``i`` in round ``t`` of game ``b`` is its return-to-go minus the
group-relative baseline (leave-one-out mean of the same seat's same-round return over the other
games of the seed group; the whole batch for games without random draws):

    G^i_t = sum_{u >= t} gamma^(u-t) r^i_u,      A^i_t = G^i_t - mean_{b' in g(b), b' != b} G^i_t(b')

The credit of a round, by learning rule (:data:`CREDIT_RULES`):

- ``"naive"``:        c_t = A1_t
- ``"sum_rewards"``:  c_t = A1_t + A2_t              (the advantage of the summed rewards)
- ``"aa"``:           c_t = A1_t + beta * w_t, with ``w`` :func:`aa_lib.advantages.shaping_term`:
    * release (default, ``include_current=False, extra_gamma=True``):
      ``w_t = gamma * sum_{k<t} gamma^(t-k) A1_k * A2_t``
    * earlier research code (``include_current=True, extra_gamma=False``):
      ``w_t = sum_{k<=t} gamma^(t-k) A1_k * A2_t``

A1 is the seat's own advantage, A2 the co-player's (summed over co-players for more than two).
Every generated token of seat ``i`` in round ``t`` gets ``c^i_t`` (:func:`token_credit`).
"""
from __future__ import annotations

from typing import Optional

import torch

from .._validation import check_finite, check_gamma, check_tensor
from ..advantages import discounted_returns, group_relative_baseline, shaping_term

__all__ = ["CREDIT_RULES", "round_advantages", "aa_shaping", "round_credit", "token_credit"]

#: The learning rules' credits (see the module docstring).
CREDIT_RULES = ("naive", "sum_rewards", "aa")


def round_advantages(rewards, group_ids, gamma: float) -> torch.Tensor:
    """``A [P, B, T]``: returns-to-go minus the group-relative (leave-one-out) baseline.

    Args:
        rewards: float ``[P, B, T]`` (already scaled).
        group_ids: long ``[B]`` seed group of each game (all equal: the whole batch is one group).
        gamma: discount of the returns-to-go.
    """
    rewards = check_tensor(rewards, "rewards")
    if rewards.dim() != 3:
        raise ValueError(f"rewards must have shape [n_players, batch, n_rounds], got {tuple(rewards.shape)}")
    returns = discounted_returns(rewards, gamma)
    return returns - group_relative_baseline(returns, group_ids, dim=1)


def aa_shaping(advantages: torch.Tensor, gamma: float, include_current: bool = False,
               extra_gamma: bool = True) -> torch.Tensor:
    """The Advantage Alignment term ``w [P, B, T]`` of every seat (before ``beta``).

    For seat ``i``: :func:`aa_lib.advantages.shaping_term` with A1 = ``advantages[i]``, the co-players'
    advantages as A2 (summed), past discount ``gamma``, ``include_current`` (k <= t instead of k < t) and
    time weight ``"gamma"`` (the release's extra gamma) or ``"1"``.
    """
    advantages = check_tensor(advantages, "advantages")
    if advantages.dim() != 3 or advantages.shape[0] < 2:
        raise ValueError(f"advantages must have shape [n_players >= 2, batch, n_rounds], got "
                         f"{tuple(advantages.shape)}")
    gamma = check_gamma(gamma, "aa_gamma", allow_one=True)
    P = advantages.shape[0]
    out = []
    for seat in range(P):
        others = advantages[[j for j in range(P) if j != seat]]
        out.append(shaping_term(advantages[seat], others, gamma, past_discount=gamma,
                                include_current=include_current, time_weight="gamma" if extra_gamma else "1"))
    return torch.stack(out)


def round_credit(advantages, rule: str, beta: float = 1.0, aa_gamma: Optional[float] = None,
                 include_current: bool = False, extra_gamma: bool = True) -> torch.Tensor:
    """The credit ``c [P, B, T]`` of each seat's round under ``rule`` (see the module docstring).

    Args:
        advantages: ``[P, B, T]`` from :func:`round_advantages`.
        rule: one of :data:`CREDIT_RULES`.
        beta: weight of the Advantage Alignment term (``"aa"`` only).
        aa_gamma: discount inside the AA term (required for ``"aa"``).
        include_current, extra_gamma: the AA variant (see :func:`aa_shaping`).
    """
    advantages = check_tensor(advantages, "advantages")
    if advantages.dim() != 3:
        raise ValueError(f"advantages must have shape [n_players, batch, n_rounds], got {tuple(advantages.shape)}")
    check_finite(advantages, "advantages")
    if rule == "naive":
        return advantages.clone()
    if rule == "sum_rewards":
        return advantages + (advantages.sum(0, keepdim=True) - advantages)
    if rule == "aa":
        if aa_gamma is None:
            raise ValueError("rule 'aa' needs aa_gamma (the discount inside the AA term)")
        return advantages + float(beta) * aa_shaping(advantages, aa_gamma, include_current, extra_gamma)
    raise ValueError(f"rule must be one of {CREDIT_RULES}, got {rule!r}")


def token_credit(credit: torch.Tensor, row_seat: torch.Tensor, row_game: torch.Tensor,
                 round_index: torch.Tensor) -> torch.Tensor:
    """Per-token credit ``[R, L]``: ``credit[seat_r, game_r, round_index[r, l]]`` on generated tokens, 0 elsewhere.

    Args:
        credit: ``[P, B, T]``; row_seat, row_game: long ``[R]``; round_index: long ``[R, L]`` (-1 where
            the token was not generated).
    """
    if round_index.dim() != 2 or row_seat.shape != (round_index.shape[0],) or row_game.shape != row_seat.shape:
        raise ValueError("row_seat and row_game must be [R] and round_index [R, L]")
    device = round_index.device
    generated = round_index >= 0
    seat = row_seat.to(device).unsqueeze(1).expand_as(round_index)
    game = row_game.to(device).unsqueeze(1).expand_as(round_index)
    values = credit.to(device)[seat, game, round_index.clamp(min=0)]
    return torch.where(generated, values, torch.zeros_like(values))
