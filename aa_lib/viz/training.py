"""Plots of training runs and evaluation results."""
from __future__ import annotations

from typing import Dict, List, Sequence

__all__ = ["plot_training_curves", "plot_cooperation_probe"]


def plot_training_curves(history: List[Dict[str, float]], keys: Sequence[str] = ("reward",), ax=None):
    """One line per metric in ``keys`` against the iteration; returns the figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.5))
    else:
        fig = ax.figure
    steps = [m.get("iteration", i) for i, m in enumerate(history)]
    for key in keys:
        values = [m.get(key) for m in history]
        if any(v is not None for v in values):
            ax.plot(steps, [float("nan") if v is None else v for v in values], label=key)
    ax.set_xlabel("iteration")
    ax.legend(loc="best")
    ax.grid(alpha=0.3)
    return fig


def plot_cooperation_probe(probabilities: Dict[str, float], errors: Dict[str, float] | None = None, ax=None,
                           title: str = "P(cooperate | previous joint action)"):
    """Bar chart of P(C | state) over (start, CC, CD, DC, DD) as in Fig. 1b; returns the figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 3))
    else:
        fig = ax.figure
    names = list(probabilities)
    values = [probabilities[n] for n in names]
    yerr = [errors[n] for n in names] if errors else None
    ax.bar(names, values, yerr=yerr, capsize=4, color="#4477aa")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("P(C)")
    ax.set_title(title)
    return fig
