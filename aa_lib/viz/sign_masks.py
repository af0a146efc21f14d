"""Plots of the sign-mask study (App. C.2) and its widget: P(C | state) bars, the quadrant gradient map,
self-play rewards during training, the league heatmap, and :func:`ablation_study` in one call.

The study itself is :mod:`aa_lib.exact.sign_masks` (quadrants, variants, gradients),
:mod:`aa_lib.exact.sign_mask_training` (training) and :mod:`aa_lib.evaluation.sign_mask_league`.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch

from ..evaluation.league import LeagueResult
from ..evaluation.sign_mask_league import sign_mask_league
from ..exact.memory_one import STATE_NAMES
from ..exact.sign_mask_training import AblationConfig, AblationRun, train_sign_mask_variants
from ..exact.sign_masks import PAPER_VARIANTS, QUADRANTS, STANDARD_VARIANTS, QuadrantMap

__all__ = ["plot_cooperation_bars", "plot_quadrant_map", "plot_self_play_rewards", "plot_league", "ablation_study",
           "ablation_explorer"]


def plot_cooperation_bars(run: AblationRun, ax=None, names: Optional[Sequence[str]] = None,
                          title: str = "P(cooperate | previous joint action), mean over seeds"):
    """Grouped bars of P(C | start, CC, CD, DC, DD) per variant, whiskers = std over seeds."""
    import matplotlib.pyplot as plt

    names = list(run.names if names is None else names)
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(7, 1.4 * len(names) + 3), 3.6))
    else:
        fig = ax.figure
    p = run.p_cooperate
    width = 0.8 / len(names)
    for k, name in enumerate(names):
        i = run.index(name)
        xs = [s + (k - (len(names) - 1) / 2) * width for s in range(5)]
        ax.bar(xs, p[i].mean(0).tolist(), width, yerr=p[i].std(0, unbiased=False).tolist(), capsize=2,
               label=name)
    ax.set_xticks(range(5), STATE_NAMES)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("P(C)")
    ax.set_xlabel("previous joint action (own action first)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


def plot_quadrant_map(qmap: QuadrantMap, axes=None):
    """One heatmap per reference policy: rows naive + the four quadrants, columns the 5 states."""
    import matplotlib.pyplot as plt

    n = len(qmap.names)
    if axes is None:
        fig, axes = plt.subplots(1, n, figsize=(3.3 * n + 1, 3.2), squeeze=False)
        axes = axes[0]
    fig = axes[0].figure
    rows = ["naive"] + list(QUADRANTS)
    data = torch.cat([qmap.naive[:, None], qmap.quadrants], 1)  # [P, 5 rows, 5 states]
    scale = float(data.abs().max())
    for i, ax in enumerate(axes):
        ax.imshow(data[i].numpy(), cmap="RdBu", vmin=-scale, vmax=scale)
        ax.set_xticks(range(5), STATE_NAMES)
        ax.set_yticks(range(len(rows)), rows if i == 0 else [""] * len(rows))
        for r in range(len(rows)):
            for c in range(5):
                ax.text(c, r, f"{float(data[i, r, c]):+.2f}", ha="center", va="center", fontsize=7)
        ax.set_title(f"{qmap.names[i]}\nP(C)={[round(float(x), 2) for x in qmap.p_cooperate[i]]}", fontsize=8)
    fig.suptitle("d/d logit P(C | state): blue raises cooperation, red lowers it", fontsize=10)
    fig.tight_layout()
    return fig


def plot_self_play_rewards(run: AblationRun, ax=None):
    """Exact self-play per-step reward during training, mean over seeds (band: min-max)."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.5))
    else:
        fig = ax.figure
    x = run.iterations.tolist()
    for i, name in enumerate(run.names):
        r = run.reward_history[:, i]
        ax.plot(x, r.mean(-1).tolist(), label=name)
        ax.fill_between(x, r.min(-1).values.tolist(), r.max(-1).values.tolist(), alpha=0.12)
    ax.axhline(-1.0, color="k", lw=0.6, ls=":")
    ax.axhline(-2.0, color="k", lw=0.6, ls=":")
    ax.set_xlabel("iteration")
    ax.set_ylabel("self-play reward per step")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def plot_league(league: LeagueResult, ax=None, title: str = "per-step reward of the row agent"):
    """Annotated heatmap of a league table (rows: agent in seat 1, columns: opponent)."""
    return league.heatmap(ax=ax, title=title)


def ablation_study(variants: Sequence[str] = STANDARD_VARIANTS, beta: float = 1.0, n_seeds: int = 4,
                   iterations: int = 100, scripted: Sequence[str] = ("AC", "AD", "TFT"), show: bool = True,
                   progress: bool = False, **config_overrides):
    """Train the variants, play the exact league, and (``show``) plot P(C | state) and the league.

    Returns ``(run, league)``.
    """
    run = train_sign_mask_variants(AblationConfig(variants=tuple(variants), beta=beta, n_seeds=n_seeds,
                                                  iterations=iterations, **config_overrides), progress=progress)
    league = sign_mask_league(run, scripted)
    if show:
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(15, 4.8), gridspec_kw={"width_ratios": [1.3, 1]})
        plot_cooperation_bars(run, ax=axes[0])
        plot_league(league, ax=axes[1])
        fig.tight_layout()
        plt.show()
        print(run.to_text())
    return run, league


def ablation_explorer(variants: Sequence[str] = STANDARD_VARIANTS, beta: float = 1.0, n_seeds: int = 4,
                      iterations: int = 100, **config_overrides):
    """An ipywidgets panel around :func:`ablation_study`: variants, beta, seeds, iterations and a Run button."""
    import ipywidgets as widgets

    choices = list(dict.fromkeys(list(STANDARD_VARIANTS) + list(PAPER_VARIANTS) + list(variants)))
    pick = widgets.SelectMultiple(options=choices, value=tuple(variants), rows=min(len(choices), 8),
                                  description="variants")
    beta_w = widgets.FloatSlider(value=beta, min=0.0, max=5.0, step=0.1, description="beta")
    seeds_w = widgets.IntSlider(value=n_seeds, min=1, max=16, description="seeds")
    iters_w = widgets.IntSlider(value=iterations, min=10, max=400, step=10, description="iterations")
    button = widgets.Button(description="Run", button_style="primary")
    out = widgets.Output()

    def on_click(_):
        out.clear_output(wait=True)
        with out:
            if not pick.value:
                print("choose at least one variant")
                return
            ablation_study(pick.value, beta_w.value, seeds_w.value, iters_w.value, **config_overrides)

    button.on_click(on_click)
    return widgets.VBox([widgets.HBox([pick, widgets.VBox([beta_w, seeds_w, iters_w, button])]), out])
