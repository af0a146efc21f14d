"""Naive actor-critic: REINFORCE with a critic baseline (eq. 3).

Each learner follows its own policy gradient and ignores that the co-player
learns too; in the IPD such learners drift to mutual defection.
"""
from __future__ import annotations

from dataclasses import dataclass

from .base import PolicyGradientAlgorithm

__all__ = ["NaiveActorCritic"]


@dataclass
class NaiveActorCritic(PolicyGradientAlgorithm):
    """``L = -mean(A^1_t log pi(a_t|h_t)) - entropy_coef * H`` (eq. 3)."""

    name = "naive"
