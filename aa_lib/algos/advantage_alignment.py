"""Advantage Alignment (eq. 8 / eq. 59) and Proximal Advantage Alignment (eqs. 9-10).

The actor weight of step t is (eq. 10, Algorithm 1 "summing equation 3 and equation 8")

    A*_t = A^1_t + beta * shaping_t,    shaping_t = gamma^(t+1) (sum_{k<t} gamma^(t-k) A^1_k) A^2_t

with :func:`aa_lib.advantages.shaping_term` computing ``shaping_t`` (summed over
co-players for more than two players, eq. 66). ``normalise=True`` replaces the
discounting by ``1/(1+t)`` (eq. 59, the paper's implementation). The sign-mask
ablations of App. C.2 (the term without some of its quadrants) are :mod:`aa_lib.algos.sign_mask`.

The advantages inside the shaping term may come from their own GAE lambda
(``TrainConfig.shaping_gae_lambda``, e.g. one-step TD errors): :meth:`AdvantageAlignment.extend_estimates`
computes them from the critic's values and :meth:`AdvantageAlignment.extend_batch` hands them to the
batch, the learner's own as ``batch.shaping_advantages`` and the co-players' as ``batch.other_advantages``.

Advantage Alignment uses the REINFORCE surrogate (one update per batch);
Proximal Advantage Alignment feeds the same ``A*`` to PPO's clipped surrogate (eq. 9).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from ..advantages import gae, shaping_term
from .base import EstimateInputs, LearnerBatch, PolicyGradientAlgorithm, SeatEstimates, SeatRows, centre_per_seat

__all__ = ["AdvantageAlignment", "ProximalAdvantageAlignment"]


@dataclass
class AdvantageAlignment(PolicyGradientAlgorithm):
    """Advantage Alignment: ``w_t = A^1_t + beta * shaping_t`` in a REINFORCE surrogate.

    Fields (besides those of :class:`~aa_lib.algos.base.PolicyGradientAlgorithm`):
    """

    name = "aa"
    takes_beta = True
    #: Advantage Alignment weight beta (Table 1: 0.3, Table 2: 0.25, Table 3: 3.0, Table 4: 1.0).
    beta: float = 0.3
    #: Discount of past advantages in the shaping term ("Advantage Alignment Discount
    #: Factor", Tables 1-2: 0.9). None: the default of ``shaping_term`` (the game's gamma,
    #: or 1 with ``normalise``).
    aa_gamma: Optional[float] = 0.9
    #: Use the 1/(1+t) normalisation of eq. 59 instead of the discounting of eq. 8.
    normalise: bool = False
    #: Per-step prefactor of the shaping term (``aa_lib.advantages.TIME_WEIGHTS``); None:
    #: ``gamma^(t+1)`` of eq. 8 (or ``1/(1+t)`` with ``normalise``).
    time_weight: Optional[str] = None

    # ------------------------------------------------------------ the trainer's hooks
    def extend_estimates(self, est: SeatEstimates, inputs: EstimateInputs) -> None:
        """``est.shaping_advantages [P, B, T]``: GAE with ``inputs.shaping_gae_lambda`` (centred per
        seat like the policy gradient's), when that lambda differs from the policy gradient's."""
        if inputs.shaping_gae_lambda == inputs.gae_lambda:
            return
        shaping = gae(inputs.rewards, inputs.values, inputs.gamma, inputs.shaping_gae_lambda,
                      next_value=inputs.next_values)
        est.shaping_advantages = centre_per_seat(shaping, inputs.learner_mask) if inputs.center_advantages \
            else shaping

    def extend_batch(self, batch: LearnerBatch, est: SeatEstimates, traj, rows: SeatRows) -> None:
        """The shaping term's advantages (own and co-players') when they have their own lambda."""
        if est.shaping_advantages is not None:
            batch.shaping_advantages = rows.own(est.shaping_advantages)
            batch.other_advantages = rows.others(est.shaping_advantages)

    # ------------------------------------------------------------------ the weight
    def shaping_options(self, batch: LearnerBatch) -> dict:
        """Keyword options passed to :func:`aa_lib.advantages.shaping_term`."""
        return {"normalise": self.normalise, "past_discount": self.aa_gamma, "time_weight": self.time_weight}

    def shaping(self, batch: LearnerBatch) -> torch.Tensor:
        """The Advantage Alignment term ``[N, T]`` (before beta)."""
        own = batch.advantages if batch.shaping_advantages is None else batch.shaping_advantages
        return shaping_term(own, batch.other_advantages, batch.gamma, **self.shaping_options(batch))

    def weights(self, batch: LearnerBatch) -> torch.Tensor:
        return batch.advantages + self.beta * self.shaping(batch)


@dataclass
class ProximalAdvantageAlignment(AdvantageAlignment):
    """Proximal AA: the modified advantage ``A*`` (eq. 10) in PPO's clipped surrogate (eq. 9)."""

    name = "paa"
    clip: Optional[float] = 0.2
    n_epochs: int = 4
