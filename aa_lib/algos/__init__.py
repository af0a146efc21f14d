"""Learning rules, one file each; every one is a loss on a batch of trajectories.

Each rule derives from :class:`~aa_lib.algos.base.LearningRule` and owns what it needs: the
trainer calls its hooks (``validate``, ``extend_estimates``, ``extend_batch``, ``update_actor``)
and never asks which rule it runs. A new rule is one file here and one line of :data:`ALGORITHMS`.
``make_algorithm(name, **options)`` builds one by name; ``rule_takes_beta(name)`` says whether it
has an Advantage Alignment weight ``beta``:

=================  ==========================================================
``naive``          naive actor-critic (REINFORCE with a critic baseline, eq. 3)
``ppo``            PPO (clipped surrogate)
``ppo_sr``         PPO on the sum of all players' rewards (prosocial baseline)
``aa``             Advantage Alignment (eq. 8; ``normalise=True`` gives eq. 59)
``paa``            Proximal Advantage Alignment (eqs. 9-10)
``aa_factored``    Advantage Alignment with per-item credit (Negotiation; ``algos.factored``)
``aa_cooperative`` / ``aa_empathetic`` / ``aa_vengeful`` / ``aa_spiteful``
                   sign-mask ablations (App. C.2): AA without that quadrant
``aa_sign_mask``   AA without any set of quadrants (``sign_mask=(...)``, ``algos.sign_mask``)
``loqa``           LOQA as an AA estimator (Theorem 2, eq. 53)
``lola_dice``      LOLA with the DiCE estimator and a look-ahead step
=================  ==========================================================
"""
from __future__ import annotations

from functools import partial

from ..advantages import SIGN_MASKS as _QUADRANT_SIGNS
from .advantage_alignment import AdvantageAlignment, ProximalAdvantageAlignment
from .base import (EstimateInputs, LearnerBatch, LearningRule, PolicyGradientAlgorithm, SeatEstimates, SeatRows,
                   centre_per_seat, time_discounts)
from .factored import FactoredAdvantageAlignment
from .lola_dice import LolaDice, dice_objective, magic_box
from .loqa import LOQA, loqa_opponent_probs
from .naive import NaiveActorCritic
from .ppo import PPO, PPOSummedRewards
from .sign_mask import SignMaskedAdvantageAlignment

__all__ = [
    "ALGORITHMS", "make_algorithm", "rule_class", "rule_takes_beta", "LearningRule", "LearnerBatch",
    "SeatEstimates", "EstimateInputs", "SeatRows", "centre_per_seat", "PolicyGradientAlgorithm", "NaiveActorCritic", "PPO",
    "PPOSummedRewards", "AdvantageAlignment", "ProximalAdvantageAlignment", "FactoredAdvantageAlignment",
    "LOQA", "LolaDice", "SignMaskedAdvantageAlignment",
    "dice_objective", "magic_box", "loqa_opponent_probs", "time_discounts",
]

ALGORITHMS = {
    "naive": NaiveActorCritic,
    "ppo": PPO,
    "ppo_sr": PPOSummedRewards,
    "aa": AdvantageAlignment,
    "paa": ProximalAdvantageAlignment,
    "aa_factored": FactoredAdvantageAlignment,
    "loqa": LOQA,
    "lola_dice": LolaDice,
    "aa_sign_mask": SignMaskedAdvantageAlignment,
}
ALGORITHMS.update({f"aa_{quadrant}": partial(SignMaskedAdvantageAlignment, sign_mask=quadrant)
                   for quadrant in _QUADRANT_SIGNS})


def _check_name(name: str) -> None:
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r}; choose one of {sorted(ALGORITHMS)}")


def rule_class(name: str) -> type:
    """The :class:`~aa_lib.algos.base.LearningRule` subclass registered as ``name``."""
    _check_name(name)
    entry = ALGORITHMS[name]
    return entry.func if isinstance(entry, partial) else entry


def rule_takes_beta(name: str) -> bool:
    """Whether the rule ``name`` has an Advantage Alignment weight ``beta`` (its class's ``takes_beta``)."""
    return bool(rule_class(name).takes_beta)


def make_algorithm(name: str, **options):
    """Build the learning rule called ``name`` (see the module table) with ``options``."""
    _check_name(name)
    try:
        return ALGORITHMS[name](**options)
    except TypeError as err:
        raise TypeError(f"bad options for algorithm {name!r}: {err}") from None
