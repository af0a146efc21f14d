"""Plots and a small dashboard for exact learning runs (:class:`aa_lib.exact.LearningHistory`).

- :func:`plot_rewards` -- per-step reward over learning steps: every seed faint, the mean bold.
- :func:`plot_cooperation` -- P(C | state) over learning steps, one panel per memory-one state.
- :func:`plot_final_policies` -- final P(C | state) of every seed as a strip plot.
- :func:`learning_explorer` -- ipywidgets controls around :func:`aa_lib.exact.run_exact_learning`.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from ..exact.learning import LearningHistory, run_exact_learning
from ..exact.memory_one import STATE_NAMES

__all__ = ["plot_rewards", "plot_cooperation", "plot_final_policies", "plot_history", "learning_explorer"]

#: Reference levels of the IPD of REFERENCES.md (per-step rewards).
IPD_LEVELS = {"mutual cooperation": -1.0, "mutual defection": -2.0}


def _axes(ax, figsize=(6, 3.5)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_rewards(history: LearningHistory, ax=None, levels=IPD_LEVELS, label=None, color="C0"):
    """Mean per-step reward of the two players over learning steps; seeds faint, mean bold."""
    ax = _axes(ax)
    reward = history.mean_reward.cpu()  # [K+1, N]
    steps = torch.arange(reward.shape[0])
    ax.plot(steps, reward, color=color, alpha=0.08, lw=0.8)
    ax.plot(steps, reward.mean(1), color=color, lw=2.5, label=label or f"{history.rules[0]} (mean)")
    for name, level in (levels or {}).items():
        ax.axhline(level, color="grey", ls="--", lw=0.8)
        ax.annotate(name, (steps[-1], level), ha="right", va="bottom", fontsize=8, color="grey")
    ax.set_xlabel("learning step")
    ax.set_ylabel("per-step reward (1 - gamma) V")
    ax.legend(loc="lower left", fontsize=8)
    return ax


def plot_cooperation(history: LearningHistory, player: int = 1, axes=None, color="C0"):
    """P(C | state) of one player over learning steps: 5 panels (start, CC, CD, DC, DD)."""
    if player not in (1, 2):
        raise ValueError(f"player must be 1 or 2, got {player!r}")
    p = (history.p_cooperate1 if player == 1 else history.p_cooperate2).cpu()  # [K+1, N, 5]
    if axes is None:
        _, axes = plt.subplots(1, 5, figsize=(13, 2.6), sharey=True)
    steps = torch.arange(p.shape[0])
    for s, ax in enumerate(axes):
        ax.plot(steps, p[:, :, s], color=color, alpha=0.1, lw=0.8)
        ax.plot(steps, p[:, :, s].mean(1), color=color, lw=2.2)
        ax.set_title(f"P(C | {STATE_NAMES[s]})")
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel("step")
    axes[0].set_ylabel(f"player {player}")
    return axes


def plot_final_policies(histories: dict, ax=None):
    """Final P(C | state) of every seed and player, one colour per run (a strip plot).

    ``histories`` maps a label to a :class:`LearningHistory`.
    """
    ax = _axes(ax, figsize=(7, 3.5))
    n = len(histories)
    width = 0.8 / max(n, 1)
    for i, (label, h) in enumerate(histories.items()):
        final = torch.cat([h.p_cooperate1[-1], h.p_cooperate2[-1]]).cpu()  # [2N, 5]
        for s in range(5):
            x = s - 0.4 + width * (i + 0.5)
            jitter = (torch.rand(final.shape[0]) - 0.5) * width * 0.6
            ax.scatter(x + jitter, final[:, s], s=8, alpha=0.5, color=f"C{i}", label=label if s == 0 else None)
            ax.plot([x - width / 2.5, x + width / 2.5], [final[:, s].mean()] * 2, color=f"C{i}", lw=2.5)
    ax.set_xticks(range(5), [f"P(C|{s})" for s in STATE_NAMES])
    ax.set_ylim(-0.05, 1.05)
    ax.set_ylabel("final probability")
    ax.legend(fontsize=8, loc="upper right")
    return ax


def plot_history(history: LearningHistory, title: str = ""):
    """Rewards and player 1's P(C | state) trajectories of one run, in one figure."""
    fig = plt.figure(figsize=(13, 6))
    grid = fig.add_gridspec(2, 5, height_ratios=[1.3, 1])
    plot_rewards(history, ax=fig.add_subplot(grid[0, :]))
    plot_cooperation(history, axes=[fig.add_subplot(grid[1, s]) for s in range(5)])
    fig.suptitle(title or f"{history.rules[0]} vs {history.rules[1]}, gamma={history.gamma}, lr={history.lr}")
    fig.tight_layout()
    return fig


def learning_explorer(n_seeds: int = 30, n_steps: int = 200):
    """Controls for rule, step size, opponent step (eta), discount and steps, and a Run button.

    Each click calls :func:`aa_lib.exact.run_exact_learning` and draws
    :func:`plot_history`; the notebook calls the same function directly once.
    """
    import ipywidgets as w
    from IPython.display import display

    rule = w.Dropdown(options=["naive", "lola_shaping", "lola_lookahead"], value="lola_shaping", description="rule")
    lr = w.FloatLogSlider(value=1.0, base=10, min=-1, max=1.5, description="step size")
    eta = w.FloatLogSlider(value=25.0, base=10, min=-1, max=2, description="eta (LOLA)")
    gamma = w.FloatSlider(value=0.96, min=0.5, max=0.99, step=0.01, description="gamma")
    steps = w.IntSlider(value=n_steps, min=10, max=1000, step=10, description="steps")
    run = w.Button(description="Run", button_style="primary")
    out = w.Output()

    def on_run(_=None):
        with out:
            out.clear_output(wait=True)
            h = run_exact_learning(rule.value, n_seeds=n_seeds, n_steps=steps.value, gamma=gamma.value,
                                   lr=lr.value, lookahead_lr=eta.value)
            print(f"final mean reward {h.final_mean_reward():.3f}, TFT-like {100 * h.tft_fraction():.0f}%")
            plot_history(h)
            plt.show()

    run.on_click(on_run)
    box = w.VBox([w.HBox([rule, lr, eta]), w.HBox([gamma, steps, run]), out])
    display(box)
    return box
