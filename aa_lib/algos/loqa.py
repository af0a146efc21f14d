"""LOQA as an Advantage Alignment estimator (Theorem 2, eqs. 12 and 53).

LOQA models the co-player as a softmax over its Q-values, differentiating only
the Q-value of the action actually taken (eq. 53):

    pi~^2(b_t|s_t) = exp Q^2(s_t, b_t) / (exp Q^2(s_t, b_t) + sum_{b != b_t} exp Q^2(s_t, b)).

Theorem 2 shows its opponent-shaping term is Advantage Alignment's with each
past own advantage weighted by ``1 - pi~^2(b_k|s_k)`` (eq. 12). The rule's hooks
compute ``pi~^2`` from the co-player's Q critic (``needs_q_values`` gives the critics a
Q head), with the taken action's Q-value replaced by its sampled return estimate (the
trajectory's estimate, which is what LOQA differentiates by REINFORCE):
:meth:`LOQA.extend_estimates` keeps that estimate, :meth:`LOQA.extend_batch` turns it into
``batch.other_q_probs``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .advantage_alignment import AdvantageAlignment
from .base import EstimateInputs, LearnerBatch, SeatEstimates, SeatRows

__all__ = ["LOQA", "loqa_opponent_probs"]


def loqa_opponent_probs(q_values: torch.Tensor, actions: torch.Tensor, taken_value: torch.Tensor,
                        temperature: float = 1.0) -> torch.Tensor:
    """``pi~(b_t | s_t)`` of eq. 53, ``[...]``.

    Args:
        q_values: ``[..., n_actions]`` the co-player's Q-values of each of its actions.
        actions: ``[...]`` long, the action it took.
        taken_value: ``[...]`` estimate of ``Q(s_t, b_t)`` from the trajectory.
        temperature: softmax temperature (``1/beta`` of Assumption 2).
    """
    q = q_values.scatter(-1, actions.long().unsqueeze(-1), taken_value.unsqueeze(-1))
    return torch.softmax(q / temperature, dim=-1).gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)


@dataclass
class LOQA(AdvantageAlignment):
    """Advantage Alignment with LOQA's ``(1 - pi~^2)`` factor on past advantages (eq. 12)."""

    name = "loqa"
    #: Softmax temperature of the opponent model (eq. 4 has 1).
    temperature: float = 1.0
    needs_q_values: bool = field(default=True, init=False)

    def extend_estimates(self, est: SeatEstimates, inputs: EstimateInputs) -> None:
        """Also ``est.taken_q [P, B, T]``, the estimate of ``Q(s_t, b_t)``: the *uncentred* GAE
        advantage plus the value (centring would shift it by the batch mean)."""
        super().extend_estimates(est, inputs)
        est.taken_q = inputs.raw_advantages + inputs.values

    def extend_batch(self, batch: LearnerBatch, est: SeatEstimates, traj, rows: SeatRows) -> None:
        """Also ``batch.other_q_probs [n_others, N, T]``: each co-player's ``pi~(b_t | s_t)`` (eq. 53)."""
        super().extend_batch(batch, est, traj, rows)
        probs = loqa_opponent_probs(est.q, traj.actions, est.taken_q, self.temperature)  # [P, B, T]
        batch.other_q_probs = rows.others(probs)

    def shaping_options(self, batch: LearnerBatch) -> dict:
        if batch.other_q_probs is None:
            raise ValueError("LOQA needs batch.other_q_probs (the co-player's softmax-Q probabilities)")
        return {**super().shaping_options(batch), "loqa_other_probs": batch.other_q_probs}
