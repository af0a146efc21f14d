"""Item-factored Advantage Alignment: credit each action dimension with its own part of the reward.

In the Negotiation Game the reward is a sum over items, ``r_t = sum_i r_{t,i}``, and the
policy a product over items, ``pi(a_t | h_t) = prod_i pi_i(a_{t,i} | h_t)``. Eq. 8 multiplies
the log-probability of *all three* proposals by the co-player's whole advantage ``A^2_t``, so
the credit for being generous on one item is drowned in the noise of the other two and of
later rounds; at classroom scale that rule learns Always Defect (``experiments/results/NOTES.md``).
Weighting each item's log-probability by that item's rewards gives, for dimension ``i``,

    w_{t,i} = A^1_t - sum_{j != i} c^1_{t,j}                         (policy gradient)
              + beta * (sum_{k<t} gamma_AA^(t-k) c^1_k) * sum_{j} c^j_{t,i}   (eq. 8, factored)

with ``c^p_{t,i}`` player ``p``'s reward on item ``i`` in round ``t``, centred over the
batch of games at each step (with replayed agents, over the learner's games and the
others' apart: :meth:`FactoredAdvantageAlignment.extend_estimates`), ``c^1_k = sum_i c^1_{k,i}``, and the last sum over co-players
(eq. 66). The first line is the policy gradient with a state-dependent baseline: given
the history, the other items' rewards of round ``t`` do not depend on the proposal for item
``i``, so subtracting them leaves its expectation unchanged. The second line is eq. 8's
shaping term without its ``gamma^(t+1)`` prefactor (so beta is not on the scale of ``aa``'s),
with the past *rewards* of the agent in place of its past advantages (at this scale a
critic's advantages of past rounds are noisier than the centred rewards) and with
the co-player's advantage restricted to its immediate reward on item ``i``: the effect of
today's proposal on the co-player's *later* rounds is left out of the AA term (it is still
in ``A^1_t``).

The surrogate is REINFORCE on per-item log-densities; ``squashed_entropy`` (default here)
puts the entropy bonus on the proposals themselves. Trains on games that define
``env.reward_parts`` (Negotiation). Measured in ``experiments/results/NOTES.md`` (sessions 6-7).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..advantages import past_advantage_sum
from ..games.base import BatchedEnv
from .base import EstimateInputs, LearnerBatch, PolicyGradientAlgorithm, SeatEstimates, SeatRows, centre_per_seat

__all__ = ["FactoredAdvantageAlignment"]


@dataclass
class FactoredAdvantageAlignment(PolicyGradientAlgorithm):
    """Advantage Alignment with per-item credit (module docstring); weights ``[N, T, d]``."""

    name = "aa_factored"
    takes_beta = True
    #: Advantage Alignment weight beta.
    beta: float = 11.0
    #: Discount ``gamma_AA`` of the agent's past rewards in the AA term.
    aa_gamma: float = 0.9
    squashed_entropy: bool = True

    def __post_init__(self):
        if self.clip is not None or self.n_epochs != 1:
            raise ValueError("aa_factored is a REINFORCE rule (one update per batch): leave clip=None, n_epochs=1")
        if self.reward_sharing:
            raise ValueError("aa_factored does not share rewards (its reward parts are each player's own)")
        for name in ("beta", "aa_gamma"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if not 0.0 <= self.aa_gamma <= 1.0:
            raise ValueError(f"aa_gamma must lie in [0, 1], got {self.aa_gamma!r}")

    # ------------------------------------------------------------ the trainer's hooks
    def validate(self, env, game: str = "") -> None:
        """The game must split its reward over action dimensions (``env.reward_parts``)."""
        if getattr(type(env), "reward_parts", None) in (None, BatchedEnv.reward_parts):
            raise ValueError(f"{self.name} needs a game whose reward is split over action dimensions "
                             f"(env.reward_parts, e.g. negotiation); {game!r} has none")
        super().validate(env, game)

    def extend_estimates(self, est: SeatEstimates, inputs: EstimateInputs) -> None:
        """``est.centred_rewards [P, B, T]`` and ``est.reward_parts [P, B, T, d]``, centred per seat at
        every step (the learner's games apart from the other agents', :func:`~aa_lib.algos.base.centre_per_seat`)."""
        traj = inputs.traj
        est.reward_parts = centre_per_seat(inputs.env.reward_parts(traj.obs, traj.env_actions), inputs.learner_mask)
        est.centred_rewards = centre_per_seat(traj.rewards, inputs.learner_mask)

    def extend_batch(self, batch: LearnerBatch, est: SeatEstimates, traj, rows: SeatRows) -> None:
        """``batch.rewards``, ``batch.reward_parts`` (the learner's) and ``batch.other_reward_parts``."""
        if est.reward_parts is not None:
            batch.rewards = rows.own(est.centred_rewards)
            batch.reward_parts = rows.own(est.reward_parts)
            batch.other_reward_parts = rows.others(est.reward_parts)

    # ------------------------------------------------------------------ the weight
    def weights(self, batch: LearnerBatch) -> torch.Tensor:
        if batch.reward_parts is None or batch.other_reward_parts is None or batch.rewards is None:
            raise ValueError("aa_factored needs the batch's rewards and reward parts (the trainer fills them "
                             "for games with env.reward_parts)")
        own = batch.reward_parts  # [N, T, d], centred
        policy_gradient = batch.advantages[..., None] - (own.sum(-1, keepdim=True) - own)  # [N, T, d]
        past = past_advantage_sum(batch.rewards, float(self.aa_gamma))  # [N, T]: sum_{k<t} g^(t-k) c^1_k
        return policy_gradient + self.beta * past[..., None] * batch.other_reward_parts.sum(0)

    def log_probs(self, dist, actions: torch.Tensor) -> torch.Tensor:
        """Per-dimension log-densities ``[N, T, d]``."""
        if not hasattr(dist, "item_log_prob"):
            raise ValueError(f"aa_factored needs a policy over several action dimensions (squashed Gaussian), "
                             f"got {type(dist).__name__}")
        return dist.item_log_prob(actions)

    def surrogate(self, log_probs: torch.Tensor, old_log_probs: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """REINFORCE summed over dimensions: ``sum_i w_{t,i} log pi_i`` ``[N, T]``."""
        return (w * log_probs).sum(-1)
