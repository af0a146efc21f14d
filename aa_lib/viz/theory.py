"""Plots for the theory notebooks (04-06): sign cases, estimator errors, cosine distributions.

Everything plotted is computed by :mod:`aa_lib.exact` and :mod:`aa_lib.advantages`;
this module only draws. Each function takes an optional matplotlib ``ax`` and
returns it.
"""
from __future__ import annotations

from typing import Dict, Sequence

import torch

from ..advantages import SIGN_MASKS

__all__ = [
    "plot_sign_cases",
    "plot_comparison_errors",
    "plot_error_vs_gamma",
    "plot_cosine_histograms",
    "plot_profile_terms",
]


def _axes(ax, figsize=(6, 4)):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_sign_cases(ax=None, extent: float = 1.0, resolution: int = 101):
    """Fig. 1a: the sign of (agent's past advantage sum) x (other's current advantage).

    Blue: the shaping term raises the log-probability of the action taken;
    red: it lowers it. Each quadrant is labelled with the App. C.2 mask that removes it.
    """
    ax = _axes(ax, (5, 5))
    grid = torch.linspace(-extent, extent, resolution)
    past, other = torch.meshgrid(grid, grid, indexing="xy")
    ax.imshow((past * other).numpy(), origin="lower", extent=(-extent, extent, -extent, extent),
              cmap="coolwarm_r", vmin=-extent**2, vmax=extent**2)
    ax.axhline(0, color="k", lw=0.8)
    ax.axvline(0, color="k", lw=0.8)
    arrows = {1: "raise log pi(a_t|s_t)", -1: "lower log pi(a_t|s_t)"}
    for name, (own_sign, other_sign) in SIGN_MASKS.items():
        x, y = 0.5 * extent * own_sign, 0.5 * extent * other_sign
        ax.text(x, y, f"{name}\n({'+' if own_sign > 0 else '-'}, {'+' if other_sign > 0 else '-'})\n"
                      f"{arrows[own_sign * other_sign]}", ha="center", va="center", fontsize=9)
    ax.set_xlabel("agent's past advantages  sum_{k<t} gamma^(t-k) A1_k")
    ax.set_ylabel("other's current advantage  A2_t")
    ax.set_title("Sign of the Advantage Alignment term (Fig. 1a)")
    return ax


def plot_comparison_errors(rows, ax=None, floor: float = 1e-17):
    """Horizontal bars: max relative error of each :class:`~aa_lib.exact.comparisons.Comparison` (log scale).

    Green bars: the theory says "equal"; orange: it says the formulas differ.
    """
    ax = _axes(ax, (8, 0.45 * len(rows) + 1))
    errors = [max(row.relative_error.max().item(), floor) for row in rows]
    colours = ["tab:green" if row.equal_in_theory else "tab:orange" for row in rows]
    labels = [f"{row.exact_name}  vs  {row.estimator_name}" for row in rows]
    positions = range(len(rows))
    ax.barh(list(positions), errors, color=colours)
    ax.set_yticks(list(positions))
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.axvline(1e-5, color="k", ls="--", lw=0.8)
    ax.set_xlabel("max relative error (green: equal in theory, orange: differ)")
    return ax


def plot_error_vs_gamma(gammas: Sequence[float], curves: Dict[str, torch.Tensor], ax=None, floor: float = 1e-17):
    """Relative error of each estimator against the exact term, as a function of the discount."""
    ax = _axes(ax)
    for name, values in curves.items():
        ax.plot(list(gammas), values.clamp_min(floor).tolist(), marker="o", label=name)
    ax.set_yscale("log")
    ax.set_xlabel("discount gamma")
    ax.set_ylabel("mean relative error vs exact term")
    ax.legend()
    return ax


def plot_cosine_histograms(study: Dict[str, torch.Tensor], ax=None, bins: int = 40):
    """Histograms of cosine similarities (one per entry of ``study``), on [-1, 1]."""
    ax = _axes(ax, (7, 4))
    edges = torch.linspace(-1.0, 1.0, bins + 1).tolist()
    for name, values in study.items():
        ax.hist(values.clamp(-1, 1).tolist(), bins=edges, alpha=0.5, label=f"{name} (median {values.median():.2f})")
    ax.set_xlabel("cosine similarity with the exact LOLA term")
    ax.set_ylabel("number of games")
    ax.legend(fontsize=8)
    return ax


def plot_profile_terms(labels: Sequence[str], aa_norms: Sequence[float], pg_norms: Sequence[float], ax=None,
                       floor: float = 1e-17):
    """Grouped bars: size of the AA term and of the naive policy gradient at each joint profile (log scale)."""
    ax = _axes(ax, (8, 4))
    positions = torch.arange(len(labels), dtype=torch.float64)
    ax.bar((positions - 0.2).tolist(), [max(v, floor) for v in aa_norms], width=0.4, label="|AA term|")
    ax.bar((positions + 0.2).tolist(), [max(v, floor) for v in pg_norms], width=0.4, label="|policy gradient|")
    ax.set_xticks(positions.tolist())
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.legend()
    return ax
