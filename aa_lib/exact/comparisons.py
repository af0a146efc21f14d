"""Side-by-side comparisons of exact opponent-shaping terms and the paper's estimators.

The plain functions behind notebook 05 (and its widget): each returns
:class:`Comparison` rows, an exact gradient next to the exact expectation of an
estimator, with the relative error and cosine similarity between them and
whether the theory says they are equal.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Sequence

import torch

from .lola_form import feature_logits, lola_aa_expectation, lola_second_order_term, tabular_softmax_logits
from .shaping import (
    EXACT_HELD,
    EXACT_MARGINAL,
    PAPER_EQ59,
    aa_estimator_expectation,
    exact_opponent_shaping_term,
)

__all__ = [
    "Comparison",
    "random_games",
    "random_policies",
    "shaping_comparisons",
    "lola_comparisons",
    "format_comparisons",
    "compare_all",
    "printed_error_curve",
    "lola_cosine_study",
]


@dataclass
class Comparison:
    """An exact term and an estimator's exact expectation, both ``[batch, 5]``.

    Attributes:
        exact_name, estimator_name: what is compared.
        exact, estimate: the two gradients (w.r.t. the agent's memory-one logits).
        equal_in_theory: whether the derivation says they are equal.
    """

    exact_name: str
    estimator_name: str
    exact: torch.Tensor
    estimate: torch.Tensor
    equal_in_theory: bool

    @property
    def relative_error(self) -> torch.Tensor:
        """``|estimate - exact| / |exact|`` per batch entry."""
        return (self.estimate - self.exact).norm(dim=-1) / self.exact.norm(dim=-1)

    @property
    def cosine(self) -> torch.Tensor:
        """Cosine similarity per batch entry."""
        return torch.nn.functional.cosine_similarity(self.estimate, self.exact, dim=-1)


def random_games(n: int, seed: int = 0) -> torch.Tensor:
    """``n`` random 2x2 games, payoffs ``~ N(0, 1)``, ``[n, 2, 2, 2]`` (player, own, other)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, 2, 2, generator=gen, dtype=torch.float64)


def random_policies(batch: int, seed: int = 0):
    """Random memory-one logits ``(theta1, theta2)`` ``~ N(0, 1)``, ``[batch, 5]`` each."""
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, 5, generator=gen, dtype=torch.float64),
            torch.randn(batch, 5, generator=gen, dtype=torch.float64))


def shaping_comparisons(game, gamma: float, horizon: int, theta1, theta2, beta: float = 1.0) -> List[Comparison]:
    """Eqs. 6-8, 12 and 59 against the exact opponent-shaping terms (see :mod:`aa_lib.exact.shaping`)."""
    args = (theta1, theta2, game, gamma, horizon)

    def exact(**kw):
        return exact_opponent_shaping_term(*args, beta=beta, **kw)

    def estimator(**kw):
        return aa_estimator_expectation(*args, beta=beta, **kw)

    held, marginal = exact(), exact(opponent_q="marginal")
    loqa = exact(partition="loqa")
    held_name, marginal_name = "eq. 7, a_t held (eq. 41)", "eq. 7, a marginalised (eq. 4)"
    return [
        Comparison(held_name, "AA: k<t, undiscounted past, gamma^t", held, estimator(**EXACT_HELD), True),
        Comparison(held_name, "printed eq. 8", held, estimator(), gamma == 1.0),
        Comparison(held_name, "eq. 59 (1/(1+t))", held, estimator(**PAPER_EQ59), False),
        Comparison(held_name, "AA: k<=t, joint A1", held, estimator(**EXACT_MARGINAL), False),
        Comparison(marginal_name, "AA: k<=t, A1 averaged over a", marginal,
                   estimator(marginal_own=True, **EXACT_MARGINAL), True),
        Comparison(marginal_name, "eq. 6, full softmax (eq. 4)", marginal,
                   exact(opponent_q="marginal", partition="softmax"), True),
        Comparison(held_name, "eq. 6, full softmax (eq. 41)", held, exact(partition="softmax"), False),
        Comparison("LOQA, eq. 53", "AA x (1 - pi), k<t, undiscounted", loqa,
                   estimator(loqa_beta=beta, **EXACT_HELD), True),
        Comparison("LOQA, eq. 53", "printed eq. 12", loqa, estimator(loqa_beta=beta), gamma == 1.0),
    ]


def lola_comparisons(game, gamma: float, horizon: int, theta1, theta2) -> List[Comparison]:
    """Theorem 1: the exact LOLA terms against their exact AA form and the printed eq. 11."""
    psi2 = torch.stack([theta2 / 2, -theta2 / 2], dim=-1)  # tabular softmax, same policy
    rows = []
    printed = lola_aa_expectation(theta1, theta2, game, gamma, horizon, printed=True)
    for form, label in (("eq29", "eq. 29 term"), ("original", "original LOLA term")):
        softmax = lola_second_order_term(theta1, psi2, game, gamma, horizon, form=form,
                                         opponent_logits=tabular_softmax_logits)
        sigmoid = lola_second_order_term(theta1, theta2, game, gamma, horizon, form=form)
        aa_form = lola_aa_expectation(theta1, theta2, game, gamma, horizon, form=form)
        rows += [
            Comparison(f"{label}, tabular softmax", "exact AA form", softmax, aa_form, True),
            Comparison(f"{label}, one logit per state", "exact AA form / 2", sigmoid, aa_form / 2, True),
            Comparison(f"{label}, tabular softmax", "printed eq. 11", softmax, printed, False),
        ]
    return rows


