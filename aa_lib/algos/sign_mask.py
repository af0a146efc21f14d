"""Sign-mask ablations of Advantage Alignment (App. C.2): the AA term with some quadrants removed.

The AA term of eq. 8, ``w_t = gamma^(t+1) S_t A^2_t`` with ``S_t = sum_{k<t} lambda^(t-k) A^1_k``,
falls at every step into one of four *quadrants* by the signs of ``(S_t, A^2_t)``
(Fig. 1a; :data:`aa_lib.advantages.SIGN_MASKS` maps each name to its sign pair):

=============  ======  ======  =====================================================
quadrant       S_t     A2_t    effect on log pi1(a_t|s_t)  (sign of S_t * A2_t)
=============  ======  ======  =====================================================
cooperative    > 0     > 0     up: repeat what helped the other after a good past
empathetic     > 0     < 0     down: avoid what hurt the other after a good past
vengeful       < 0     > 0     down: avoid what helped the other after a bad past
spiteful       < 0     < 0     up: repeat what hurt the other after a bad past
=============  ======  ======  =====================================================

Terms with ``S_t = 0`` or ``A^2_t = 0`` are zero and belong to no quadrant.

**One convention: a sign mask names the quadrants it REMOVES** (App. C.2: "Vengeful (V),
masks when ..."; the paper's AdAlign-V is AA without the vengeful quadrant). It holds for
:func:`aa_lib.advantages.shaping_term`'s ``sign_mask``, for this rule's ``sign_mask``, for
:func:`aa_lib.exact.shaping.aa_estimator_expectation` and for the ``sign_mask`` of a study
variant (:class:`aa_lib.exact.sign_masks.SignMaskVariant`, whose *name* may describe what it
keeps, e.g. ``"vengeful"`` = the vengeful quadrant alone = ``sign_mask`` of the other three).

Registered as ``aa_sign_mask`` (any set of quadrants, ``sign_mask=("cooperative", "empathetic")``)
and ``aa_cooperative`` / ``aa_empathetic`` / ``aa_vengeful`` / ``aa_spiteful`` (that one quadrant removed).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple, Union

from ..advantages import SIGN_MASKS
from .advantage_alignment import AdvantageAlignment
from .base import LearnerBatch

__all__ = ["SignMaskedAdvantageAlignment"]


@dataclass
class SignMaskedAdvantageAlignment(AdvantageAlignment):
    """Advantage Alignment with the quadrants named by ``sign_mask`` removed from its AA term.

    ``sign_mask=()`` (or None) is Advantage Alignment itself; all four quadrants leave the naive
    actor-critic's weight ``A^1_t``.
    """

    name = "aa_sign_mask"
    #: Quadrants REMOVED from the AA term: None, one name or several names of
    #: :data:`aa_lib.advantages.SIGN_MASKS` (stored as a tuple in that order).
    sign_mask: Union[None, str, Tuple[str, ...]] = ()

    def __post_init__(self):
        names = () if self.sign_mask is None else (self.sign_mask,) if isinstance(self.sign_mask, str) \
            else tuple(self.sign_mask)
        unknown = [n for n in names if n not in SIGN_MASKS]
        if unknown:
            raise ValueError(f"sign_mask must name quadrants among {tuple(SIGN_MASKS)} (the ones removed), "
                             f"got {self.sign_mask!r}")
        self.sign_mask = tuple(q for q in SIGN_MASKS if q in names)

    def shaping_options(self, batch: LearnerBatch) -> dict:
        return {**super().shaping_options(batch), "sign_mask": self.sign_mask or None}
