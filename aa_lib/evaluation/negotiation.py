"""Negotiation Game probes: how much an agent bids on the items it values less, and Fig. 3b-style transcripts.

In the high-contrast Negotiation Game every item is worth 5 to one player and 1
to the other. Cooperation (Always Cooperate) is bidding 0 on the items one values
less and 5 on the others; defection (Always Defect) is bidding 5 on everything.
The mean bid on one's *low-value* items is therefore a one-number summary of how
much an agent defects: about 0 for AC, 5 for AD.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import torch

from ..agents.scripted import scripted_agent
from ..games.negotiation import OBS_LAYOUT, NegotiationGame
from ..training.rollout import collect_rollout
from .match import as_policy

__all__ = ["bid_profile", "bids_by_round", "episode_bids", "negotiation_transcript"]


def _check_env(env) -> None:
    if not isinstance(env, NegotiationGame):
        raise ValueError(f"needs a NegotiationGame environment, got {type(env).__name__}")


def _co_player(me, opponent, env):
    if isinstance(opponent, str):
        return me if opponent == "self" else as_policy(scripted_agent(env, opponent))
    return as_policy(opponent)


def episode_bids(traj, seat: int = 0) -> Dict[str, torch.Tensor]:
    """Per-episode mean proposal of ``seat`` on the items it values less / more: ``{"bid_low", "bid_high"}``,
    each ``[B]`` float64 (from a Negotiation Game trajectory's observations and proposals)."""
    low, bids = _low_items_and_bids(traj, seat)
    return {key: ((bids * mask).sum((1, 2)) / mask.sum((1, 2)).clamp_min(1.0)).cpu()
            for key, mask in (("bid_low", low), ("bid_high", 1.0 - low))}


def _low_items_and_bids(traj, seat: int):
    """``(low, bids)``, each ``[B, T, 3]`` float64: 1 where ``seat`` values the item less, and its proposals."""
    low = (traj.obs[seat, ..., OBS_LAYOUT["own_values"]] < 0.5).double()  # values / 5 are 0.2 or 1
    return low, traj.env_actions[seat].double()  # proposals in [0, 5]


def _play(policy, env, opponent, batch_size: int, generator):
    """Check the arguments, then one batch of episodes of ``policy`` (seat 1) against ``opponent``."""
    _check_env(env)
    if batch_size < 2:
        raise ValueError(f"batch_size must be at least 2, got {batch_size}")
    me = as_policy(policy)
    return collect_rollout(env, [me, _co_player(me, opponent, env)], batch_size, generator)


@torch.no_grad()
def bid_profile(policy, env, opponent="self", batch_size: int = 512,
                generator: Optional[torch.Generator] = None) -> Dict[str, float]:
    """Mean proposal of ``policy`` (seat 1) on the items it values less / more, with standard errors.

    Args:
        policy: a learned policy or scripted agent.
        env: a :class:`~aa_lib.games.negotiation.NegotiationGame`.
        opponent: ``"self"``, a scripted name (``"AC"``, ``"AD"``, ``"Random"``) or an agent.
        batch_size: episodes played (the standard errors treat episodes as independent).

    Returns ``{"bid_low", "bid_high", "bid_low_se", "bid_high_se", "reward", "opponent_reward"}``
    (per-step rewards of the two seats).
    """
    traj = _play(policy, env, opponent, batch_size, generator)
    out = {}
    for key, per_episode in episode_bids(traj).items():
        out[key] = float(per_episode.mean())
        out[f"{key}_se"] = float(per_episode.std(unbiased=True) / batch_size ** 0.5)
    rewards = traj.rewards.mean(-1)  # [2, B]
    out["reward"], out["opponent_reward"] = float(rewards[0].mean()), float(rewards[1].mean())
    return out


@torch.no_grad()
def bids_by_round(policy, env, opponent="self", batch_size: int = 512,
                  generator: Optional[torch.Generator] = None) -> Dict[str, list]:
    """Mean proposal of ``policy`` (seat 1) on the items it values less / more at each round.

    A reciprocal agent shows itself here: against Always Defect its bids on its low-value items
    climb over the episode, against Always Cooperate they stay low (a one-number summary over the
    whole episode, as :func:`bid_profile` gives, averages this away).

    Args: as :func:`bid_profile`. Returns ``{"bid_low": [T floats], "bid_high": [T floats]}``, pooled
    over the items of that kind in every episode (NaN at a round where no item was of that kind).
    """
    low, bids = _low_items_and_bids(_play(policy, env, opponent, batch_size, generator), 0)
    return {key: ((bids * mask).sum((0, 2)) / mask.sum((0, 2))).cpu().tolist()
            for key, mask in (("bid_low", low), ("bid_high", 1.0 - low))}


@torch.no_grad()
def negotiation_transcript(env, agents: Sequence, names: Sequence[str], rounds: int = 8, seed: int = 0,
                           episode: int = 0) -> str:
    """The first ``rounds`` rounds of one sampled episode, written as in Fig. 3b.

    One line per round: for each item the two players' values and their proposals
    rounded to integers; a proposal of 3 or more on an item the player values
    less is marked ``!`` (a defection: it claims most of an item worth 5 to the
    other and 1 to itself).
    """
    _check_env(env)
    if len(agents) != 2 or len(names) != 2:
        raise ValueError("agents and names must hold one entry per seat (2)")
    if not isinstance(rounds, int) or not 1 <= rounds <= env.episode_length:
        raise ValueError(f"rounds must be an int in [1, {env.episode_length}], got {rounds!r}")
    generator = torch.Generator(device=env.device).manual_seed(int(seed))
    values, proposals = [], []

    def record(result):
        values.append(result.info["values"][:, episode].cpu())
        proposals.append(result.info["proposals"][:, episode].cpu())

    collect_rollout(env, [as_policy(a) for a in agents], episode + 1, generator, on_step=record)
    width = max(len(n) for n in names)
    lines = [f"{'round':>5}  " + "   ".join(f"item {k + 1}: values / proposals".ljust(30) for k in range(3))]
    for t in range(rounds):
        cells = []
        for k in range(3):
            parts = []
            for seat in range(2):
                v, p = int(values[t][seat, k]), int(round(float(proposals[t][seat, k])))
                mark = "!" if v < env.high_value and p >= 3 else " "
                parts.append(f"{names[seat][:width]} {v}/{p}{mark}")
            cells.append("  ".join(parts).ljust(30))
        lines.append(f"{t + 1:>5}  " + "   ".join(cells))
    return "\n".join(lines)
