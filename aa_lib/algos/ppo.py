"""PPO (Schulman et al. 2017) and PPO with summed rewards (the prosocial baseline).

The clipped surrogate ``min(r A, clip(r, 1 - eps, 1 + eps) A)`` with the ratio
``r = pi(a|h) / pi_old(a|h)``; at ``r = 1`` its gradient is the policy gradient
of eq. 3. PPO-SR ("PPO summing rewards", Fig. 3a) trains every player on the sum
of all players' rewards: it cooperates with itself and is exploited by selfish
co-players.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .base import PolicyGradientAlgorithm

__all__ = ["PPO", "PPOSummedRewards"]


@dataclass
class PPO(PolicyGradientAlgorithm):
    """Clipped-ratio PPO on the learner's own advantages."""

    name = "ppo"
    clip: Optional[float] = 0.2
    n_epochs: int = 4


@dataclass
class PPOSummedRewards(PPO):
    """PPO trained on the sum of all players' rewards (prosocial baseline, "PPO-SR")."""

    name = "ppo_sr"
    reward_sharing: bool = True