def compare_all(game, horizon: int, gamma: float, seed: int = 0, beta: float = 1.0,
                batch: int = 4) -> List[Comparison]:
    """Every comparison of notebook 05 for one game, horizon, discount and policy seed.

    ``batch`` random memory-one policy pairs (logits ~ N(0, 1), seeded) are compared at once.
    """
    theta1, theta2 = random_policies(batch, seed)
    return (shaping_comparisons(game, gamma, horizon, theta1, theta2, beta)
            + lola_comparisons(game, gamma, horizon, theta1, theta2))


def format_comparisons(rows: Sequence[Comparison], digits: int = 3) -> str:
    """A plain-text table: exact term, estimator, max relative error, min cosine, theory."""
    lines = [f"{'exact term':40s} {'estimator':36s} {'max rel. err':>12s} {'min cos':>8s}  theory"]
    for row in rows:
        theory = "equal" if row.equal_in_theory else "differ"
        lines.append(f"{row.exact_name:40s} {row.estimator_name:36s} "
                     f"{row.relative_error.max().item():12.{digits}e} {row.cosine.min().item():8.{digits}f}  {theory}")
    return "\n".join(lines)


def printed_error_curve(game, horizon: int, gammas: Sequence[float], theta1, theta2) -> Dict[str, torch.Tensor]:
    """Mean relative error of eq. 8 and eq. 59 against the exact held term, per discount."""
    curves = {"eq. 8": [], "eq. 59": [], "exact estimator": []}
    for gamma in gammas:
        held = exact_opponent_shaping_term(theta1, theta2, game, gamma, horizon)
        for name, options in (("eq. 8", {}), ("eq. 59", PAPER_EQ59), ("exact estimator", EXACT_HELD)):
            estimate = aa_estimator_expectation(theta1, theta2, game, gamma, horizon, **options)
            curves[name].append(((estimate - held).norm(dim=-1) / held.norm(dim=-1)).mean())
    return {name: torch.stack(values) for name, values in curves.items()}


def lola_cosine_study(n_games: int, horizon: int, gamma: float, seed: int = 0,
                      features=None) -> Dict[str, torch.Tensor]:
    """Cosine similarities to the exact LOLA terms over ``n_games`` random games (one policy pair each).

    Returns ``[n_games]`` tensors:
      - ``"exact AA form (eq29)"``, ``"exact AA form (original)"``: the derived AA form (tabular);
      - ``"printed eq. 11 vs eq29"``, ``"printed eq. 11 vs original"``;
      - ``"tabular AA form vs shared features"``: the exact eq. 29 term of an opponent whose
        logits share parameters across states (``features`` ``[5, m]``, default: bias +
        "the co-player cooperated last"), against the tabular AA form.
    """
    if features is None:
        features = torch.tensor([[1.0, 1.0], [1.0, 1.0], [1.0, 0.0], [1.0, 1.0], [1.0, 0.0]], dtype=torch.float64)
    games = random_games(n_games, seed)
    theta1, theta2 = random_policies(n_games, seed + 1)
    psi_features = torch.randn(n_games, features.shape[1], generator=torch.Generator().manual_seed(seed + 2),
                               dtype=torch.float64)
    cos = lambda a, b: torch.nn.functional.cosine_similarity(a, b, dim=-1)  # noqa: E731
    out = {key: [] for key in ("exact AA form (eq29)", "exact AA form (original)", "printed eq. 11 vs eq29",
                               "printed eq. 11 vs original", "tabular AA form vs shared features")}
    for g in range(n_games):
        th1, th2 = theta1[g:g + 1], theta2[g:g + 1]
        psi2 = torch.stack([th2 / 2, -th2 / 2], dim=-1)
        printed = lola_aa_expectation(th1, th2, games[g], gamma, horizon, printed=True)
        for form in ("eq29", "original"):
            exact = lola_second_order_term(th1, psi2, games[g], gamma, horizon, form=form,
                                           opponent_logits=tabular_softmax_logits)
            out[f"exact AA form ({form})"].append(cos(lola_aa_expectation(th1, th2, games[g], gamma, horizon,
                                                                           form=form), exact))
            out[f"printed eq. 11 vs {form}"].append(cos(printed, exact))
        shared_policy = psi_features[g:g + 1] @ features.T
        shared = lola_second_order_term(th1, psi_features[g:g + 1], games[g], gamma, horizon,
                                        opponent_logits=feature_logits(features))
        out["tabular AA form vs shared features"].append(
            cos(lola_aa_expectation(th1, shared_policy, games[g], gamma, horizon), shared))
    return {key: torch.cat(values) for key, values in out.items()}
