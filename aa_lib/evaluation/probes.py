"""Behaviour probes: P(cooperate | previous joint action) (Fig. 1b), exploitability, Coin Game pickups.

For a history-based (GRU) policy, ``P(C | previous joint action)`` is measured
empirically: play episodes, and average the policy's probability of
cooperating at every step over the steps whose previous joint action (from the
policy's own seat) was start, CC, CD, DC or DD. The co-player decides which
histories are visited: itself (``"self"``, the paper's self-play setting) or a
uniformly random player (``"random"``, which visits every state often).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

import torch

from ..agents.scripted import RandomAgent, scripted_agent
from ..exact.memory_one import STATE_NAMES
from ..training.rollout import collect_rollout
from .match import as_policy, play

__all__ = ["ProbeResult", "cooperation_probe", "exploitability", "coin_pickups"]


@dataclass
class ProbeResult:
    """``probabilities[state]`` = mean P(C) after that previous joint action; ``counts[state]`` visits."""

    probabilities: Dict[str, float]
    counts: Dict[str, int]

    def as_tensor(self) -> torch.Tensor:
        """``[5]`` in the order start, CC, CD, DC, DD (NaN where never visited)."""
        return torch.tensor([self.probabilities[s] for s in STATE_NAMES])


@torch.no_grad()
def cooperation_probe(policy, env, opponent="self", batch_size: int = 1024,
                      generator: Optional[torch.Generator] = None) -> ProbeResult:
    """P(cooperate | previous joint action) of ``policy`` in an iterated 2x2 game (Fig. 1b).

    Args:
        policy: a learned policy (its action probabilities are averaged) or a
            scripted agent (its sampled actions are averaged).
        env: an :class:`~aa_lib.games.iterated.IteratedMatrixGame`.
        opponent: ``"self"``, ``"random"``, or any agent for seat 2.
        batch_size: number of probe episodes.
        generator: randomness of the probe episodes.
    """
    if tuple(env.observation_shape) != (5,) or env.n_players != 2:
        raise ValueError("cooperation_probe needs an iterated 2x2 game with one-hot observations [5]")
    me = as_policy(policy)
    if isinstance(opponent, str):
        if opponent not in ("self", "random"):
            raise ValueError(f"opponent must be 'self', 'random' or an agent, got {opponent!r}")
        other = me if opponent == "self" else as_policy(RandomAgent(2))
    else:
        other = as_policy(opponent)
    traj = collect_rollout(env, [me, other], batch_size, generator)
    obs = traj.obs[0]  # [B, T, 5] from the probed policy's seat
    if hasattr(me, "sequence_distribution"):
        p_cooperate = me.sequence_distribution(obs).probs[..., 0]
    else:
        p_cooperate = (traj.actions[0] == 0).float()
    states = obs.argmax(-1)
    probs, counts = {}, {}
    for index, name in enumerate(STATE_NAMES):
        hit = states == index
        counts[name] = int(hit.sum())
        probs[name] = float(p_cooperate[hit].mean()) if counts[name] else float("nan")
    return ProbeResult(probs, counts)


def exploitability(policy, env, opponent="AD", batch_size: int = 512,
                   generator: Optional[torch.Generator] = None) -> Dict[str, float]:
    """Per-step rewards of ``policy`` (seat 1) against ``opponent`` (default Always Defect, seat 2).

    Returns ``{"agent": r1, "opponent": r2, "gap": r2 - r1}``: a policy that is
    not exploited keeps ``gap`` small (it stops cooperating with a defector).
    """
    if isinstance(opponent, str):
        opponent = scripted_agent(env, opponent)
    rewards = play(env, [policy, opponent], batch_size, generator)
    r1, r2 = float(rewards[0]), float(rewards[1])
    return {"agent": r1, "opponent": r2, "gap": r2 - r1}


@torch.no_grad()
def coin_pickups(policy, env, opponent="self", batch_size: int = 512,
                 generator: Optional[torch.Generator] = None) -> Dict[str, float]:
    """How selectively ``policy`` picks up coins in the Coin Game.

    Plays ``batch_size`` episodes with ``policy`` in seat 1 and ``opponent`` in
    seat 2 (``"self"``: the same policy, both seats are counted; a scripted name
    such as ``"AD"``; or any agent) and counts, from the game's ``info``, the
    coins each probed seat picked up of its own colour and of the other's.

    Returns ``{"own_fraction", "own_per_step", "other_per_step", "reward", "opponent_reward"}``:
    ``own_fraction`` = own / (own + other) pickups of the probed seat(s) (1: only its
    own coins, as Always Cooperate; about 0.5: any coin, as Always Defect), the
    pickups per step and game, and the per-step rewards of the two seats.
    """
    if type(env).__name__ != "CoinGame":
        raise ValueError(f"coin_pickups needs a CoinGame environment, got {type(env).__name__}")
    me = as_policy(policy)
    if isinstance(opponent, str) and opponent != "self":
        opponent = scripted_agent(env, opponent)
    other = me if isinstance(opponent, str) else as_policy(opponent)
    seats = [0, 1] if isinstance(opponent, str) else [0]
    counts = {"own": 0.0, "other": 0.0}

    def count(result):
        counts["own"] += float(result.info["picked_own"][seats].float().sum())
        counts["other"] += float(result.info["picked_other"][seats].float().sum())

    traj = collect_rollout(env, [me, other], batch_size, generator, on_step=count)
    steps = len(seats) * traj.batch_size * traj.horizon
    total = counts["own"] + counts["other"]
    per_step = traj.rewards.mean(dim=(1, 2))
    return {"own_fraction": counts["own"] / total if total else float("nan"),
            "own_per_step": counts["own"] / steps, "other_per_step": counts["other"] / steps,
            "reward": float(per_step[seats].mean()), "opponent_reward": float(per_step[1])}
