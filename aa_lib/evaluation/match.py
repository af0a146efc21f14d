"""Play learned and scripted agents against each other and measure per-step rewards."""
from __future__ import annotations

from typing import Sequence

import torch

from ..agents.policies import ScriptedPolicy
from ..training.checkpoint import load_checkpoint
from ..training.config import TrainConfig
from ..training.rollout import Trajectory, collect_rollout

__all__ = ["as_policy", "play", "load_policy"]


def as_policy(agent):
    """A learned policy unchanged, a scripted agent wrapped in :class:`ScriptedPolicy`."""
    if hasattr(agent, "initial_state") and hasattr(agent, "act"):
        return agent
    return ScriptedPolicy(agent)


@torch.no_grad()
def play(env, agents: Sequence, batch_size: int = 256, generator: torch.Generator | None = None,
         n_episodes: int = 1) -> torch.Tensor:
    """Average per-step reward of each seat, ``[P]``, over ``n_episodes`` batches of games.

    ``agents`` holds one agent per seat (learned policies or scripted agents).
    """
    policies = [as_policy(a) for a in agents]
    totals = torch.zeros(env.n_players, device=env.device)
    for _ in range(n_episodes):
        traj: Trajectory = collect_rollout(env, policies, batch_size, generator)
        totals += traj.rewards.mean(dim=(1, 2))
    return totals / n_episodes


def load_policy(path, learner: int = 0, device: str = "cpu"):
    """The policy of learner ``learner`` stored in a trainer checkpoint (``weights_only`` load)."""
    from ..agents.policies import MemoryOnePolicy, make_policy
    from ..games import make_env

    state = load_checkpoint(path, map_location=device)
    if state.get("format") != "aa_lib.trainer/1":
        raise ValueError(f"{path} is not an aa_lib trainer checkpoint")
    config = TrainConfig.from_dict(dict(state["config"]))
    if config.policy == "memory_one":
        policy = MemoryOnePolicy()
    else:
        policy = make_policy(make_env(config.game, device=device, **config.game_options), config.hidden,
                             config.recurrent)
    policy.load_state_dict(state["learners"][learner]["policy"])
    return policy.to(device).eval()
