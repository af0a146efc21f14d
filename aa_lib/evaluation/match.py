"""Play learned and scripted agents against each other and measure per-step rewards."""
from __future__ import annotations

from typing import Optional, Sequence

import torch

from .._validation import check_int
from ..agents.policies import ScriptedPolicy
from ..training.checkpoint import CheckpointError, checkpoint_record, describe_record, load_trainer_checkpoint
from ..training.trainer import config_of_checkpoint
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


def load_policy(path, learner: int = 0, device: str = "cpu", game: Optional[str] = None):
    """The policy of learner ``learner`` stored in a trainer checkpoint (``weights_only`` load).

    Args:
        path: a training checkpoint (:meth:`aa_lib.training.Trainer.save`, ``aa train``, the shipped
            ``assets/<game>/*.pt``).
        learner: index of the learner (0 for self-play; one per seat with independent learners).
        device: device of the returned policy.
        game: the game the policy must play (None: any); a checkpoint of another game raises a
            :class:`~aa_lib.training.checkpoint.CheckpointError` naming the file, its game and architecture.

    Every file that is not such a checkpoint raises a ``CheckpointError`` (a ValueError) saying
    what the file is (:func:`aa_lib.training.checkpoint.load_trainer_checkpoint`).
    """
    from ..agents.policies import MemoryOnePolicy, make_policy
    from ..games import make_env

    check_int(learner, "learner", low=0)
    state = load_trainer_checkpoint(path, map_location=device, game=game)
    n_learners = len(state["learners"])
    if learner >= n_learners:
        raise ValueError(f"learner must be in [0, {n_learners - 1}]: {path} holds {n_learners} learner(s), "
                         f"got learner={learner}")
    config = config_of_checkpoint(state, path)
    if config.policy == "memory_one":
        policy = MemoryOnePolicy()
    else:
        policy = make_policy(make_env(config.game, device=device, **config.game_options), config.hidden,
                             config.recurrent)
    try:
        policy.load_state_dict(state["learners"][learner]["policy"])
    except (RuntimeError, KeyError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path}: the stored policy does not fit the networks its config describes "
                              f"({describe_record(checkpoint_record(state))}): {first}") from None
    return policy.to(device).eval()
